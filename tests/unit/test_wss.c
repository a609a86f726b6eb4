/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The write working-set estimator (include/capsule/wss.h): samples inside RAM, the
 * fraction of a known dirty set within bounds for every seed tried, the averages' rise and
 * fall, and bad sizes refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capsule/dirty.h"
#include "capsule/wss.h"

#define SIZE (128u << 20) /* 32768 pages */
#define PAGES (SIZE / DIRTY_PAGE)

static uint64_t bits[PAGES / 64];

/* Every other page of every other pair... a fixed pattern with exactly `every` in n set. */
static void dirty_every(unsigned num, unsigned den)
{
	memset(bits, 0, sizeof(bits));
	for (uint64_t p = 0; p < PAGES; p++)
		if ((p * 2654435761u >> 7) % den < num) /* scattered, not one run */
			bits[p / 64] |= 1ull << (p % 64);
}

static void refuses_bad_sizes(void **state)
{
	struct guest_mem m;
	struct wss_est e;

	(void)state;
	assert_int_equal(gmem_init(&m, 1 << 20), 0);
	assert_int_equal(wss_est_init(&e, &m, 0, 1), -EINVAL);
	assert_int_equal(wss_est_init(&e, &m, WSS_SAMPLE_MAX + 1, 1), -EINVAL);
	assert_int_equal(wss_est_init(&e, &m, WSS_SAMPLE_MAX, 1), 0);
	wss_est_destroy(&e);
	gmem_destroy(&m);
}

/* The PCI hole of an HVM domain is not RAM: never sampled. */
static void samples_only_ram(void **state)
{
	struct guest_mem m;
	struct wss_est e;

	(void)state;
	assert_int_equal(gmem_init(&m, 64 << 20), 0);
	assert_int_equal(gmem_set_hole(&m, 16 << 20, 48 << 20), 0);
	assert_int_equal(wss_est_init(&e, &m, 4096, 7), 0);
	wss_est_first(&e);
	for (unsigned i = 0; i < e.n; i++) {
		assert_true(e.cur[i] < (64u << 20) / DIRTY_PAGE);
		assert_false(e.cur[i] >= (16u << 20) / DIRTY_PAGE &&
			     e.cur[i] < (48u << 20) / DIRTY_PAGE);
		assert_true(e.mask[e.cur[i] / 64] >> (e.cur[i] % 64) & 1);
	}
	wss_est_destroy(&e);
	gmem_destroy(&m);
}

/*
 * With the default sample (256 pages: a standard deviation of at most 0.031), a domain
 * writing half its pages reads 0.3 to 0.7 in every single period for 200 seeds (the
 * integration test's bounds are over 6 standard deviations wide), all pages 1, none 0.
 */
static void fraction_within_bounds(void **state)
{
	struct guest_mem m;

	(void)state;
	assert_int_equal(gmem_init(&m, SIZE), 0);
	dirty_every(1, 2);
	assert_true(dirty_count(bits, PAGES) > PAGES * 45 / 100 &&
		    dirty_count(bits, PAGES) < PAGES * 55 / 100);
	for (uint64_t seed = 1; seed <= 200; seed++) {
		struct wss_est e;

		assert_int_equal(wss_est_init(&e, &m, WSS_SAMPLE_DEFAULT, seed), 0);
		wss_est_first(&e);
		for (unsigned period = 0; period < 10; period++) {
			double f;

			wss_est_pick(&e);
			f = wss_est_period(&e, bits);
			if (f < 0.3 || f > 0.7)
				fail_msg("seed %llu period %u: %.3f", (unsigned long long)seed,
					 period, f);
		}
		assert_true(wss_est_estimate(&e) > 0.4 && wss_est_estimate(&e) < 0.6);
		wss_est_destroy(&e);
	}
	{
		struct wss_est e;

		assert_int_equal(wss_est_init(&e, &m, WSS_SAMPLE_DEFAULT, 3), 0);
		wss_est_first(&e);
		memset(bits, 0xff, sizeof(bits));
		wss_est_pick(&e);
		assert_true(wss_est_period(&e, bits) == 1.0);
		memset(bits, 0, sizeof(bits));
		wss_est_pick(&e);
		assert_true(wss_est_period(&e, bits) == 0.0);
		wss_est_destroy(&e);
	}
	gmem_destroy(&m);
}

/* ESX's rule: the estimate (the max of the averages) rises at once and falls slowly. */
static void averages_rise_fast_fall_slow(void **state)
{
	struct guest_mem m;
	struct wss_est e;

	(void)state;
	assert_int_equal(gmem_init(&m, SIZE), 0);
	assert_int_equal(wss_est_init(&e, &m, 1024, 11), 0);
	wss_est_first(&e);
	memset(bits, 0, sizeof(bits));
	for (unsigned i = 0; i < 5; i++) {
		wss_est_pick(&e);
		wss_est_period(&e, bits);
	}
	assert_true(wss_est_estimate(&e) == 0.0);
	memset(bits, 0xff, sizeof(bits)); /* it starts writing everything */
	wss_est_pick(&e);
	wss_est_period(&e, bits);
	assert_true(e.fast == 0.5 && e.slow == 0.125 && wss_est_estimate(&e) == 0.5);
	for (unsigned i = 0; i < 20; i++) {
		wss_est_pick(&e);
		wss_est_period(&e, bits);
	}
	assert_true(wss_est_estimate(&e) > 0.99);
	memset(bits, 0, sizeof(bits)); /* and stops: the slow average holds it up */
	for (unsigned i = 0; i < 3; i++) {
		wss_est_pick(&e);
		wss_est_period(&e, bits);
	}
	assert_true(e.fast < 0.13 && e.slow > 0.6 && wss_est_estimate(&e) == e.slow);
	assert_int_equal(e.periods, 29);
	wss_est_destroy(&e);
	gmem_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(refuses_bad_sizes),
		cmocka_unit_test(samples_only_ram),
		cmocka_unit_test(fraction_within_bounds),
		cmocka_unit_test(averages_rise_fast_fall_slow),
	};

	return cmocka_run_group_tests_name("write working-set estimator", tests, NULL, NULL);
}
