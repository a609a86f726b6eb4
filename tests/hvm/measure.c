/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The launch measurement as an HVM guest finds it (docs/measured-launch.md): the CMSR
 * table through the XSDT, its checksum, algorithm 1 (SHA-256) and a 32-byte digest, which
 * the kernel prints for the runner to compare with what the API reports.
 */
#include "hvm.h"

int main(void)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *t = acpi_table("CMSR");
	char text[65];
	uint8_t sum = 0;

	TEST_CHECK(t != NULL);
	TEST_CHECK(acpi_le(t + 4, 4) == 76);
	for (unsigned i = 0; i < 76; i++)
		sum = (uint8_t)(sum + t[i]);
	TEST_CHECK(sum == 0);
	TEST_CHECK(acpi_le(t + 36, 4) == 1 && acpi_le(t + 40, 4) == 32);
	for (unsigned i = 0; i < 32; i++) {
		text[2 * i] = hex[t[44 + i] >> 4];
		text[2 * i + 1] = hex[t[44 + i] & 15];
	}
	text[64] = 0;
	printf("hvm: launch_measurement %s\n", text);
	test_finish(true);
}
