/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_expect (src/virtio/device.c): after a delivery the device spins for the driver's
 * answer with the driver's kicks suppressed. Whatever the timing, no answer is lost: the
 * spin serves it, or the driver's add asks for a kick. A driver that never answers costs a
 * window that halves to nothing and then rests; kicks are always back on afterwards.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule/devices.h"
#include "capsule/log.h"
#include "capsule/vm.h"

#define MEM (1u << 20)
#define DESC 0x1000u
#define AVAIL 0x2000u
#define USED 0x3000u
#define BUF 0x10000u
#define QSIZE 8

static struct vm vm;
static struct virtio_dev d;
static unsigned served;
static bool evidx; /* the driver took VIRTIO_F_EVENT_IDX (else it reads NO_NOTIFY) */

static int64_t count(struct virtio_dev *dev, unsigned q, const struct vq_chain *c)
{
	(void)dev, (void)q, (void)c;
	__atomic_fetch_add(&served, 1, __ATOMIC_RELAXED);
	return 0;
}

static const struct virtio_server server = {.chain = count};

static struct virtq_avail *avail(void)
{
	return gmem_ptr(&vm.mem, AVAIL, VIRTQ_AVAIL_BYTES(QSIZE));
}

static struct virtq_used *used(void)
{
	return gmem_ptr(&vm.mem, USED, VIRTQ_USED_BYTES(QSIZE));
}

static volatile uint16_t *avail_event(void)
{
	return virtq_avail_event(used(), QSIZE);
}

/* Would the driver's next add notify the device? (what a driver reads, in either mode) */
static bool add_would_kick(void)
{
	uint16_t idx = __atomic_load_n(&avail()->idx, __ATOMIC_RELAXED);

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (evidx)
		return virtq_need_event(*avail_event(), (uint16_t)(idx + 1), idx);
	return !(__atomic_load_n(&used()->flags, __ATOMIC_RELAXED) & VIRTQ_USED_F_NO_NOTIFY);
}

/* The driver publishes one buffer, as the guest kit does; true if it must kick. */
static bool driver_add(void)
{
	struct virtq_avail *a = avail();
	uint16_t old = __atomic_load_n(&a->idx, __ATOMIC_RELAXED);
	struct virtq_desc *dsc = gmem_ptr(&vm.mem, DESC + 16u * (old % QSIZE), 16);

	*dsc = (struct virtq_desc){BUF, 8, VIRTQ_DESC_F_WRITE, 0};
	a->ring[old % QSIZE] = old % QSIZE;
	__atomic_store_n(&a->idx, (uint16_t)(old + 1), __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (evidx)
		return virtq_need_event(*avail_event(), (uint16_t)(old + 1), old);
	return !(__atomic_load_n(&used()->flags, __ATOMIC_RELAXED) & VIRTQ_USED_F_NO_NOTIFY);
}

static void expect(void)
{
	pthread_mutex_lock(&d.lock);
	virtio_expect(&d, 0, &server);
	pthread_mutex_unlock(&d.lock);
}

/* Kicks are on as a drained queue leaves them: the driver's next add notifies. */
static bool kicks_on(void)
{
	return evidx ? *avail_event() == d.vq[0].last_avail : used()->flags == 0;
}

static int setup(void **state)
{
	struct vm_config cfg = {.mem_bytes = MEM, .nr_vcpus = 1};
	uint32_t v;

	(void)state;
	log_set_level(LOG_ERROR);
	served = 0;
	memset(&d, 0, sizeof(d));
	if (vm_init_nokvm(&vm, &cfg) ||
	    virtio_mmio_add(&d, &vm, &virtio_rng_ops, NULL, 0x40000000, (struct irq_sink){0}))
		return -1;
#define WR(off, val) (v = (val), virtio_mmio_access(&d, off, (uint8_t *)&v, 4, true))
	WR(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	WR(VIRTIO_MMIO_DRIVER_FEATURES, evidx ? 1u << VIRTIO_F_EVENT_IDX : 0);
	WR(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	WR(VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	WR(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				       VIRTIO_STATUS_FEATURES_OK);
	WR(VIRTIO_MMIO_QUEUE_SEL, 0);
	WR(VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	WR(VIRTIO_MMIO_QUEUE_DESC_LOW, DESC);
	WR(VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL);
	WR(VIRTIO_MMIO_QUEUE_USED_LOW, USED);
	WR(VIRTIO_MMIO_QUEUE_READY, 1);
	WR(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				       VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
#undef WR
	return virtio_queue_usable(&d, 0) && d.vq[0].event_idx == evidx ? 0 : -1;
}

static int with_event_idx(void **state)
{
	evidx = true;
	return setup(state);
}

static int without_event_idx(void **state)
{
	evidx = false;
	return setup(state);
}

static int teardown(void **state)
{
	(void)state;
	virtio_mmio_remove(&d);
	vm_destroy(&vm);
	return 0;
}

static void an_answer_already_there_is_served_without_a_spin(void **state)
{
	(void)state;
	driver_add();
	expect();
	assert_int_equal(served, 1);
	assert_int_equal(d.stats.expects, 0);
	assert_true(kicks_on());
	assert_true(driver_add()); /* and the next add kicks */
}

static void a_silent_driver_costs_a_halving_window_then_rests(void **state)
{
	/* 50, 25, 12.5, 6.25 and 3.125 us, then below the 2 us floor: rest. */
	const unsigned spins = 5;

	(void)state;
	for (unsigned i = 1; i <= spins; i++) {
		expect();
		assert_int_equal(d.stats.expects, i);
		assert_true(kicks_on());
	}
	assert_int_equal(d.stats.expect_hits, 0);
	assert_true(d.stats.expect_ns >= 96875); /* each miss spun its whole window */
	assert_int_equal(d.expect_ns[0], 0);
	for (unsigned i = 0; i < VIRTIO_EXPECT_REST; i++)
		expect();
	assert_int_equal(d.stats.expects, spins);
	assert_true(kicks_on());
	expect(); /* rested: it tries the largest window again */
	assert_int_equal(d.stats.expects, spins + 1);
	assert_int_equal(d.expect_ns[0], VIRTIO_POLL_MAX_NS / 2);
	assert_int_equal(served, 0);
}

/* A driver that answers as soon as it sees kicks suppressed, or when the spin is over. */
static struct {
	unsigned round, added;
	bool done, kick;
} drv;

static void *driver(void *arg)
{
	(void)arg;
	for (unsigned k = 1; k <= 500; k++) {
		while (__atomic_load_n(&drv.round, __ATOMIC_ACQUIRE) != k)
			__builtin_ia32_pause();
		/* Kicks suppressed (the device is spinning), or the spin is over. */
		while (add_would_kick() && !__atomic_load_n(&drv.done, __ATOMIC_ACQUIRE))
			__builtin_ia32_pause();
		drv.kick = driver_add();
		__atomic_store_n(&drv.added, k, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void no_answer_is_lost_whatever_the_timing(void **state)
{
	unsigned caught = 0;
	pthread_t t;

	(void)state;
	memset(&drv, 0, sizeof(drv));
	assert_int_equal(pthread_create(&t, NULL, driver, NULL), 0);
	for (unsigned k = 1; k <= 500; k++) {
		unsigned before = served;
		uint64_t hits = d.stats.expect_hits;

		/* Every round at the largest window: the back-off is the test above's. */
		d.expect_ns[0] = 0, d.expect_rest[0] = 0;
		__atomic_store_n(&drv.done, false, __ATOMIC_RELEASE);
		__atomic_store_n(&drv.round, k, __ATOMIC_RELEASE);
		expect();
		__atomic_store_n(&drv.done, true, __ATOMIC_RELEASE);
		while (__atomic_load_n(&drv.added, __ATOMIC_ACQUIRE) != k)
			__builtin_ia32_pause();
		if (d.stats.expect_hits != hits) {
			/* Caught: the driver added while kicks were off, so with the event index it
			 * was not told to kick. (NO_NOTIFY is a hint: a driver that reads the flags
			 * after the drain turned them back on kicks once for nothing.) */
			caught++;
			if (evidx)
				assert_false(drv.kick);
			assert_int_equal(served, before + 1);
		}
		if (served == before) {
			/* Not caught: then the driver was told to kick, and the kick serves it. */
			assert_true(drv.kick);
			pthread_mutex_lock(&d.lock);
			virtio_serve(&d, 0, count);
			pthread_mutex_unlock(&d.lock);
		}
		assert_int_equal(served, before + 1);
		assert_true(kicks_on());
	}
	pthread_join(t, NULL);
	/* A driver spinning on another core answers within the window most of the time; on
	 * one CPU it cannot run while the device spins. */
	if (sysconf(_SC_NPROCESSORS_ONLN) > 1)
		assert_true(caught > 0);
	assert_int_equal(d.stats.expect_hits, caught);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define BOTH(t)                                                                             \
	cmocka_unit_test_prestate_setup_teardown(t, with_event_idx, teardown, NULL),          \
		cmocka_unit_test_prestate_setup_teardown(t, without_event_idx, teardown, NULL)
		BOTH(an_answer_already_there_is_served_without_a_spin),
		BOTH(a_silent_driver_costs_a_halving_window_then_rests),
		BOTH(no_answer_is_lost_whatever_the_timing),
#undef BOTH
	};

	return cmocka_run_group_tests_name("virtio_expect", tests, NULL, NULL);
}
