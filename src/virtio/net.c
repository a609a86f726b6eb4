/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net on a TAP device. Transmit: every chain is a 12-byte virtio_net_hdr and a frame,
 * written to the TAP. Receive: a frame read from the TAP is spread over as many receive
 * buffers as it needs (VIRTIO_NET_F_MRG_RXBUF), the first header saying how many. No
 * offloads are offered, so checksums are always complete.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>

#include "backend_rx.h"
#include "capsule/devices.h"
#include "capsule/log.h"

#define NET_RX 0
#define NET_TX 1
#define FRAME_MAX 65536
#define RX_CHAINS_MAX 64

struct net_backend {
	int tap;
	char ifname[IFNAMSIZ];
	uint8_t mac[6];
	struct rx_pump rx;
	uint8_t tx_frame[FRAME_MAX];
	struct vq_chain rx_chains[RX_CHAINS_MAX];
	uint64_t tx_frames, rx_frames, rx_dropped;
	struct dev_io io; /* rd: received, wr: sent; atomics (the API reads them) */
};

void net_io(const struct net_backend *n, struct dev_io *out)
{
	out->rd_bytes = __atomic_load_n(&n->io.rd_bytes, __ATOMIC_RELAXED);
	out->wr_bytes = __atomic_load_n(&n->io.wr_bytes, __ATOMIC_RELAXED);
	out->rd_reqs = __atomic_load_n(&n->io.rd_reqs, __ATOMIC_RELAXED);
	out->wr_reqs = __atomic_load_n(&n->io.wr_reqs, __ATOMIC_RELAXED);
}

static int64_t net_tx(struct virtio_dev *d, unsigned q, const struct vq_chain *c)
{
	struct net_backend *n = d->priv;
	uint64_t len;

	(void)q;
	if (c->out_bytes < sizeof(struct virtio_net_hdr))
		return -EINVAL;
	len = c->out_bytes - sizeof(struct virtio_net_hdr);
	if (len > FRAME_MAX || len < 14)
		return 0; /* not a frame we can send: dropped, as a NIC would */
	vq_copy_from(c, sizeof(struct virtio_net_hdr), n->tx_frame, len);
	if (write(n->tap, n->tx_frame, len) == (ssize_t)len) {
		n->tx_frames++;
		__atomic_fetch_add(&n->io.wr_bytes, len, __ATOMIC_RELAXED);
		__atomic_fetch_add(&n->io.wr_reqs, 1, __ATOMIC_RELAXED);
	}
	return 0;
}

static bool net_deliver(struct virtio_dev *d, const uint8_t *frame, size_t len)
{
	struct net_backend *n = d->priv;
	struct virtio_net_hdr h = {0};
	uint64_t need = sizeof(h) + len, have = 0, off = 0;
	const char *why = NULL;
	unsigned used = 0;
	int r = 0;

	while (have < need && used < RX_CHAINS_MAX &&
	       (r = vq_pop(&d->vq[NET_RX], d->mem, &n->rx_chains[used], &why)) > 0)
		have += n->rx_chains[used++].in_bytes;
	if (r < 0) {
		virtio_fail(d, "receive queue: %s", why);
		n->rx_dropped++;
		return true; /* a broken device drops it */
	}
	if (have < need) {
		vq_unpop(&d->vq[NET_RX], (uint16_t)used);
		if (used == RX_CHAINS_MAX) { /* the guest's buffers can never hold it */
			n->rx_dropped++;
			return true;
		}
		return false; /* wait for the driver to add buffers */
	}
	h.num_buffers = (uint16_t)used;
	for (unsigned i = 0; i < used; i++) {
		const struct vq_chain *c = &n->rx_chains[i];
		uint64_t w = 0;

		if (i == 0)
			w = vq_copy_to(c, 0, &h, sizeof(h));
		w += vq_copy_to(c, w, frame + off, len - off);
		off += w - (i == 0 ? sizeof(h) : 0);
		virtio_complete(d, NET_RX, c->head, (uint32_t)w);
	}
	n->rx_frames++;
	__atomic_fetch_add(&n->io.rd_bytes, len, __ATOMIC_RELAXED);
	__atomic_fetch_add(&n->io.rd_reqs, 1, __ATOMIC_RELAXED);
	virtio_flush_interrupt(d, NET_RX);
	return true;
}

static void net_notify(struct virtio_dev *d, unsigned q)
{
	struct net_backend *n = d->priv;

	if (q == NET_TX)
		virtio_serve(d, q, net_tx);
	else if (n->rx.running)
		rx_pump_retry(&n->rx);
}

static int net_dev_start(struct virtio_dev *d)
{
	struct net_backend *n = d->priv;
	int err = rx_pump_start(&n->rx, d, NET_RX, n->tap, FRAME_MAX, net_deliver);

	if (err)
		log_warn("virtio-net: cannot receive: %s", strerror(-err));
	return err;
}

static void net_dev_stop(struct virtio_dev *d)
{
	struct net_backend *n = d->priv;

	rx_pump_stop(&n->rx);
}

const struct virtio_dev_ops virtio_net_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.num_queues = 2,
	.features = (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_MRG_RXBUF) |
		    (1ull << VIRTIO_NET_F_STATUS),
	.config_size = sizeof(struct virtio_net_config),
	.queue_notify = net_notify,
	.start = net_dev_start,
	.stop = net_dev_stop,
};

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char extra;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &extra) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 0xff)
			return -1;
		mac[i] = (uint8_t)v[i];
	}
	return mac[0] & 1 ? -1 : 0; /* a multicast address cannot be a NIC's */
}

struct net_backend *net_open(const char *spec, char *err, size_t errlen)
{
	char buf[256], *opt, *save = NULL;
	struct net_backend *n = calloc(1, sizeof(*n));
	struct ifreq ifr;

	if (!n) {
		snprintf(err, errlen, "--net: out of memory");
		return NULL;
	}
	n->tap = -1;
	/* A locally administered unicast MAC unless one is given. */
	n->mac[0] = 0x52, n->mac[1] = 0x54, n->mac[2] = 0x00;
	if (getrandom(n->mac + 3, 3, 0) != 3)
		n->mac[3] = 0x12, n->mac[4] = 0x34, n->mac[5] = 0x56;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (opt = strtok_r(buf, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		if (!strncmp(opt, "tap=", 4)) {
			if (!opt[4] || strlen(opt + 4) >= IFNAMSIZ) {
				snprintf(err, errlen, "--net: a TAP name has 1 to %d characters, "
					 "'%s' has %zu", IFNAMSIZ - 1, opt + 4, strlen(opt + 4));
				goto fail;
			}
			snprintf(n->ifname, sizeof(n->ifname), "%s", opt + 4);
		} else if (!strncmp(opt, "mac=", 4)) {
			if (parse_mac(opt + 4, n->mac)) {
				snprintf(err, errlen, "--net: '%s' is not a unicast MAC address",
					 opt + 4);
				goto fail;
			}
		} else {
			snprintf(err, errlen, "--net: unknown option '%s'; expected "
				 "tap=NAME[,mac=MAC]", opt);
			goto fail;
		}
	}
	if (!n->ifname[0]) {
		snprintf(err, errlen, "--net: give a TAP device name: --net tap=NAME");
		goto fail;
	}
	n->tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (n->tap < 0) {
		snprintf(err, errlen, "--net: cannot open /dev/net/tun: %s", strerror(errno));
		goto fail;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", n->ifname);
	if (ioctl(n->tap, TUNSETIFF, &ifr) < 0) {
		snprintf(err, errlen, "--net: cannot create TAP device %s: %s%s", n->ifname,
			 strerror(errno), errno == EPERM ? " (needs CAP_NET_ADMIN: run as root)" : "");
		goto fail;
	}
	return n;
fail:
	net_close(n);
	return NULL;
}

struct net_backend *net_open_fd(int fd)
{
	struct net_backend *n = fd >= 0 ? calloc(1, sizeof(*n)) : NULL;

	if (n) {
		n->tap = fd;
		snprintf(n->ifname, sizeof(n->ifname), "fd%d", fd);
	}
	return n;
}

void net_init_config(struct net_backend *n, struct virtio_dev *d)
{
	struct virtio_net_config c = {.status = VIRTIO_NET_S_LINK_UP, .max_virtqueue_pairs = 1};

	memcpy(c.mac, n->mac, 6);
	memcpy(d->config, &c, sizeof(c));
}

void net_close(struct net_backend *n)
{
	if (!n)
		return;
	rx_pump_release(&n->rx);
	if (n->tap >= 0)
		close(n->tap);
	free(n);
}
