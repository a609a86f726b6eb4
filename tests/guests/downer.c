/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vCPUs that go down while the host pauses and resumes the domain in a loop (the pause
 * deadlock of the hostile-findings issue): every secondary vCPU spins for its own time,
 * 0 to 3 s, then goes down; vCPU 0 waits for all of them and reports.
 */
#include "kit.h"

static volatile unsigned gone;

static void secondary(void *arg)
{
	uint64_t until = tsc_ns() + (uint64_t)(uintptr_t)arg;

	while (tsc_ns() < until)
		__asm__ volatile("pause");
	__atomic_fetch_add(&gone, 1, __ATOMIC_SEQ_CST);
	/* returning takes the vCPU down */
}

int main(void)
{
	unsigned n = nr_cpus();

	TEST_CHECK(n >= 2);
	for (unsigned i = 1; i < n; i++)
		TEST_CHECK(smp_start(i, secondary, (void *)(uintptr_t)((i * 47ull % 3000) * 1000000)) == 0);
	printf("downer: %u vCPUs up, going down over 3 s\n", n - 1);
	while (__atomic_load_n(&gone, __ATOMIC_SEQ_CST) != n - 1)
		sleep_ns(10000000);
	printf("downer: all %u secondary vCPUs went down\n", n - 1);
	test_finish(true);
}
