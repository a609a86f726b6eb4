/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net's queue pairs (VIRTIO_NET_F_MQ) and control queue. The TAP has a queue per
 * pair (IFF_MULTI_QUEUE), each with its receive pump; the kernel spreads flows over them.
 * The driver uses pair 0 alone until it asks for more (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET):
 * until then, or for pairs past what it asked, a TAP queue's packets go to receive queue 0,
 * so nothing waits for a queue no driver reads. The number in use is saved with the device.
 */
#include <errno.h>
#include <string.h>

#include "net.h"

void net_set_pairs(struct virtio_dev *d, unsigned active)
{
	struct net_backend *n = d->priv;

	n->active = active >= 1 && active <= n->pairs ? active : 1;
	for (unsigned i = 0; i < n->pairs; i++)
		n->q[i].rx.queue = NET_RXQ(i < n->active ? i : 0);
}

/* One control command: its ack (VIRTIO_NET_OK or ERR). */
static uint8_t command(struct virtio_dev *d, const struct vq_chain *c)
{
	struct net_backend *n = d->priv;
	struct virtio_net_ctrl_hdr h;
	uint16_t pairs;

	if (vq_copy_from(c, 0, &h, sizeof(h)) != sizeof(h))
		return VIRTIO_NET_ERR;
	if (h.class != VIRTIO_NET_CTRL_MQ || h.cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET ||
	    c->out_bytes != sizeof(h) + sizeof(pairs) ||
	    vq_copy_from(c, sizeof(h), &pairs, sizeof(pairs)) != sizeof(pairs) ||
	    pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || pairs > n->pairs ||
	    !(d->driver_features & (1ull << VIRTIO_NET_F_MQ)))
		return VIRTIO_NET_ERR; /* the only command this device knows */
	net_set_pairs(d, pairs);
	/* Packets the pumps of the other pairs hold back wait for their queues' kicks. */
	for (unsigned i = 0; i < n->pairs; i++)
		if (n->q[i].rx.running)
			rx_pump_retry(&n->q[i].rx);
	return VIRTIO_NET_OK;
}

int64_t net_ctrl(struct virtio_dev *d, unsigned q, const struct vq_chain *c)
{
	uint8_t ack;

	(void)q;
	if (c->in_bytes < 1 || c->out_bytes < sizeof(struct virtio_net_ctrl_hdr))
		return -EINVAL; /* no room for the ack: malformed */
	ack = command(d, c);
	return (int64_t)vq_copy_to(c, 0, &ack, 1);
}

size_t net_save(struct virtio_dev *d, uint8_t *buf, size_t cap)
{
	const struct net_backend *n = d->priv;
	uint32_t st[2] = {n->pairs, n->active};

	if (cap < sizeof(st))
		return 0;
	memcpy(buf, st, sizeof(st));
	return sizeof(st);
}

int net_restore(struct virtio_dev *d, const uint8_t *buf, size_t len, const char **why)
{
	const struct net_backend *n = d->priv;
	uint32_t st[2] = {1, 1};

	if (len && len != sizeof(st)) {
		*why = "the network device's state has the wrong size";
		return -EINVAL;
	}
	if (len)
		memcpy(st, buf, sizeof(st));
	if (st[0] != n->pairs || st[1] < 1 || st[1] > n->pairs) {
		*why = "the state has another number of queue pairs than this device (--net queues=)";
		return -EINVAL;
	}
	net_set_pairs(d, st[1]);
	return 0;
}
