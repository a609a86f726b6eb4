/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net's data path. Transmit: the chain's virtio_net_hdr is copied and checked (the
 * guest may rewrite it), then written with the frame's segments in one writev to the TAP,
 * which takes the header too (IFF_VNET_HDR): checksum and segmentation offloads travel
 * as they are, to be completed by the host kernel. Receive: the pump (backend_rx.c) pulls
 * every ready packet per wake-up; each is read by one readv straight into as many of the
 * guest's buffers as it may need (VIRTIO_NET_F_MRG_RXBUF), the buffers it did not fill are
 * given back, and num_buffers is set in the first one.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "capsule/log.h"
#include "net.h"

#define F(bit) (1ull << (bit))

int net_hdr_check_tx(const struct virtio_net_hdr *h, uint64_t len, uint64_t features,
		     const char **why)
{
	uint8_t gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	uint64_t need = 0;

	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		*why = "header flags a driver may not set";
		return -EINVAL;
	}
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (!(features & F(VIRTIO_NET_F_CSUM)) ||
	     (uint64_t)h->csum_start + h->csum_offset + 2 > len)) {
		*why = "partial checksum not negotiated or outside the frame";
		return -EINVAL;
	}
	if (gso == VIRTIO_NET_HDR_GSO_NONE) {
		if (h->gso_type & VIRTIO_NET_HDR_GSO_ECN) {
			*why = "ECN without segmentation";
			return -EINVAL;
		}
		return 0;
	}
	if (gso == VIRTIO_NET_HDR_GSO_TCPV4)
		need = F(VIRTIO_NET_F_HOST_TSO4);
	else if (gso == VIRTIO_NET_HDR_GSO_TCPV6)
		need = F(VIRTIO_NET_F_HOST_TSO6);
	else if (gso == VIRTIO_NET_HDR_GSO_UDP)
		need = F(VIRTIO_NET_F_HOST_UFO);
	if (h->gso_type & VIRTIO_NET_HDR_GSO_ECN)
		need |= F(VIRTIO_NET_F_HOST_ECN);
	if (!need || (features & need) != need) {
		*why = "segmentation offload not negotiated";
		return -EINVAL;
	}
	/* The kernel segments it: its headers must be whole and its segments sane. */
	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || h->hdr_len > len ||
	    (uint64_t)h->csum_start + h->csum_offset + 2 > (h->hdr_len ? h->hdr_len : len)) {
		*why = "segmentation without a partial checksum inside its headers";
		return -EINVAL;
	}
	if (h->gso_size < 8 || h->gso_size > NET_FRAME_MAX - h->hdr_len) {
		*why = "segment size out of range";
		return -EINVAL;
	}
	return 0;
}

int64_t net_tx(struct virtio_dev *d, unsigned q, const struct vq_chain *c)
{
	struct net_backend *n = d->priv;
	static __thread struct iovec iov[VQ_MAX_SEGS + 1];
	struct virtio_net_hdr h;
	const char *why = NULL;
	uint64_t len;
	unsigned niov;
	int fd = n->q[(q / 2) < n->pairs ? q / 2 : 0].tap;

	if (c->out_bytes < NET_HDR)
		return -EINVAL;
	len = c->out_bytes - NET_HDR;
	vq_copy_from(c, 0, &h, sizeof(h)); /* once: what we checked is what the TAP gets */
	if (len < 14 || len > NET_FRAME_MAX ||
	    net_hdr_check_tx(&h, len, d->driver_features, &why)) {
		if (n->tx_dropped++ == 0)
			log_warn("virtio-net: dropping a frame the driver sent: %s",
				 why ? why : "its length is not a frame's");
		return 0; /* dropped, as a NIC would */
	}
	h.num_buffers = 0;
	iov[0] = (struct iovec){&h, NET_HDR};
	niov = n->vnet_hdr ? 1 : 0; /* a plain fd (net_open_fd) takes the frame alone */
	niov += vq_iovecs(c, false, NET_HDR, len, iov + niov);
	if (writev(fd, iov, (int)niov) > 0) {
		__atomic_fetch_add(&n->io.wr_bytes, len, __ATOMIC_RELAXED);
		__atomic_fetch_add(&n->io.wr_reqs, 1, __ATOMIC_RELAXED);
	}
	return 0;
}

/* Map receive buffers for one packet; how many chains (0: the driver has too few now;
 * *some: there were some, not enough). */
static unsigned take_buffers(struct virtio_dev *d, struct net_backend *n, unsigned rxq,
			     unsigned *niov, bool *some)
{
	struct virtq *vq = &d->vq[rxq];
	bool mrg = d->driver_features & F(VIRTIO_NET_F_MRG_RXBUF);
	uint64_t need = NET_HDR + ((d->driver_features &
				    (F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) |
				     F(VIRTIO_NET_F_GUEST_UFO)))
					   ? NET_FRAME_MAX
					   : NET_FRAME_PLAIN);
	uint64_t have = 0;
	unsigned used = 0, segs = 0, max = mrg ? NET_RX_CHAINS : 1;
	const char *why = NULL;
	int r = 0;

	*niov = 0;
	*some = false;
	while (have < need && used < max) {
		struct vq_chain *c = &n->rx_chains[used];

		r = vq_pop(vq, d->mem, c, &why);
		if (r <= 0)
			break;
		if (c->out_bytes || c->in_bytes < (used ? 1 : NET_HDR)) {
			virtio_fail(d, "receive queue %u: a buffer smaller than the header", rxq);
			return 0;
		}
		if (*niov + c->nseg > NET_RX_IOV) {
			vq_unpop(vq, 1);
			break;
		}
		*niov += vq_iovecs(c, true, 0, c->in_bytes, n->rx_iov + *niov);
		have += c->in_bytes;
		segs += c->nseg;
		used++;
	}
	if (r < 0) {
		virtio_fail(d, "receive queue %u: %s", rxq, why);
		return 0;
	}
	/* Too little for the largest packet: wait for more, unless the driver posted all it
	 * can (its ring is full) or one packet may span no more buffers. */
	if (have < need && used < max && segs < vq->size && used && r == 0) {
		vq_unpop(vq, (uint16_t)used);
		*some = true;
		return 0;
	}
	return used;
}

int net_pull(struct virtio_dev *d, int fd)
{
	struct net_backend *n = d->priv;
	unsigned pair = 0, rxq, used, niov, k;
	uint16_t nbuf;
	ssize_t got;
	uint64_t left;

	while (pair + 1 < n->pairs && n->q[pair].tap != fd)
		pair++;
	rxq = n->q[pair].rx.queue; /* its own, or 0 while the driver uses fewer pairs */
	for (unsigned tries = 0;; tries++) {
		bool some, more;

		used = take_buffers(d, n, rxq, &niov, &some);
		if (used)
			break;
		if (d->broken)
			return 0;
		/* Ask for the driver's kick, then look once more: it may have added meanwhile. */
		more = some ? vq_notify_on_add(&d->vq[rxq]) : vq_enable_notify(&d->vq[rxq]);
		if (!more)
			return 0;
		if (tries == 3)
			return -EAGAIN; /* a driver adding one by one: come back on the next turn */
	}
	got = readv(fd, n->rx_iov, (int)niov);
	if (got < (ssize_t)NET_HDR) {
		int e = got < 0 ? errno : EIO;

		vq_unpop(&d->vq[rxq], (uint16_t)used);
		if (e == EAGAIN || e == EINTR)
			return -EAGAIN;
		if (got >= 0 || e == EINVAL || e == EFAULT) { /* too big for the buffers: gone */
			n->rx_dropped++;
			return 1;
		}
		return -e;
	}
	left = (uint64_t)got;
	for (k = 0; k < used && left; k++)
		left -= left < n->rx_chains[k].in_bytes ? left : n->rx_chains[k].in_bytes;
	vq_unpop(&d->vq[rxq], (uint16_t)(used - k)); /* the last ones, untouched */
	nbuf = (uint16_t)k;
	vq_copy_to(&n->rx_chains[0], 10, &nbuf, sizeof(nbuf));
	if (!(d->driver_features & F(VIRTIO_NET_F_GUEST_CSUM))) {
		uint8_t none = 0; /* DATA_VALID is for drivers that took checksum offload */

		vq_copy_to(&n->rx_chains[0], 0, &none, 1);
	}
	left = (uint64_t)got;
	for (unsigned i = 0; i < k; i++) {
		uint64_t w = left < n->rx_chains[i].in_bytes ? left : n->rx_chains[i].in_bytes;

		virtio_complete(d, rxq, n->rx_chains[i].head, (uint32_t)w);
		left -= w;
	}
	__atomic_fetch_add(&n->io.rd_bytes, (uint64_t)got - NET_HDR, __ATOMIC_RELAXED);
	__atomic_fetch_add(&n->io.rd_reqs, 1, __ATOMIC_RELAXED);
	return 1;
}
