/* SPDX-License-Identifier: Apache-2.0 */
/* CPU benchmark guest: runs the compute kernel; `--cmdline ROUNDS`. Prints ns and the hash. */
#include "kit.h"

#include "../compute_kernel.h"

int main(void)
{
	uint32_t rounds = (uint32_t)strtoul(start_info->cmdline, NULL, 10);
	uint64_t t0, t1, hash;

	if (!rounds)
		rounds = 2000;
	t0 = time_ns();
	hash = compute_kernel(rounds);
	t1 = time_ns();
	printf("cpubench: rounds=%u ns=%llu hash=%llx\n", rounds, (unsigned long long)(t1 - t0),
	       (unsigned long long)hash);
	return 0;
}
