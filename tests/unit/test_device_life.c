/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A device's life within a boot, on a real device thread over fake guest memory: the
 * receive path takes host input only while the guest has room for it (the rest waits in
 * the host pipe, nothing is dropped), a stopped device reads no input and serves no kick,
 * and starting it again serves what came in between; a device's own state (the balloon's)
 * survives save and restore, and a hostile saved state is refused whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule/devices.h"
#include "capsule/log.h"
#include "capsule/vm.h"

#define MEM (8u << 20)
#define DESC 0x1000u
#define AVAIL 0x2000u
#define USED 0x3000u
#define BUF 0x10000u
#define QSIZE 8

static struct vm vm;

static int setup(void **state)
{
	struct vm_config cfg = {.mem_bytes = MEM, .nr_vcpus = 1};

	(void)state;
	log_set_level(LOG_ERROR);
	return vm_init_nokvm(&vm, &cfg);
}

static int teardown(void **state)
{
	(void)state;
	vm_destroy(&vm);
	return 0;
}

static void reg_write(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	virtio_mmio_access(d, off, (uint8_t *)&v, 4, true);
}

/* What a driver does: accept VERSION_1, set up queue q at the fixed rings, DRIVER_OK. */
static void drive(struct virtio_dev *d, unsigned q)
{
	uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;

	memset(vm.mem.host, 0, 0x20000);
	reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	reg_write(d, VIRTIO_MMIO_STATUS, s);
	reg_write(d, VIRTIO_MMIO_QUEUE_SEL, q);
	reg_write(d, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	reg_write(d, VIRTIO_MMIO_QUEUE_DESC_LOW, DESC);
	reg_write(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL);
	reg_write(d, VIRTIO_MMIO_QUEUE_USED_LOW, USED);
	reg_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	reg_write(d, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_DRIVER_OK);
	assert_true(virtio_queue_usable(d, q));
}

static struct virtq_avail *avail(void)
{
	return gmem_ptr(&vm.mem, AVAIL, VIRTQ_AVAIL_BYTES(QSIZE));
}

static struct virtq_used *used(void)
{
	return gmem_ptr(&vm.mem, USED, VIRTQ_USED_BYTES(QSIZE));
}

/* Give the device one 64-byte receive buffer (descriptor i, at BUF + 64 i), and kick. */
static void add_buffer(struct virtio_dev *d, uint16_t i)
{
	struct virtq_desc *dsc = gmem_ptr(&vm.mem, DESC + 16u * i, 16);
	uint64_t one = 1;

	*dsc = (struct virtq_desc){.addr = BUF + 64u * i, .len = 64, .flags = VIRTQ_DESC_F_WRITE};
	avail()->ring[avail()->idx % QSIZE] = i;
	__atomic_store_n(&avail()->idx, (uint16_t)(avail()->idx + 1), __ATOMIC_RELEASE);
	assert_int_equal(write(d->kick_fd[0], &one, sizeof(one)), sizeof(one));
}

/* Wait (bounded) until the used ring holds n entries; false if it never does. */
static bool wait_used(uint16_t n)
{
	for (int i = 0; i < 2000; i++) {
		if (__atomic_load_n(&used()->idx, __ATOMIC_ACQUIRE) >= n)
			return true;
		usleep(1000);
	}
	return false;
}

/* Bytes waiting, unread, in the host pipe; waits (bounded) until it is `want`. */
static int pipe_holds(int fd, int want)
{
	int n = -1;

	for (int i = 0; i < 2000; i++) {
		if (ioctl(fd, FIONREAD, &n) < 0)
			return -1;
		if (n == want)
			return n;
		usleep(1000);
	}
	return n;
}

static void expect_buffer(uint16_t used_slot, uint16_t desc, const char *text)
{
	struct virtq_used_elem *e = &used()->ring[used_slot % QSIZE];

	assert_int_equal(e->id, desc);
	assert_int_equal(e->len, strlen(text));
	assert_memory_equal(gmem_ptr(&vm.mem, BUF + 64u * desc, 64), text, strlen(text));
}

static void receive_back_pressure_and_stop(void **state)
{
	static struct virtio_dev d;
	struct console_backend *cb;
	int fds[2];

	(void)state;
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	cb = console_open(fds[0], fopen("/dev/null", "w"));
	assert_non_null(cb);
	assert_int_equal(virtio_mmio_add(&d, &vm, &virtio_console_ops, cb, 0x40000000,
					 (struct irq_sink){0}), 0);
	console_init_config(&d);
	drive(&d, 0);
	assert_int_equal(virtio_dev_start(&d), 0);

	/* No receive buffer: one read is taken and held, the next input stays in the pipe. */
	assert_int_equal(write(fds[1], "hello", 5), 5);
	assert_int_equal(pipe_holds(fds[0], 0), 0);
	assert_int_equal(write(fds[1], "world!", 6), 6);
	usleep(20000);
	assert_int_equal(pipe_holds(fds[0], 6), 6);
	assert_int_equal(used()->idx, 0);

	/* A buffer: the held input goes in, and the pipe is read again. */
	add_buffer(&d, 0);
	assert_true(wait_used(1));
	expect_buffer(0, 0, "hello");
	assert_int_equal(pipe_holds(fds[0], 0), 0);
	add_buffer(&d, 1);
	assert_true(wait_used(2));
	expect_buffer(1, 1, "world!");

	/* Stopped: input is not read, a kick is not served. */
	virtio_dev_stop(&d);
	assert_int_equal(write(fds[1], "late", 4), 4);
	add_buffer(&d, 2);
	usleep(20000);
	assert_int_equal(pipe_holds(fds[0], 4), 4);
	assert_int_equal(used()->idx, 2);

	/* Started again: the kick that came in between is served, the input arrives. */
	assert_int_equal(virtio_dev_start(&d), 0);
	assert_true(wait_used(3));
	expect_buffer(2, 2, "late");
	assert_int_equal(pipe_holds(fds[0], 0), 0);

	/* The writer goes: end of input, and the device keeps serving (nothing spins). */
	close(fds[1]);
	usleep(20000);
	assert_true(virtio_queue_usable(&d, 0));
	virtio_dev_stop(&d);
	virtio_mmio_remove(&d);
	console_close(cb);
	close(fds[0]);
}

/* A kick to a stopped device waits; starting it serves the queue once over. */
static void stopped_device_serves_nothing(void **state)
{
	static struct virtio_dev d;

	(void)state;
	assert_int_equal(virtio_mmio_add(&d, &vm, &virtio_rng_ops, NULL, 0x40000000,
					 (struct irq_sink){0}), 0);
	drive(&d, 0);
	add_buffer(&d, 0);
	assert_true(wait_used(1));
	virtio_dev_stop(&d);
	add_buffer(&d, 1);
	usleep(20000);
	assert_int_equal(used()->idx, 1);
	assert_int_equal(virtio_dev_start(&d), 0);
	assert_true(wait_used(2));
	assert_int_equal(used()->ring[1].id, 1);
	assert_int_equal(used()->ring[1].len, 64);
	virtio_mmio_remove(&d);
}

static void balloon_state_round_trip(void **state)
{
	static struct virtio_dev d, e, r;
	struct balloon_backend *a = balloon_open(0), *b = balloon_open(0);
	struct virtio_state st, bad;
	const char *why = NULL;
	char text[512];

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(virtio_mmio_add(&d, &vm, &virtio_balloon_ops, a, 0x40000000,
					 (struct irq_sink){0}), 0);
	assert_int_equal(virtio_mmio_add(&e, &vm, &virtio_balloon_ops, b, 0x40000200,
					 (struct irq_sink){0}), 0);
	balloon_start(a, &d);
	balloon_start(b, &e);
	balloon_set_target(&d, 3);
	pthread_mutex_lock(&d.lock);
	virtio_save(&d, &st);
	pthread_mutex_unlock(&d.lock);
	assert_true(st.extra_len > 0);

	/* Hostile extras: refused whole, nothing of them taken. */
	e.status = 0x55;
	bad = st;
	bad.extra_len = 5;
	assert_int_equal(virtio_restore(&e, &bad, &why), -EINVAL);
	assert_non_null(strstr(why, "wrong size"));
	bad = st;
	bad.extra_len = VIRTIO_EXTRA_MAX + 1;
	assert_int_equal(virtio_restore(&e, &bad, &why), -EINVAL);
	bad = st;
	memset(bad.extra, 0xff, 8); /* a target of 2^64 - 1 pages */
	assert_int_equal(virtio_restore(&e, &bad, &why), -EINVAL);
	assert_non_null(strstr(why, "out of range"));
	assert_int_equal(e.status, 0x55);
	balloon_describe(&e, text, sizeof(text));
	assert_non_null(strstr(text, "target_mib=0 "));

	/* The real state: the target comes back with the config space. */
	assert_int_equal(virtio_restore(&e, &st, &why), 0);
	balloon_describe(&e, text, sizeof(text));
	assert_non_null(strstr(text, "target_mib=3 "));

	/* A device that keeps no state of its own refuses a state that has some. */
	assert_int_equal(virtio_mmio_add(&r, &vm, &virtio_rng_ops, NULL, 0x40000400,
					 (struct irq_sink){0}), 0);
	pthread_mutex_lock(&r.lock);
	virtio_save(&r, &bad);
	pthread_mutex_unlock(&r.lock);
	assert_int_equal(bad.extra_len, 0);
	assert_int_equal(virtio_restore(&r, &bad, &why), 0);
	bad.extra_len = 4;
	assert_int_equal(virtio_restore(&r, &bad, &why), -EINVAL);
	assert_non_null(strstr(why, "own state"));
	virtio_mmio_remove(&d);
	virtio_mmio_remove(&e);
	virtio_mmio_remove(&r);
	balloon_close(a);
	balloon_close(b);
}

/*
 * Free page reporting from a hostile driver: one chain of four buffers (a device-readable
 * one first, as a chain must have them). Only the whole
 * device-writable page at or above 1 MiB is released; a page below 1 MiB (the VMM's and
 * start_info's), a buffer covering no whole page, and a device-readable buffer are left as
 * they are, and the chain comes back.
 */
static void balloon_page_reporting(void **state)
{
	static struct virtio_dev d;
	struct balloon_backend *b = balloon_open(0);
	static const struct {
		uint64_t addr;
		uint32_t len;
		uint16_t flags;
	} bufs[] = {{0x400000, 4096, 0}, {0x200000, 4096, VIRTQ_DESC_F_WRITE},
		    {0x80000, 4096, VIRTQ_DESC_F_WRITE}, {0x300800, 4096, VIRTQ_DESC_F_WRITE}};
	uint8_t *mem;
	uint64_t one = 1;
	char text[512];

	(void)state;
	assert_non_null(b);
	assert_int_equal(virtio_mmio_add(&d, &vm, &virtio_balloon_ops, b, 0x40000000,
					 (struct irq_sink){0}), 0);
	balloon_start(b, &d);
	drive(&d, 3);
	mem = vm.mem.host;
	for (unsigned i = 0; i < 4; i++) {
		struct virtq_desc *dsc = gmem_ptr(&vm.mem, DESC + 16u * i, 16);

		memset(mem + (bufs[i].addr & ~0xfffull), 0x5a, 8192);
		*dsc = (struct virtq_desc){.addr = bufs[i].addr, .len = bufs[i].len,
					   .flags = (uint16_t)(bufs[i].flags |
							       (i < 3 ? VIRTQ_DESC_F_NEXT : 0)),
					   .next = (uint16_t)(i + 1)};
	}
	assert_int_equal(virtio_dev_start(&d), 0);
	avail()->ring[0] = 0;
	__atomic_store_n(&avail()->idx, 1, __ATOMIC_RELEASE);
	assert_int_equal(write(d.kick_fd[3], &one, sizeof(one)), sizeof(one));
	assert_true(wait_used(1));
	assert_int_equal(used()->ring[0].id, 0);
	assert_int_equal(mem[0x200000], 0);          /* released: reads zero */
	assert_int_equal(mem[0x200fff], 0);
	assert_int_equal(mem[0x201000], 0x5a);       /* the next page was not reported */
	assert_int_equal(mem[0x80000], 0x5a);        /* below 1 MiB */
	assert_int_equal(mem[0x300800], 0x5a);       /* no whole page in it */
	assert_int_equal(mem[0x301000], 0x5a);
	assert_int_equal(mem[0x400000], 0x5a);       /* device-readable */
	balloon_describe(&d, text, sizeof(text));
	assert_non_null(strstr(text, "reported_pages=1"));
	virtio_mmio_remove(&d);
	balloon_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(receive_back_pressure_and_stop),
		cmocka_unit_test(stopped_device_serves_nothing),
		cmocka_unit_test(balloon_state_round_trip),
		cmocka_unit_test(balloon_page_reporting),
	};

	return cmocka_run_group_tests_name("device lifecycle", tests, setup, teardown);
}
