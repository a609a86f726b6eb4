/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prints the launch measurement start_info holds (docs/pv-abi.md R-SI-9), then waits to be
 * asked over the API (tests/integration/measure.py compares the two).
 */
#include "kit.h"

int main(void)
{
	static const char hex[] = "0123456789abcdef";
	char text[65];

	for (unsigned i = 0; i < 32; i++) {
		text[2 * i] = hex[start_info->launch_measurement[i] >> 4];
		text[2 * i + 1] = hex[start_info->launch_measurement[i] & 15];
	}
	text[64] = 0;
	printf("measure: flags %u launch_measurement %s\n", start_info->flags, text);
	for (;;)
		sleep_ns(100000000);
}
