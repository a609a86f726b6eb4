/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Intel MP table, as a kernel booted without ACPI finds it: the "_MP_" floating pointer
 * in the first KiB, the last KiB of base memory or the BIOS area, valid checksums, and a
 * configuration table listing every CPU (the command line says how many; one bootstrap
 * processor), an ISA bus, an enabled IOAPIC at 0xfec00000 and ISA IRQ 4 (COM1) routed to it.
 */
#include "hvm.h"

static uint8_t sum(const uint8_t *p, unsigned n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static const uint8_t *scan(uintptr_t from, uintptr_t len)
{
	for (uintptr_t p = from; p + 16 <= from + len; p += 16) {
		const uint8_t *f = (const uint8_t *)p;

		if (!memcmp(f, "_MP_", 4) && f[8] == 1 && !sum(f, 16))
			return f;
	}
	return NULL;
}

int main(void)
{
	unsigned want = (unsigned)strtoul(hvm_boot.cmdline, NULL, 10);
	unsigned cpus = 0, bsp = 0, isa = 0, isa_id = 256, ioapic_id = 256, com1 = 0;
	char oem[9] = "", product[13] = "";
	const uint8_t *fp, *t, *e;
	uintptr_t bda = 0x40e; /* a variable: GCC knows page 0 holds nothing */
	uint16_t len, n;

	__asm__("" : "+r"(bda));
	fp = scan(*(volatile uint16_t *)bda << 4, 1024);
	if (!fp)
		fp = scan(639 * 1024, 1024);
	if (!fp)
		fp = scan(0xf0000, 0x10000);
	TEST_CHECK(fp != NULL);
	printf("mptable: floating pointer at %p, revision 1.%u\n", (const void *)fp, fp[9]);
	TEST_CHECK(fp[11] == 0); /* a table, not a default configuration */
	t = (const uint8_t *)(uintptr_t)acpi_le(fp + 4, 4);
	TEST_CHECK(!memcmp(t, "PCMP", 4));
	len = (uint16_t)acpi_le(t + 4, 2);
	n = (uint16_t)acpi_le(t + 34, 2);
	TEST_CHECK(sum(t, len) == 0);
	memcpy(oem, t + 8, 8);
	memcpy(product, t + 16, 12);
	printf("mptable: OEM \"%s\", product \"%s\", %u entries, local APIC at 0x%x\n", oem,
	       product, n, (unsigned)acpi_le(t + 36, 4));
	TEST_CHECK(acpi_le(t + 36, 4) == 0xfee00000u);
	e = t + 44;
	for (unsigned i = 0; i < n && e < t + len; i++) {
		switch (e[0]) {
		case 0: /* processor */
			cpus += e[3] & 1;
			bsp += (e[3] & 3) == 3;
			e += 20;
			break;
		case 1: /* bus */
			if (!memcmp(e + 2, "ISA", 3))
				isa++, isa_id = e[1];
			e += 8;
			break;
		case 2: /* IOAPIC */
			if ((e[3] & 1) && acpi_le(e + 4, 4) == 0xfec00000u)
				ioapic_id = e[1];
			e += 8;
			break;
		case 3: /* I/O interrupt: COM1's IRQ 4 to the IOAPIC */
			com1 += e[4] == isa_id && e[5] == 4 && e[6] == ioapic_id;
			e += 8;
			break;
		default: /* local interrupts and the rest: 8 bytes */
			e += 8;
			break;
		}
	}
	printf("mptable: %u CPUs (%u bootstrap), %u ISA bus, IOAPIC %u, COM1 routed %u time(s)\n",
	       cpus, bsp, isa, ioapic_id, com1);
	TEST_CHECK(e == t + len);
	TEST_CHECK(cpus == want);
	TEST_CHECK(bsp == 1);
	TEST_CHECK(isa == 1);
	TEST_CHECK(ioapic_id < 256);
	TEST_CHECK(com1 == 1);
	test_finish(true);
}
