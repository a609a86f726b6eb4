/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk's backend: the io_uring ring does what a disk does and nothing else (io_uring
 * runs requests without seccomp, so an open or a connect through it would escape the
 * sandbox); images are locked against a second writer. The device over fake guest memory:
 * requests on two queues (VIRTIO_BLK_F_MQ) complete asynchronously and a stop delivers
 * every one; a queue past what the driver may use fails the device; the queues' state
 * round-trips through a save and a restore, which refuses a disk with another queue count.
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
#include "capsule/log.h"
#include "capsule/vm.h"

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

#define MEM (4u << 20)
#define RINGS(q) (0x1000u + (q) * 0x3000u) /* desc, avail at + 0x1000, used at + 0x2000 */
#define DATA 0x100000u
#define QSIZE 16

static struct vm vm;

/* A disk on a file of its own (sector s holds byte s & 0xff), as a device without a thread. */
static struct blk_backend *disk(struct virtio_dev *d, const char *opts, char *file)
{
	char spec[128], err[256];
	struct blk_backend *b;
	uint8_t sector[512];
	int fd = mkstemp(file);

	assert_true(fd >= 0);
	for (unsigned s = 0; s < 256; s++) {
		memset(sector, (int)s, sizeof(sector));
		assert_int_equal(write(fd, sector, sizeof(sector)), sizeof(sector));
	}
	close(fd);
	snprintf(spec, sizeof(spec), "%s%s", file, opts);
	b = blk_open(spec, err, sizeof(err));
	assert_non_null(b);
	memset(d, 0, sizeof(*d));
	d->ops = &virtio_blk_ops;
	d->priv = b;
	d->vm = &vm;
	d->mem = &vm.mem;
	d->status = VIRTIO_STATUS_DRIVER_OK;
	d->driver_features = 1ull << VIRTIO_F_VERSION_1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		d->kick_fd[q] = -1;
	pthread_mutex_init(&d->lock, NULL);
	return b;
}

static void queue_on(struct virtio_dev *d, unsigned q)
{
	const char *why = NULL;

	d->qcfg[q].num = QSIZE;
	d->qcfg[q].desc = RINGS(q);
	d->qcfg[q].avail = RINGS(q) + 0x1000;
	d->qcfg[q].used = RINGS(q) + 0x2000;
	assert_int_equal(vq_init(&d->vq[q], d->mem, QSIZE, RINGS(q), RINGS(q) + 0x1000,
				 RINGS(q) + 0x2000, false, false, &why), 0);
}

/* Request i on queue q: read sector `sector` into its own 512 bytes (3 descriptors). */
static void add_read(unsigned q, unsigned i, uint64_t sector)
{
	struct virtq_desc *desc = gmem_ptr(&vm.mem, RINGS(q), VIRTQ_DESC_BYTES(QSIZE));
	struct virtq_avail *av = gmem_ptr(&vm.mem, RINGS(q) + 0x1000, VIRTQ_AVAIL_BYTES(QSIZE));
	uint64_t hdr = DATA + (q * QSIZE + i) * 1024, data = hdr + 512, status = hdr + 16;
	struct virtio_blk_req_hdr h = {.type = VIRTIO_BLK_T_IN, .sector = sector};

	memcpy(vm.mem.host + hdr, &h, sizeof(h));
	vm.mem.host[status] = 0xff;
	desc[3 * i] = (struct virtq_desc){hdr, sizeof(h), VIRTQ_DESC_F_NEXT, (uint16_t)(3 * i + 1)};
	desc[3 * i + 1] = (struct virtq_desc){data, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
					      (uint16_t)(3 * i + 2)};
	desc[3 * i + 2] = (struct virtq_desc){status, 1, VIRTQ_DESC_F_WRITE, 0};
	av->ring[av->idx % QSIZE] = (uint16_t)(3 * i);
	__atomic_store_n(&av->idx, (uint16_t)(av->idx + 1), __ATOMIC_RELEASE);
}

static uint16_t used_idx(unsigned q)
{
	struct virtq_used *u = gmem_ptr(&vm.mem, RINGS(q) + 0x2000, VIRTQ_USED_BYTES(QSIZE));

	return __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);
}

static void two_queues_complete(void **state)
{
	char file[] = "/tmp/capsule-test-blk-mq-XXXXXX";
	struct virtio_dev d;
	/* O_DIRECT: the reads are really in flight when the handler returns, and nothing but
	 * the stop completes them here (no device thread runs). */
	struct blk_backend *b = disk(&d, ",queues=2,direct=on", file);

	(void)state;
	memset(vm.mem.host, 0, MEM);
	d.driver_features |= 1ull << VIRTIO_BLK_F_MQ;
	queue_on(&d, 0);
	queue_on(&d, 1);
	for (unsigned i = 0; i < 5; i++) {
		add_read(0, i, 10 + i);
		add_read(1, i, 100 + i);
	}
	pthread_mutex_lock(&d.lock);
	d.ops->queue_notify(&d, 0);
	d.ops->queue_notify(&d, 1);
	pthread_mutex_unlock(&d.lock);
	d.ops->stop(&d); /* every request in flight completes to the driver */
	assert_int_equal(used_idx(0), 5);
	assert_int_equal(used_idx(1), 5);
	assert_false(d.broken);
	for (unsigned q = 0; q < 2; q++)
		for (unsigned i = 0; i < 5; i++) {
			uint64_t hdr = DATA + (q * QSIZE + i) * 1024;

			assert_int_equal(vm.mem.host[hdr + 16], VIRTIO_BLK_S_OK);
			assert_int_equal(vm.mem.host[hdr + 512], (q ? 100 : 10) + i);
			assert_int_equal(vm.mem.host[hdr + 1023], (q ? 100 : 10) + i);
		}
	assert_int_equal(d.stats.requests, 10);
	blk_close(b);
	unlink(file);
}

static void queue_past_mq_fails(void **state)
{
	char file[] = "/tmp/capsule-test-blk-nomq-XXXXXX";
	struct virtio_dev d;
	struct blk_backend *b = disk(&d, ",queues=2", file); /* the driver did not take MQ */

	(void)state;
	memset(vm.mem.host, 0, MEM);
	queue_on(&d, 1);
	add_read(1, 0, 1);
	pthread_mutex_lock(&d.lock);
	d.ops->queue_notify(&d, 1);
	pthread_mutex_unlock(&d.lock);
	assert_true(d.broken);
	assert_int_equal(used_idx(1), 0);
	blk_close(b);
	unlink(file);
}

static void mq_state_round_trip(void **state)
{
	char f1[] = "/tmp/capsule-test-blk-s1-XXXXXX", f2[] = "/tmp/capsule-test-blk-s2-XXXXXX";
	char f3[] = "/tmp/capsule-test-blk-s3-XXXXXX";
	struct virtio_dev d, back, one;
	struct blk_backend *b = disk(&d, ",queues=4", f1), *b2 = disk(&back, ",queues=4", f2);
	struct blk_backend *b1 = disk(&one, "", f3);
	struct virtio_state st;
	const char *why = NULL;

	(void)state;
	memset(vm.mem.host, 0, MEM);
	d.driver_features |= 1ull << VIRTIO_BLK_F_MQ;
	blk_init_config(b, &d);
	for (unsigned q = 0; q < 4; q++) {
		queue_on(&d, q);
		add_read(q, 0, q);
		add_read(q, 1, q + 1);
	}
	pthread_mutex_lock(&d.lock);
	for (unsigned q = 0; q < 4; q++)
		d.ops->queue_notify(&d, q);
	pthread_mutex_unlock(&d.lock);
	d.ops->stop(&d);
	virtio_save(&d, &st);
	assert_int_equal(virtio_restore(&back, &st, &why), 0);
	for (unsigned q = 0; q < 4; q++) {
		assert_true(back.vq[q].ready);
		assert_int_equal(back.vq[q].last_avail, 2);
		assert_int_equal(back.vq[q].used_idx, 2);
		assert_int_equal(back.qcfg[q].desc, RINGS(q));
	}
	assert_int_equal(((struct virtio_blk_config *)back.config)->num_queues, 4);
	assert_int_equal(virtio_restore(&one, &st, &why), -EINVAL);
	assert_non_null(strstr(why, "queues"));
	blk_close(b);
	blk_close(b2);
	blk_close(b1);
	unlink(f1);
	unlink(f2);
	unlink(f3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ring_is_restricted),
		cmocka_unit_test(image_locked),
		cmocka_unit_test(two_queues_complete),
		cmocka_unit_test(queue_past_mq_fails),
		cmocka_unit_test(mq_state_round_trip),
	};
	struct vm_config cfg = {.mem_bytes = MEM, .nr_vcpus = 1};

	log_set_level(LOG_ERROR);
	if (vm_init_nokvm(&vm, &cfg))
		return 1;

	return cmocka_run_group_tests_name("virtio-blk backend", tests, setup, teardown);
}
