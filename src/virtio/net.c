/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net on a TAP device opened with IFF_VNET_HDR: every frame crosses with its
 * virtio_net_hdr, so checksum offload and TSO/UFO travel between the guest and the host
 * kernel untouched. The device offers them (what the kernel accepts); the driver's choice
 * goes to the TAP (TUNSETOFFLOAD) when it sets DRIVER_OK, so a driver that refused
 * offloads is never handed a GSO packet or a partial checksum. The data path is net_io.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>

#include "capsule/log.h"
#include "net.h"

#define F(bit) (1ull << (bit))
#define NET_BASE_FEATURES (F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_STATUS))
#define NET_OFFLOADS                                                                        \
	(F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) |     \
	 F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_ECN) | F(VIRTIO_NET_F_GUEST_TSO4) |  \
	 F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN))
#define NET_UFO (F(VIRTIO_NET_F_HOST_UFO) | F(VIRTIO_NET_F_GUEST_UFO))

void net_io(const struct net_backend *n, struct dev_io *out)
{
	out->rd_bytes = __atomic_load_n(&n->io.rd_bytes, __ATOMIC_RELAXED);
	out->wr_bytes = __atomic_load_n(&n->io.wr_bytes, __ATOMIC_RELAXED);
	out->rd_reqs = __atomic_load_n(&n->io.rd_reqs, __ATOMIC_RELAXED);
	out->wr_reqs = __atomic_load_n(&n->io.wr_reqs, __ATOMIC_RELAXED);
}

/* What the TAP may hand the driver, from what the driver took (spec 5.1.3.1). */
static unsigned tun_offloads_for(uint64_t f)
{
	unsigned o = 0;

	if (!(f & F(VIRTIO_NET_F_GUEST_CSUM)))
		return 0; /* segmentation implies partial checksums */
	o |= TUN_F_CSUM;
	if (f & F(VIRTIO_NET_F_GUEST_TSO4))
		o |= TUN_F_TSO4;
	if (f & F(VIRTIO_NET_F_GUEST_TSO6))
		o |= TUN_F_TSO6;
	if ((f & F(VIRTIO_NET_F_GUEST_ECN)) && (o & (TUN_F_TSO4 | TUN_F_TSO6)))
		o |= TUN_F_TSO_ECN;
	if (f & F(VIRTIO_NET_F_GUEST_UFO))
		o |= TUN_F_UFO;
	return o;
}

void net_apply_offloads(struct net_backend *n, uint64_t driver_features)
{
	unsigned o = n->vnet_hdr ? tun_offloads_for(driver_features) : 0;

	if (!n->vnet_hdr || o == n->tun_offloads)
		return;
	for (unsigned i = 0; i < n->pairs; i++)
		if (ioctl(n->q[i].tap, TUNSETOFFLOAD, (unsigned long)o) < 0) {
			/* The TAP keeps what it had; with none, the driver gets plain frames. */
			log_warn("virtio-net: %s: cannot set offloads 0x%x: %s", n->ifname, o,
				 strerror(errno));
			return;
		}
	n->tun_offloads = o;
}

static void net_notify(struct virtio_dev *d, unsigned q)
{
	struct net_backend *n = d->priv;

	if (n->pairs > 1 && q == NET_CTRLQ) {
		virtio_serve(d, q, net_ctrl);
		return;
	}
	if (q / 2 >= n->pairs)
		return;
	if (q == NET_TXQ(q / 2)) {
		virtio_serve(d, q, net_tx);
		return;
	}
	/* Buffers on receive queue q: for every pump that fills it. */
	for (unsigned i = 0; i < n->pairs; i++)
		if (n->q[i].rx.running && n->q[i].rx.queue == q)
			rx_pump_retry(&n->q[i].rx);
}

/* Packets went to receive queue rxq: the guest's answer (a reply, an acknowledgement) tends
 * to follow on its transmit queue, and is caught there without a kick (virtio_expect). */
static void net_expect_answer(struct virtio_dev *d, unsigned rxq)
{
	static const struct virtio_server tx = {.chain = net_tx};

	virtio_expect(d, NET_TXQ(rxq / 2), &tx);
}

static void net_driver_ok(struct virtio_dev *d)
{
	net_apply_offloads(d->priv, d->driver_features);
}

static void net_reset(struct virtio_dev *d)
{
	net_apply_offloads(d->priv, 0);
	net_set_pairs(d, 1);
}

static int net_dev_start(struct virtio_dev *d)
{
	struct net_backend *n = d->priv;
	int err = 0;

	/* A restored device resumes with the offloads its driver took. */
	pthread_mutex_lock(&d->lock);
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		net_apply_offloads(n, d->driver_features);
	for (unsigned i = 0; i < n->pairs; i++)
		n->q[i].rx.delivered = net_expect_answer; /* under the lock: the loop reads it */
	pthread_mutex_unlock(&d->lock);
	for (unsigned i = 0; i < n->pairs && !err; i++)
		err = rx_pump_start_pull(&n->q[i].rx, d, NET_RXQ(i < n->active ? i : 0),
					 n->q[i].tap, net_pull);
	if (err)
		log_warn("virtio-net: cannot receive: %s", strerror(-err));
	return err;
}

static void net_dev_stop(struct virtio_dev *d)
{
	struct net_backend *n = d->priv;

	for (unsigned i = 0; i < n->pairs; i++)
		rx_pump_stop(&n->q[i].rx);
}

/* One device, in two shapes that differ in their queues and the features that come with them. */
#define NET_OPS(queues, extra_features)                                                     \
	{                                                                                   \
		.name = "virtio-net", .device_id = VIRTIO_ID_NET, .num_queues = (queues),     \
		.features = NET_BASE_FEATURES | (extra_features),                            \
		.config_size = sizeof(struct virtio_net_config), .queue_notify = net_notify,  \
		.reset = net_reset, .driver_ok = net_driver_ok, .start = net_dev_start,       \
		.stop = net_dev_stop, .save = net_save, .restore = net_restore,               \
	}

const struct virtio_dev_ops virtio_net_ops = NET_OPS(2, 0);
/* Two queue pairs on a multiqueue TAP: rx0, tx0, rx1, tx1, then the control queue. */
const struct virtio_dev_ops virtio_net_mq_ops =
	NET_OPS(2 * NET_PAIRS_MAX + 1, F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_MQ));

const struct virtio_dev_ops *net_device_ops(const struct net_backend *n)
{
	return n->pairs > 1 ? &virtio_net_mq_ops : &virtio_net_ops;
}


/* Open queue i of the TAP: IFF_VNET_HDR with the virtio 1 header (num_buffers too). */
static int tap_open(struct net_backend *n, unsigned i, char *err, size_t errlen)
{
	struct ifreq ifr;
	int hdr = NET_HDR;

	n->q[i].tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (n->q[i].tap < 0) {
		snprintf(err, errlen, "--net: cannot open /dev/net/tun: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (n->pairs > 1)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", n->ifname);
	if (ioctl(n->q[i].tap, TUNSETIFF, &ifr) < 0) {
		snprintf(err, errlen, "--net: cannot create TAP device %s: %s%s", n->ifname,
			 strerror(errno), errno == EPERM ? " (needs CAP_NET_ADMIN: run as root)" : "");
		return -1;
	}
	if (ioctl(n->q[i].tap, TUNSETVNETHDRSZ, &hdr) < 0) {
		snprintf(err, errlen, "--net: %s: cannot use a %d-byte virtio-net header: %s",
			 n->ifname, hdr, strerror(errno));
		return -1;
	}
	n->vnet_hdr = true;
	return 0;
}

/* The offloads to offer: those the kernel's TAP takes (UFO is not in every kernel). */
static uint64_t probe_offloads(struct net_backend *n)
{
	const unsigned all = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
	uint64_t f = NET_BASE_FEATURES;

	if (ioctl(n->q[0].tap, TUNSETOFFLOAD, (unsigned long)all) == 0) {
		f |= NET_OFFLOADS;
		if (ioctl(n->q[0].tap, TUNSETOFFLOAD, (unsigned long)(all | TUN_F_UFO)) == 0)
			f |= NET_UFO;
	}
	if (ioctl(n->q[0].tap, TUNSETOFFLOAD, 0ul) < 0) /* none until a driver takes them */
		f = NET_BASE_FEATURES;
	return f;
}

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

	if (!n) {
		snprintf(err, errlen, "--net: out of memory");
		return NULL;
	}
	n->q[0].tap = n->q[1].tap = -1;
	n->pairs = 1;
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
		} else if (!strncmp(opt, "queues=", 7)) {
			if (strcmp(opt + 7, "1") && strcmp(opt + 7, "2")) {
				snprintf(err, errlen, "--net: queues= takes 1 or %u (queue pairs on a "
					 "multiqueue TAP), not '%s'", NET_PAIRS_MAX, opt + 7);
				goto fail;
			}
			n->pairs = (unsigned)(opt[7] - '0');
		} else if (!strncmp(opt, "mac=", 4)) {
			if (parse_mac(opt + 4, n->mac)) {
				snprintf(err, errlen, "--net: '%s' is not a unicast MAC address",
					 opt + 4);
				goto fail;
			}
		} else {
			snprintf(err, errlen, "--net: unknown option '%s'; expected "
				 "tap=NAME[,mac=MAC][,queues=N]", opt);
			goto fail;
		}
	}
	if (!n->ifname[0]) {
		snprintf(err, errlen, "--net: give a TAP device name: --net tap=NAME");
		goto fail;
	}
	n->active = 1;
	for (unsigned i = 0; i < n->pairs; i++)
		if (tap_open(n, i, err, errlen))
			goto fail;
	n->offered = probe_offloads(n);
	return n;
fail:
	net_close(n);
	return NULL;
}

struct net_backend *net_open_fds(const int *fds, unsigned pairs)
{
	struct net_backend *n = pairs >= 1 && pairs <= NET_PAIRS_MAX ? calloc(1, sizeof(*n)) : NULL;

	for (unsigned i = 0; n && i < pairs; i++)
		if (fds[i] < 0) {
			free(n);
			return NULL;
		}
	if (n) {
		n->q[0].tap = n->q[1].tap = -1;
		for (unsigned i = 0; i < pairs; i++)
			n->q[i].tap = fds[i];
		n->pairs = pairs;
		n->active = 1;
		snprintf(n->ifname, sizeof(n->ifname), "fd%d", fds[0]);
	}
	return n;
}

struct net_backend *net_open_fd(int fd)
{
	return net_open_fds(&fd, 1);
}

void net_init_config(struct net_backend *n, struct virtio_dev *d)
{
	struct virtio_net_config c = {.status = VIRTIO_NET_S_LINK_UP,
				      .max_virtqueue_pairs = (uint16_t)n->pairs};

	memcpy(c.mac, n->mac, 6);
	memcpy(d->config, &c, sizeof(c));
	d->host_features = n->offered;
}

void net_close(struct net_backend *n)
{
	if (!n)
		return;
	for (unsigned i = 0; i < NET_PAIRS_MAX; i++) {
		rx_pump_release(&n->q[i].rx);
		if (n->q[i].tap >= 0)
			close(n->q[i].tap);
	}
	free(n);
}
