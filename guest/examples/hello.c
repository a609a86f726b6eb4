/* SPDX-License-Identifier: Apache-2.0 */
/* The smallest PV guest: print, then power off with code 0. */
#include "kit.h"

int main(void)
{
	printf("Hello from a Capsule PV domain: %llu MiB, %u vCPU(s), cmdline \"%s\"\n",
	       (unsigned long long)(start_info->mem_bytes >> 20), nr_cpus(), start_info->cmdline);
	return 0;
}
