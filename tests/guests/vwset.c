/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A working set to record (tests/integration/workingset.py, docs/snapshot.md): page k of a
 * 1 MiB buffer holds k + 7 in its first word. It prints where the buffer lies, then ticks
 * every 10 ms ("vwset: tick N gen G"). Once it sees the generation change (restored), it
 * reads every fourth page of the buffer, checks each holds its value and says
 * "vwset: touched 64 pages from 0x... ok" (or "bad page k"), then ticks on.
 */
#include "virtio.h"

#define TICK_NS 10000000ull
#define PAGES 256u

static uint64_t buffer[PAGES][512] __attribute__((aligned(4096)));

int main(void)
{
	uint32_t gen = __atomic_load_n(&shared_info->generation, __ATOMIC_ACQUIRE);
	uint64_t next;

	for (unsigned k = 0; k < PAGES; k++)
		buffer[k][0] = k + 7;
	TEST_CHECK(evtchn_bind_timer() > 0);
	printf("vwset: buffer 0x%llx pages %u\n", (unsigned long long)(uintptr_t)buffer, PAGES);
	next = time_ns() + TICK_NS;
	for (uint64_t tick = 0;; tick++) {
		uint32_t g = __atomic_load_n(&shared_info->generation, __ATOMIC_ACQUIRE);

		if (g != gen) {
			unsigned bad = PAGES;

			gen = g;
			for (unsigned k = 0; k < PAGES; k += 4)
				if (((volatile uint64_t *)buffer[k])[0] != k + 7)
					bad = k;
			if (bad == PAGES)
				printf("vwset: touched %u pages from 0x%llx ok\n", PAGES / 4,
				       (unsigned long long)(uintptr_t)buffer);
			else
				printf("vwset: bad page %u\n", bad);
		}
		printf("vwset: tick %llu gen %u\n", (unsigned long long)tick, gen);
		while (time_ns() < next) {
			timer_set(next);
			block(next);
		}
		next += TICK_NS;
	}
}
