/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net: the transmit header check (src/virtio/net_io.c), against what a hostile driver
 * may write; and the device's state (negotiated offloads, queue pairs in use) through a
 * snapshot's save and restore, a hostile state refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "capsule/devices.h"
#include "capsule/virtio.h"
#include "../../src/virtio/net.h" /* the backend's pairs, net_set_pairs */

#define F(bit) (1ull << (bit))
#define ALL                                                                                 \
	(F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) |      \
	 F(VIRTIO_NET_F_HOST_UFO) | F(VIRTIO_NET_F_HOST_ECN))

static int check(struct virtio_net_hdr h, uint64_t len, uint64_t features)
{
	const char *why = NULL;
	int r = net_hdr_check_tx(&h, len, features, &why);

	assert_true(r == 0 || why != NULL);
	return r;
}

/* A TSO segment as the guest kit sends it: 64 KiB, TCP over IPv4, partial checksum. */
static const struct virtio_net_hdr tso = {
	.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
	.hdr_len = 54, .gso_size = 1460, .csum_start = 34, .csum_offset = 16};

static void plain_frames_pass(void **state)
{
	(void)state;
	assert_int_equal(check((struct virtio_net_hdr){0}, 60, 0), 0);
	assert_int_equal(check((struct virtio_net_hdr){0}, 1514, ALL), 0);
}

static void offloads_pass_only_when_negotiated(void **state)
{
	struct virtio_net_hdr csum = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
				      .csum_offset = 16};

	(void)state;
	assert_int_equal(check(tso, 54 + 64240, ALL), 0);
	assert_int_equal(check(csum, 1514, F(VIRTIO_NET_F_CSUM)), 0);
	/* A driver that refused offloads may not use them. */
	assert_int_equal(check(tso, 54 + 64240, 0), -EINVAL);
	assert_int_equal(check(csum, 1514, 0), -EINVAL);
	assert_int_equal(check(tso, 54 + 64240, F(VIRTIO_NET_F_CSUM)), -EINVAL);
	struct virtio_net_hdr ecn = tso;

	ecn.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	assert_int_equal(check(ecn, 54 + 64240, ALL & ~F(VIRTIO_NET_F_HOST_ECN)), -EINVAL);
	assert_int_equal(check(ecn, 54 + 64240, ALL), 0);
}

static void bad_headers_fail(void **state)
{
	struct virtio_net_hdr h;

	(void)state;
	h = tso, h.csum_start = 60000; /* checksum outside the frame */
	assert_int_equal(check(h, 1514, ALL), -EINVAL);
	h = tso, h.csum_offset = 0xffff;
	assert_int_equal(check(h, 54 + 64240, ALL), -EINVAL);
	h = tso, h.gso_size = 0; /* segments of nothing */
	assert_int_equal(check(h, 54 + 64240, ALL), -EINVAL);
	h = tso, h.gso_size = 0xffff;
	assert_int_equal(check(h, 54 + 64240, ALL), -EINVAL);
	h = tso, h.hdr_len = 0xffff; /* headers longer than the frame */
	assert_int_equal(check(h, 54 + 64240, ALL), -EINVAL);
	h = tso, h.flags = 0; /* segmentation without a partial checksum */
	assert_int_equal(check(h, 54 + 64240, ALL), -EINVAL);
	h = tso, h.gso_type = 7; /* no such type */
	assert_int_equal(check(h, 54 + 64240, ALL), -EINVAL);
	h = tso, h.flags |= VIRTIO_NET_HDR_F_DATA_VALID; /* the device's flag */
	assert_int_equal(check(h, 54 + 64240, ALL), -EINVAL);
	h = (struct virtio_net_hdr){.gso_type = VIRTIO_NET_HDR_GSO_ECN};
	assert_int_equal(check(h, 1514, ALL), -EINVAL);
}

/* A device on /dev/null queues, with everything negotiated that a snapshot keeps. */
static void make(struct virtio_dev *d, unsigned pairs)
{
	int fds[2] = {open("/dev/null", O_RDWR | O_CLOEXEC), open("/dev/null", O_RDWR | O_CLOEXEC)};

	memset(d, 0, sizeof(*d));
	d->priv = net_open_fds(fds, pairs);
	assert_non_null(d->priv);
	if (pairs < 2)
		close(fds[1]);
	d->ops = net_device_ops(d->priv);
	d->host_features = ALL | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4);
	pthread_mutex_init(&d->lock, NULL);
}

static void state_round_trip(void **state)
{
	static struct virtio_dev d, e, one;
	const uint64_t f = (1ull << VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MQ) |
			   F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) |
			   F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4);
	struct virtio_state st, bad;
	const char *why = NULL;
	uint32_t pairs[2];

	(void)state;
	make(&d, 2);
	make(&e, 2);
	make(&one, 1);
	assert_ptr_equal(d.ops, &virtio_net_mq_ops);
	d.driver_features = f;
	d.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		   VIRTIO_STATUS_DRIVER_OK;
	net_set_pairs(&d, 2);
	virtio_save(&d, &st);
	assert_int_equal(st.extra_len, sizeof(pairs));

	/* Hostile: more pairs in use than the device has, a device with another count. */
	bad = st;
	memcpy(pairs, bad.extra, sizeof(pairs));
	pairs[1] = 3;
	memcpy(bad.extra, pairs, sizeof(pairs));
	assert_int_equal(virtio_restore(&e, &bad, &why), -EINVAL);
	assert_non_null(strstr(why, "queue pairs"));
	assert_int_equal(e.driver_features, 0);
	bad = st;
	bad.extra_len = 3;
	assert_int_equal(virtio_restore(&e, &bad, &why), -EINVAL);
	assert_int_equal(virtio_restore(&one, &st, &why), -EINVAL);

	/* The real state: offloads and both pairs come back; pair 1's TAP queue feeds rx 1. */
	assert_int_equal(virtio_restore(&e, &st, &why), 0);
	assert_int_equal(e.driver_features, f);
	assert_int_equal(((struct net_backend *)e.priv)->active, 2);
	assert_int_equal(((struct net_backend *)e.priv)->q[1].rx.queue, NET_RXQ(1));
	/* A reset goes back to one pair: pair 1's TAP queue feeds rx 0 again. */
	net_set_pairs(&e, 1);
	assert_int_equal(((struct net_backend *)e.priv)->q[1].rx.queue, NET_RXQ(0));
	net_close(d.priv);
	net_close(e.priv);
	net_close(one.priv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_frames_pass),
		cmocka_unit_test(offloads_pass_only_when_negotiated),
		cmocka_unit_test(bad_headers_fail),
		cmocka_unit_test(state_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
