/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Restore benchmark guest (bench/restore.c): prints a line at start, then hypercalls for
 * ever, and prints a line at once when shared_info->generation changes (it was restored),
 * so that the first console line of a restore comes as soon as the first one of a boot.
 */
#include "kit.h"

int main(void)
{
	uint32_t gen = __atomic_load_n(&shared_info->generation, __ATOMIC_ACQUIRE);

	printf("hcloop: running\n");
	for (;;) {
		uint32_t g = __atomic_load_n(&shared_info->generation, __ATOMIC_ACQUIRE);

		if (g != gen) {
			gen = g;
			printf("hcloop: restored, generation %u\n", g);
		}
		yield();
	}
}
