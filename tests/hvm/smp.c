/* SPDX-License-Identifier: Apache-2.0 */
/* Every vCPU comes up through INIT-SIPI-SIPI and the real-mode trampoline. */
#include "hvm.h"

static volatile unsigned seen[64];

static void ap_main(unsigned id)
{
	seen[id % 64]++;
	printf("smp: CPU %u (APIC ID %u) is up\n", id, lapic_id());
}

int main(void)
{
	unsigned want = (unsigned)strtoul(hvm_boot.cmdline, NULL, 10), up;

	TEST_CHECK(want >= 2 && want <= 64);
	TEST_CHECK(lapic_id() == 0);
	up = smp_boot(want, ap_main);
	printf("smp: %u of %u application processors came up\n", up, want - 1);
	TEST_CHECK(up == want - 1);
	for (unsigned i = 1; i < want; i++)
		TEST_CHECK(seen[i] == 1);
	test_finish(true);
}
