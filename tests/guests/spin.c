/* SPDX-License-Identifier: Apache-2.0 */
/* Never ends: `capsule run --timeout` must destroy it. */
#include "kit.h"

int main(void)
{
	volatile uint64_t n = 0;

	printf("spin: spinning forever\n");
	for (;;)
		n++;
}
