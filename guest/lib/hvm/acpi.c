/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Finding ACPI tables as a kernel does, without an AML interpreter: the RSDP in the BIOS
 * area (or the EBDA), its XSDT (or RSDT, for ACPI 1.0 firmware such as SeaBIOS's), the
 * DSDT through the FADT, and the first SLP_TYP of a \_Sx package by a byte scan of the DSDT.
 */
#include "hvm.h"

uint64_t acpi_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

static const uint8_t *find_rsdp(uintptr_t from, uintptr_t to)
{
	for (uintptr_t p = from; p + 36 <= to; p += 16) {
		const uint8_t *r = (const uint8_t *)p;
		uint8_t sum = 0;

		if (memcmp(r, "RSD PTR ", 8))
			continue;
		for (unsigned i = 0; i < 20; i++)
			sum = (uint8_t)(sum + r[i]);
		if (!sum)
			return r;
	}
	return NULL;
}

const uint8_t *acpi_table(const char *sig)
{
	const uint8_t *rsdp = find_rsdp(0xe0000, 0x100000), *sdt;
	uintptr_t bda = 0x40e, ebda; /* the BDA's EBDA segment (a variable: GCC knows page 0) */
	unsigned entry;

	__asm__("" : "+r"(bda));
	ebda = (uintptr_t)*(const volatile uint16_t *)bda << 4;

	if (!rsdp && ebda >= 0x80000 && ebda < 0xa0000)
		rsdp = find_rsdp(ebda, ebda + 1024);
	if (!rsdp)
		return NULL;
	if (rsdp[15] >= 2 && acpi_le(rsdp + 24, 8))
		sdt = (const uint8_t *)(uintptr_t)acpi_le(rsdp + 24, 8), entry = 8;
	else
		sdt = (const uint8_t *)(uintptr_t)acpi_le(rsdp + 16, 4), entry = 4;
	for (uint32_t off = 36; off + entry <= acpi_le(sdt + 4, 4); off += entry) {
		const uint8_t *t = (const uint8_t *)(uintptr_t)acpi_le(sdt + off, entry);

		if (!memcmp(t, sig, 4))
			return t;
		if (!memcmp(sig, "DSDT", 4) && !memcmp(t, "FACP", 4)) {
			uint64_t x = acpi_le(t + 4, 4) >= 148 ? acpi_le(t + 140, 8) : 0;

			return (const uint8_t *)(uintptr_t)(x ? x : acpi_le(t + 40, 4));
		}
		if (!memcmp(sig, "FACS", 4) && !memcmp(t, "FACP", 4)) {
			uint64_t x = acpi_le(t + 4, 4) >= 140 ? acpi_le(t + 132, 8) : 0;

			return (const uint8_t *)(uintptr_t)(x ? x : acpi_le(t + 36, 4));
		}
	}
	return NULL;
}

int acpi_sleep_type(const char *name)
{
	const uint8_t *dsdt = acpi_table("DSDT");

	if (!dsdt)
		return -1;
	for (uint32_t i = 36; i + 9 < acpi_le(dsdt + 4, 4); i++) {
		const uint8_t *p = dsdt + i;

		/* NameOp, the name, PackageOp, a one-byte PkgLength, NumElements, element 0 */
		if (p[0] != 0x08 || memcmp(p + 1, name, 4) || p[5] != 0x12 || (p[6] & 0xc0))
			continue;
		switch (p[8]) {
		case 0x00: return 0;    /* ZeroOp */
		case 0x01: return 1;    /* OneOp */
		case 0x0a: return p[9]; /* BytePrefix */
		default: return -1;
		}
	}
	return -1;
}
