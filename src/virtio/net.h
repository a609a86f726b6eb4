/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Between the virtio-net device (net.c: the TAP, features, offloads, queue pairs) and its
 * data path (net_io.c: transmit, receive). Nothing else uses these.
 */
#ifndef CAPSULE_VIRTIO_NET_H
#define CAPSULE_VIRTIO_NET_H

#include <linux/if.h>
#include <sys/uio.h>

#include "backend_rx.h"
#include "capsule/devices.h"

#define NET_HDR sizeof(struct virtio_net_hdr) /* 12: the TAP is told so (TUNSETVNETHDRSZ) */
#define NET_FRAME_MAX 65550u   /* a 64 KiB GSO packet with its Ethernet and VLAN headers */
#define NET_FRAME_PLAIN 9018u  /* what a receive without GSO may bring (a jumbo frame) */
#define NET_RX_CHAINS 64u      /* receive buffers one packet may span */
#define NET_RX_IOV 1024u       /* IOV_MAX */

/* Queue q of a device with `pairs` queue pairs: rx 2i, tx 2i + 1, then the control queue. */
#define NET_RXQ(i) (2u * (i))
#define NET_TXQ(i) (2u * (i) + 1u)
#define NET_PAIRS_MAX 2u
#define NET_CTRLQ (2u * NET_PAIRS_MAX) /* with VIRTIO_NET_F_MQ: after the pairs */

struct net_pair {
	int tap; /* this pair's TAP queue (IFF_MULTI_QUEUE: one fd each) */
	struct rx_pump rx;
};

struct net_backend {
	char ifname[IFNAMSIZ];
	uint8_t mac[6];
	bool vnet_hdr;     /* the TAP carries a virtio_net_hdr (false: net_open_fd's fd) */
	unsigned pairs;    /* queue pairs the device has (1, or 2 with VIRTIO_NET_F_MQ) */
	unsigned active;   /* pairs the driver uses (the control queue's MQ command) */
	uint64_t offered;  /* device feature bits: offloads only if the kernel takes them */
	unsigned tun_offloads; /* TUNSETOFFLOAD now in force */
	struct net_pair q[NET_PAIRS_MAX];
	/* receive scratch, device thread only (d->lock held) */
	struct vq_chain rx_chains[NET_RX_CHAINS];
	struct iovec rx_iov[NET_RX_IOV];
	uint64_t tx_dropped, rx_dropped;
	struct dev_io io; /* rd: received, wr: sent; atomics (the API reads them) */
};

/* net_io.c */
int64_t net_tx(struct virtio_dev *d, unsigned q, const struct vq_chain *c);
int net_pull(struct virtio_dev *d, int fd);
/* net_ctrl.c: the control queue's handler, the pairs in use (d->lock held), the state. */
int64_t net_ctrl(struct virtio_dev *d, unsigned q, const struct vq_chain *c);
void net_set_pairs(struct virtio_dev *d, unsigned active);
size_t net_save(struct virtio_dev *d, uint8_t *buf, size_t cap);
int net_restore(struct virtio_dev *d, const uint8_t *buf, size_t len, const char **why);
/* net.c: give the TAP the offloads the driver took (0: none), on every queue. */
void net_apply_offloads(struct net_backend *n, uint64_t driver_features);

#endif
