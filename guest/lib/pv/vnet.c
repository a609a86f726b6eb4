/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-net driver with mergeable receive buffers. */
#include "virtio.h"

static void post_rx(struct vnet *n, uint8_t *buf)
{
	struct vbuf b = {buf, VNET_RXBUF_SIZE, true};

	vq_add(&n->rx, &b, 1, buf);
}

int vnet_open(struct vnet *n, uint32_t ip)
{
	int rc = vdev_find(VIRTIO_ID_NET, 0, &n->dev);

	if (!rc)
		rc = vdev_begin(&n->dev, (1ull << VIRTIO_F_EVENT_IDX) | (1ull << VIRTIO_NET_F_MAC) |
						 (1ull << VIRTIO_NET_F_MRG_RXBUF) |
						 (1ull << VIRTIO_NET_F_STATUS));
	if (!rc)
		rc = vq_setup(&n->dev, &n->rx, 0, VNET_RXBUFS);
	if (!rc)
		rc = vq_setup(&n->dev, &n->tx, 1, VNET_TXBUFS);
	n->rxbufs = memalign(4096, VNET_RXBUFS * VNET_RXBUF_SIZE);
	if (rc || !n->rxbufs)
		return rc ? rc : CAP_ENOSPC;
	for (int i = 0; i < 6; i++)
		n->mac[i] = *(volatile uint8_t *)(n->dev.base + VIRTIO_MMIO_CONFIG + i);
	n->ip = ip;
	n->tx_next = 0;
	vdev_ready(&n->dev);
	for (unsigned i = 0; i < VNET_RXBUFS; i++)
		post_rx(n, n->rxbufs[i]);
	vq_kick(&n->rx);
	return 0;
}

int vnet_send(struct vnet *n, const void *frame, uint32_t len)
{
	uint8_t *b;
	struct vbuf v;

	if (len + sizeof(struct virtio_net_hdr) > VNET_RXBUF_SIZE)
		return CAP_EINVAL;
	while (vq_poll(&n->tx, NULL)) /* reclaim what the device has sent */
		;
	if (n->tx.num_free == 0)
		vq_wait(&n->tx, NULL, 0);
	b = n->txbuf[n->tx_next++ % VNET_TXBUFS];
	memset(b, 0, sizeof(struct virtio_net_hdr));
	memcpy(b + sizeof(struct virtio_net_hdr), frame, len);
	v = (struct vbuf){b, (uint32_t)(len + sizeof(struct virtio_net_hdr)), false};
	if (vq_add(&n->tx, &v, 1, b) < 0)
		return CAP_ENOSPC;
	vq_kick(&n->tx);
	return 0;
}

uint32_t vnet_recv(struct vnet *n, void *out, uint32_t cap, uint64_t deadline_ns)
{
	const uint32_t hdr = sizeof(struct virtio_net_hdr);
	uint32_t len = 0, total = 0, nbufs;
	uint8_t *b = vq_wait(&n->rx, &len, deadline_ns);

	if (!b)
		return 0;
	nbufs = ((struct virtio_net_hdr *)b)->num_buffers;
	for (uint32_t i = 0;; i++) {
		uint32_t skip = i == 0 ? hdr : 0, take = len > skip ? len - skip : 0;

		if (total + take > cap)
			take = cap - total;
		memcpy((uint8_t *)out + total, b + skip, take);
		total += take;
		post_rx(n, b);
		if (i + 1 >= nbufs)
			break;
		b = vq_wait(&n->rx, &len, 0);
		if (!b)
			break;
	}
	vq_kick(&n->rx);
	return total;
}
