/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net driver with mergeable receive buffers and, when the device offers them,
 * checksum and segmentation offloads. Transmit completions are reaped by polling, never by
 * interrupt (the device's event channel is shared with receive: a transmit interrupt would
 * only wake a receiver for nothing), and frames may be queued in a batch with one kick.
 */
#include "virtio.h"

static void post_rx(struct vnet *n, uint8_t *buf)
{
	struct vbuf b = {buf, VNET_RXBUF_SIZE, true};

	vq_add(&n->rx, &b, 1, buf);
}

/* Pair `pair`'s queues on dev (negotiated already), its buffers, its MAC and address. */
static int setup_pair(struct vnet *n, struct vdev *dev, unsigned pair, uint32_t ip)
{
	int rc = vq_setup(dev, &n->rx, 2 * pair, VNET_RXBUFS);

	if (!rc)
		rc = vq_setup(dev, &n->tx, 2 * pair + 1, VNET_TXBUFS);
	n->rxbufs = memalign(4096, VNET_RXBUFS * VNET_RXBUF_SIZE);
	if (rc || !n->rxbufs)
		return rc ? rc : CAP_ENOSPC;
	n->tx.no_irq = true;
	if (n->tx.event_idx) /* an event index the device never reaches (vq_wait moves it) */
		*virtq_used_event(n->tx.avail, n->tx.size) = 0xffff;
	else
		n->tx.avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	for (int i = 0; i < 6; i++)
		n->mac[i] = *(volatile uint8_t *)(dev->base + VIRTIO_MMIO_CONFIG + i);
	n->ip = ip;
	n->tx_next = 0;
	return 0;
}

static void post_all(struct vnet *n)
{
	for (unsigned i = 0; i < VNET_RXBUFS; i++)
		post_rx(n, n->rxbufs[i]);
	vq_kick(&n->rx);
}

#define VNET_BASE_FEATURES                                                                 \
	((1ull << VIRTIO_F_EVENT_IDX) | (1ull << VIRTIO_NET_F_MAC) |                        \
	 (1ull << VIRTIO_NET_F_MRG_RXBUF) | (1ull << VIRTIO_NET_F_STATUS))

int vnet_open_ex(struct vnet *n, uint32_t ip, uint64_t offloads)
{
	int rc = vdev_find(VIRTIO_ID_NET, 0, &n->dev);

	if (!rc)
		rc = vdev_begin(&n->dev, VNET_BASE_FEATURES | offloads);
	if (!rc)
		rc = setup_pair(n, &n->dev, 0, ip);
	if (rc)
		return rc;
	vdev_ready(&n->dev);
	post_all(n);
	return 0;
}

int vnet_open_pairs(struct vnet *n, unsigned pairs, uint32_t ip, uint64_t offloads)
{
	const uint64_t mq = (1ull << VIRTIO_NET_F_CTRL_VQ) | (1ull << VIRTIO_NET_F_MQ);
	static struct vq ctrl;
	static struct {
		struct virtio_net_ctrl_hdr h;
		uint16_t pairs;
		volatile uint8_t ack;
	} cmd;
	struct vbuf b[3];
	uint16_t max;
	int rc = vdev_find(VIRTIO_ID_NET, 0, &n[0].dev);

	if (!rc)
		rc = vdev_begin(&n[0].dev, VNET_BASE_FEATURES | offloads | mq);
	if (rc)
		return rc;
	max = *(volatile uint16_t *)(n[0].dev.base + VIRTIO_MMIO_CONFIG + 8);
	if ((n[0].dev.features & mq) != mq || pairs < 1 || pairs > max)
		return CAP_EINVAL;
	for (unsigned i = 0; i < pairs && !rc; i++) {
		n[i].dev = n[0].dev;
		rc = setup_pair(&n[i], &n[0].dev, i, ip);
	}
	if (!rc)
		rc = vq_setup(&n[0].dev, &ctrl, 2u * max, 4); /* after every pair the device has */
	if (rc)
		return rc;
	vdev_ready(&n[0].dev);
	for (unsigned i = 0; i < pairs; i++)
		post_all(&n[i]);
	cmd.h = (struct virtio_net_ctrl_hdr){VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET};
	cmd.pairs = (uint16_t)pairs;
	cmd.ack = 0xff;
	b[0] = (struct vbuf){&cmd.h, sizeof(cmd.h), false};
	b[1] = (struct vbuf){&cmd.pairs, sizeof(cmd.pairs), false};
	b[2] = (struct vbuf){(const void *)&cmd.ack, 1, true};
	if (vq_add(&ctrl, b, 3, &cmd) < 0)
		return CAP_ENOSPC;
	vq_kick(&ctrl);
	if (!vq_wait(&ctrl, NULL, time_ns() + 5000000000ull))
		return CAP_EBUSY;
	return cmd.ack == VIRTIO_NET_OK ? 0 : CAP_EINVAL;
}

int vnet_open(struct vnet *n, uint32_t ip)
{
	return vnet_open_ex(n, ip, VNET_OFFLOADS);
}

bool vnet_has(const struct vnet *n, unsigned feature)
{
	return n->dev.features & (1ull << feature);
}

unsigned vnet_tx_room(struct vnet *n)
{
	while (vq_poll(&n->tx, NULL)) /* reclaim what the device has sent */
		;
	return n->tx.num_free / 2u; /* a frame takes two descriptors at most */
}

int vnet_queue(struct vnet *n, const struct virtio_net_hdr *h, const void *hdrs, uint32_t hlen,
	       const void *payload, uint32_t plen)
{
	const uint32_t hsz = sizeof(struct virtio_net_hdr);
	struct vbuf v[2];
	uint8_t *b;

	if (hlen + hsz > VNET_RXBUF_SIZE || hlen + plen > VNET_FRAME_MAX)
		return CAP_EINVAL;
	if (vnet_tx_room(n) == 0) {
		vnet_flush(n);
		vq_wait(&n->tx, NULL, 0);
	}
	b = n->txbuf[n->tx_next++ % VNET_TXBUFS];
	memcpy(b, h, hsz);
	memcpy(b + hsz, hdrs, hlen);
	v[0] = (struct vbuf){b, hsz + hlen, false};
	v[1] = (struct vbuf){payload, plen, false};
	if (vq_add(&n->tx, v, plen ? 2 : 1, b) < 0)
		return CAP_ENOSPC;
	n->tx_pending = true;
	return 0;
}

void vnet_flush(struct vnet *n)
{
	if (n->tx_pending)
		vq_kick(&n->tx);
	n->tx_pending = false;
}

int vnet_send(struct vnet *n, const void *frame, uint32_t len)
{
	const struct virtio_net_hdr none = {0};
	int rc = vnet_queue(n, &none, frame, len, NULL, 0);

	vnet_flush(n);
	return rc;
}

/* Gather a frame whose first buffer is b (len bytes written) into out. */
static uint32_t gather(struct vnet *n, uint8_t *b, uint32_t len, uint8_t *out, uint32_t cap)
{
	const uint32_t hdr = sizeof(struct virtio_net_hdr);
	uint32_t total = 0, nbufs;

	memcpy(&n->rx_hdr, b, hdr);
	nbufs = n->rx_hdr.num_buffers;
	for (uint32_t i = 0;; i++) {
		uint32_t skip = i == 0 ? hdr : 0, take = len > skip ? len - skip : 0;

		if (take > cap - total)
			take = cap - total;
		memcpy(out + total, b + skip, take);
		total += take;
		post_rx(n, b);
		if (i + 1 >= nbufs)
			break;
		b = vq_wait(&n->rx, &len, 0); /* the device publishes all of a frame at once */
		if (!b)
			break;
	}
	if (total > n->rx_max_frame)
		n->rx_max_frame = total;
	if (nbufs > n->rx_max_bufs)
		n->rx_max_bufs = nbufs;
	/* Tell the device of the buffers given back (if it ran short and asked to be told)
	 * once the frames it finished are all taken: one kick for a burst, not one each. */
	if (__atomic_load_n(&n->rx.used->idx, __ATOMIC_ACQUIRE) == n->rx.last_used)
		vq_kick(&n->rx);
	return total;
}

uint32_t vnet_recv(struct vnet *n, void *out, uint32_t cap, uint64_t deadline_ns)
{
	uint32_t len = 0;
	uint8_t *b = vq_wait(&n->rx, &len, deadline_ns);

	return b ? gather(n, b, len, out, cap) : 0;
}

uint32_t vnet_try_recv(struct vnet *n, void *out, uint32_t cap)
{
	uint32_t len = 0;
	uint8_t *b = vq_poll(&n->rx, &len);

	return b ? gather(n, b, len, out, cap) : 0;
}
