/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk's backend: the io_uring ring does what a disk does and nothing else (io_uring
 * runs requests without seccomp, so an open or a connect through it would escape the
 * sandbox); images are locked against a second writer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <liburing.h>

#include "capsule/devices.h"

static char path[] = "/tmp/capsule-test-blk-XXXXXX";

static int setup(void **state)
{
	int fd = mkstemp(path);

	(void)state;
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void ring_is_restricted(void **state)
{
	char err[256];
	struct blk_backend *b = blk_open(path, err, sizeof(err));
	static const uint8_t refused[] = {IORING_OP_OPENAT, IORING_OP_CONNECT, IORING_OP_WRITE,
					  IORING_OP_READ, IORING_OP_SENDMSG, IORING_OP_UNLINKAT,
					  IORING_OP_NOP, IORING_OP_FALLOCATE};

	(void)state;
	assert_non_null(b);
	for (size_t i = 0; i < sizeof(refused); i++)
		if (blk_ring_try_op(b, refused[i]) != -EACCES)
			fail_msg("io_uring opcode %u was not refused", refused[i]);
	/* A disk's operations pass the restriction (and then fail on the bad fd). */
	assert_int_equal(blk_ring_try_op(b, IORING_OP_READV), -EBADF);
	assert_int_equal(blk_ring_try_op(b, IORING_OP_WRITEV), -EBADF);
	assert_int_equal(blk_ring_try_op(b, IORING_OP_FSYNC), -EBADF);
	blk_close(b);
}

static void image_locked(void **state)
{
	char err[256], spec[sizeof(path) + 16];
	struct blk_backend *w = blk_open(path, err, sizeof(err)), *r;

	(void)state;
	assert_non_null(w);
	assert_null(blk_open(path, err, sizeof(err)));
	assert_non_null(strstr(err, "is in use by another domain (locked)"));
	snprintf(spec, sizeof(spec), "%s,readonly", path);
	assert_null(blk_open(spec, err, sizeof(err)));
	blk_close(w);
	r = blk_open(spec, err, sizeof(err));
	assert_non_null(r);
	w = blk_open(spec, err, sizeof(err)); /* readers share */
	assert_non_null(w);
	assert_null(blk_open(path, err, sizeof(err)));
	blk_close(w);
	blk_close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ring_is_restricted),
		cmocka_unit_test(image_locked),
	};

	return cmocka_run_group_tests_name("virtio-blk backend", tests, setup, teardown);
}
