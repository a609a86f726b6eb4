/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Soft off (S5) as a kernel does it at the end of `poweroff`: \_S5's SLP_TYP from the DSDT,
 * with SLP_EN, to the FADT's sleep control register (hardware-reduced ACPI: SLP_TYP << 2,
 * a port or MMIO) or to PM1a_CNT (full ACPI: SLP_TYP << 10). The domain must power off with
 * status 0; a kernel still running after the write fails.
 */
#include "hvm.h"

int main(void)
{
	const uint8_t *fadt = acpi_table("FACP");
	int typ = acpi_sleep_type("_S5_");
	uint32_t flags;

	TEST_CHECK(fadt != NULL);
	flags = (uint32_t)acpi_le(fadt + 112, 4);
	printf("poweroff: %s ACPI, \\_S5 SLP_TYP %d\n",
	       flags & FADT_HW_REDUCED ? "hardware-reduced" : "full", typ);
	TEST_CHECK(typ >= 0 && typ < 8);
	if (flags & FADT_HW_REDUCED) {
		uint64_t reg = acpi_le(fadt + 248, 8);
		uint8_t v = (uint8_t)(typ << 2 | 0x20);

		TEST_CHECK(acpi_le(fadt + 4, 4) >= 256 && reg != 0);
		printf("poweroff: 0x%x to the sleep control register (%s 0x%llx)\n", v,
		       fadt[244] ? "port" : "memory", (unsigned long long)reg);
		printf("Test result: SUCCESS\n");
		if (fadt[244] == 1)
			outb((uint16_t)reg, v);
		else
			*(volatile uint8_t *)(uintptr_t)reg = v;
	} else {
		uint16_t port = (uint16_t)acpi_le(fadt + 64, 4);
		uint16_t v = (uint16_t)(typ << 10 | 1u << 13);

		TEST_CHECK(port != 0);
		printf("poweroff: 0x%x to PM1a_CNT (port 0x%x)\n", v, port);
		printf("Test result: SUCCESS\n");
		outw(port, v);
	}
	for (volatile unsigned spin = 0; spin < 10000000; spin++)
		;
	printf("poweroff: still running after S5\n");
	test_finish(false);
}
