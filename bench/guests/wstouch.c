/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A working set for bench/workingset.py: at boot it writes every page of a 16 MiB buffer
 * and says "wstouch: ready"; after a restore (the generation counter changed) it reads
 * every page of it and prints "wstouch: touched N pages sum S" as its first line.
 */
#include "kit.h"

#define PAGES 4096u

static uint64_t buffer[PAGES][512] __attribute__((aligned(4096)));

int main(void)
{
	uint32_t gen = __atomic_load_n(&shared_info->generation, __ATOMIC_ACQUIRE);
	uint64_t sum = 0;

	for (unsigned k = 0; k < PAGES; k++)
		buffer[k][0] = k;
	TEST_CHECK(evtchn_bind_timer() > 0);
	printf("wstouch: ready\n");
	while (__atomic_load_n(&shared_info->generation, __ATOMIC_ACQUIRE) == gen) {
		uint64_t next = time_ns() + 1000000;

		timer_set(next);
		block(next);
	}
	for (unsigned k = 0; k < PAGES; k++)
		sum += ((volatile uint64_t *)buffer[k])[0];
	printf("wstouch: touched %u pages sum %llu\n", PAGES, (unsigned long long)sum);
	for (;;)
		block(time_ns() + 1000000000ull);
}
