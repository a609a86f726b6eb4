/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The debugger's target (tests/integration/gdb.py): gdb stops at gdb_target_step, reads
 * gdb_magic and gdb_counter, and writes 1000 into gdb_counter at the first stop; the
 * kernel then sees 1000 + 1 + 2 + 3. The HVM twin of tests/guests/gdbtarget.c: its code
 * runs at CPL 0, so its debug exits come from KVM_SET_GUEST_DEBUG.
 */
#include "hvm.h"

volatile uint64_t gdb_counter;
const char gdb_magic[16] = "capsule-gdb-42";

uint64_t gdb_target_step(uint64_t x);
__attribute__((noinline)) uint64_t gdb_target_step(uint64_t x)
{
	gdb_counter += x;
	return gdb_counter;
}

int main(void)
{
	for (uint64_t i = 1; i <= 3; i++)
		gdb_target_step(i);
	printf("hvm-gdbtarget: gdb_counter=%llu magic=%s\n", (unsigned long long)gdb_counter,
	       gdb_magic);
	TEST_CHECK(gdb_counter == 1006);
	test_finish(true);
}
