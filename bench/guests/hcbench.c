/* SPDX-License-Identifier: Apache-2.0 */
/* Hypercall benchmark guest: `--cmdline N` round trips of CAP_HC_TIME, timed in the guest. */
#include "kit.h"

int main(void)
{
	uint64_t n = strtoul(start_info->cmdline, NULL, 10), t0, t1;

	if (!n)
		n = 20000;
	t0 = time_ns();
	for (uint64_t i = 0; i < n; i++)
		hypercall(CAP_HC_TIME, 0, 0, 0, 0);
	t1 = time_ns();
	printf("hcbench: calls=%llu ns_per_call=%llu\n", (unsigned long long)n,
	       (unsigned long long)((t1 - t0) / n));
	return 0;
}
