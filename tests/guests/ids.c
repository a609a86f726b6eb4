/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The intrusion-detection example's guest (examples/ids/, tests/integration/introspect.py).
 * It declares a table immutable by its symbol's name (capsule_immutable_*: the IDS reads
 * the image's symbols on the host, where the guest cannot lie about them), prints "ids:
 * ready", waits for the line "go" on its console, then works: reads its table and code,
 * writes its own data. With cmdline "code" it then overwrites its own code (as injected
 * code would), with "table" its immutable table; "benign" does neither. Every word it
 * wrote is summed into the last line, so the host can check what it read.
 */
#include "kit.h"

__attribute__((aligned(4096))) uint64_t capsule_immutable_table[512] = {
	[0] = 0x1111111111111111ull, [7] = 0x7777777777777777ull, [511] = 0x5115115115115115ull,
};
volatile uint64_t ids_scratch[64];
volatile uint64_t ids_marker = 0x1d5c0ffee1d5ull; /* introspection reads this */

int ids_check(uint64_t x);
__attribute__((noinline)) int ids_check(uint64_t x)
{
	return (int)(x & 1);
}

void ids_inject_code(void);
__attribute__((noinline)) void ids_inject_code(void)
{
	/* mov $1, %eax; ret: ids_check would say yes to everything */
	static const uint8_t patch[6] = {0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3};
	volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)ids_check;

	for (unsigned i = 0; i < sizeof(patch); i++)
		p[i] = patch[i];
}

void ids_inject_table(void);
__attribute__((noinline)) void ids_inject_table(void)
{
	volatile uint64_t *t = capsule_immutable_table;

	t[7] = 0xbadbadbadbadull; /* a burst of three writes */
	t[8] = 0xbad8;
	t[9] = 0xbad9;
}

static bool wait_go(void)
{
	char line[64];
	size_t len = 0;

	while (len < sizeof(line) - 1) {
		int n = console_read(line + len, sizeof(line) - 1 - len,
				     time_ns() + 60000000000ull);

		if (n <= 0)
			return false;
		len += (size_t)n;
		line[len] = 0;
		if (strstr(line, "go\n"))
			return true;
	}
	return false;
}

int main(void)
{
	const char *mode = start_info->cmdline;
	uint64_t sum = 0;

	printf("ids: ready, marker at %p\n", (void *)&ids_marker);
	TEST_CHECK(wait_go());
	for (uint64_t i = 0; i < 100000; i++) {
		ids_scratch[i % 64] += capsule_immutable_table[i % 512] + (uint64_t)ids_check(i);
		sum += ids_scratch[i % 64];
	}
	if (!strcmp(mode, "code"))
		ids_inject_code();
	if (!strcmp(mode, "table"))
		ids_inject_table();
	printf("ids: done (%s), check(2)=%d table[7]=%llx sum=%llx\n", mode, ids_check(2),
	       (unsigned long long)capsule_immutable_table[7], (unsigned long long)sum);
	test_finish(true);
}
