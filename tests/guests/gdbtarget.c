/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The debugger's target (tests/integration/gdb.py): gdb stops at gdb_target_step, reads
 * gdb_magic and gdb_counter, and writes 1000 into gdb_counter at the first stop; the
 * guest then sees 1000 + 1 + 2 + 3. With two vCPUs, the second spins in gdb_spinner.
 */
#include "kit.h"

volatile uint64_t gdb_counter;
volatile uint64_t gdb_spins;
const char gdb_magic[16] = "capsule-gdb-42";

uint64_t gdb_target_step(uint64_t x);
__attribute__((noinline)) uint64_t gdb_target_step(uint64_t x)
{
	gdb_counter += x;
	return gdb_counter;
}

static void gdb_spinner(void *arg)
{
	(void)arg;
	for (;;)
		__atomic_fetch_add(&gdb_spins, 1, __ATOMIC_RELAXED);
}

int main(void)
{
	if (nr_cpus() > 1)
		TEST_CHECK(smp_start(1, gdb_spinner, NULL) == 0);
	for (uint64_t i = 1; i <= 3; i++)
		gdb_target_step(i);
	printf("gdbtarget: gdb_counter=%llu magic=%s\n", (unsigned long long)gdb_counter,
	       gdb_magic);
	TEST_CHECK(gdb_counter == 1006);
	test_finish(true);
}
