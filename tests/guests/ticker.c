/* SPDX-License-Identifier: Apache-2.0 */
/* Prints a numbered tick every 20 ms for ever: for pause and resume tests. */
#include "kit.h"

int main(void)
{
	for (unsigned n = 0;; n++) {
		printf("tick %u\n", n);
		sleep_ns(20000000);
	}
}
