/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dirties memory at a set rate and checks it never loses a write, for live migration
 * (tests/integration/migrate.py): 16 MiB of pages, all stamped once at the start; every
 * 10 ms it writes K pages (the cmdline, default 80: 32 MiB/s), each stamped with a sequence number at its first and
 * last word and in a table in other pages, and checks 256 pages against the table. After
 * a restore or migration (shared_info->generation changes) it checks every page: a page
 * the VMM did not carry over, or carried stale, holds another number than the table.
 * A second number on the cmdline is the sleep between ticks in ms (default 10); 0 makes it
 * a fierce dirtier that never sleeps (auto-converge's test), printing its tick line every
 * 10 ms of domain time instead of every tick. A third, if not 0, powers it off after that
 * many ticks (the teardown race test, tests/integration/teardown.py).
 * Prints "vdirty: tick N seq S" each tick, "vdirty: verified P pages gen G" after the full
 * check, and "vdirty: MISMATCH ..." then the FAILURE line if a page is wrong.
 */
#include "kit.h"

#define PAGES 4096u
#define WORDS 512u

static uint64_t arena[PAGES][WORDS] __attribute__((aligned(4096)));
static uint64_t table[PAGES]; /* the number each page should hold */

static bool good(unsigned p)
{
	if (arena[p][0] == table[p] && arena[p][WORDS - 1] == table[p])
		return true;
	printf("vdirty: MISMATCH page %u holds %llu/%llu, the table %llu\n", p,
	       (unsigned long long)arena[p][0], (unsigned long long)arena[p][WORDS - 1],
	       (unsigned long long)table[p]);
	return false;
}

int main(void)
{
	uint32_t gen = __atomic_load_n(&shared_info->generation, __ATOMIC_ACQUIRE);
	char *rest;
	unsigned long k = strtoul(start_info->cmdline, &rest, 10);
	unsigned long ms = *rest ? strtoul(rest, &rest, 10) : 10;
	unsigned long last = *rest ? strtoul(rest, NULL, 10) : 0;
	uint64_t seq = 0, shown = 0;
	unsigned cursor = 0, check = 0;

	if (!k || k > PAGES)
		k = 80;
	if (ms > 1000)
		ms = 10;
	/* Every page holds data from the start: a snapshot or round 0 has all 16 MiB to carry
	 * however slowly it dirties (bench/encap.py compares rates on the same data). */
	for (unsigned p = 0; p < PAGES; p++) {
		seq++;
		arena[p][0] = arena[p][WORDS - 1] = table[p] = seq;
	}
	printf("vdirty: %lu pages per tick, %lu ms apart, gen %u\n", k, ms, gen);
	for (uint64_t tick = 0;; tick++) {
		uint32_t g = __atomic_load_n(&shared_info->generation, __ATOMIC_ACQUIRE);

		if (last && tick == last) {
			printf("vdirty: %lu ticks, powering off\n", last);
			poweroff(0);
		}

		if (g != gen) {
			for (unsigned p = 0; p < PAGES; p++)
				TEST_CHECK(good(p));
			printf("vdirty: verified %u pages gen %u\n", PAGES, g);
			gen = g;
		}
		for (unsigned long i = 0; i < k; i++) {
			unsigned p = cursor++ % PAGES;

			seq++;
			arena[p][0] = seq;
			arena[p][WORDS - 1] = seq;
			table[p] = seq;
		}
		for (unsigned i = 0; i < 256; i++)
			TEST_CHECK(good(check++ % PAGES));
		if (ms) {
			printf("vdirty: tick %llu seq %llu\n", (unsigned long long)tick,
			       (unsigned long long)seq);
			sleep_ns(ms * 1000000ull);
		} else if (tsc_ns() - shown >= 10000000ull) {
			shown = tsc_ns();
			printf("vdirty: tick %llu seq %llu\n", (unsigned long long)tick,
			       (unsigned long long)seq);
		}
	}
}
