/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-net's transmit header check (src/virtio/net_io.c): what a hostile driver may write. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "capsule/devices.h"
#include "capsule/virtio.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_frames_pass),
		cmocka_unit_test(offloads_pass_only_when_negotiated),
		cmocka_unit_test(bad_headers_fail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
