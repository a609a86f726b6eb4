/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Intel MultiProcessor table (MP spec 1.4), for kernels booted without ACPI (Linux's
 * acpi=off): the floating pointer at HVM_MPTABLE (0xf0000, where kernels scan the BIOS
 * area), then the configuration table: one processor per vCPU (APIC ID = vCPU index, the
 * first the bootstrap one), the ISA bus, the IOAPIC (its ID after the vCPUs'), ISA IRQs
 * 0-15 but the cascade on the IOAPIC's pins of the same numbers (edge, active high: KVM's
 * in-kernel PIT is on pin 0, as the MADT also says by having no override), and LINT0
 * ExtINT, LINT1 NMI. What the MADT says, in the older words.
 */
#include <string.h>

#include "capsule/hvm.h"

#define MP_ENTRY_CPU 0
#define MP_ENTRY_BUS 1
#define MP_ENTRY_IOAPIC 2
#define MP_ENTRY_IOINT 3
#define MP_ENTRY_LINT 4
#define MP_INT 0
#define MP_NMI 1
#define MP_EXTINT 3

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;

	while (n--)
		sum = (uint8_t)(sum + *p++);
	return (uint8_t)(0 - sum);
}

static void put(uint8_t *p, size_t off, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

size_t mptable_build(struct hvm_domain *h, uint8_t *area, size_t cap)
{
	unsigned cpus = h->vm->nr_vcpus, ioapic_id = cpus, entries = 0;
	size_t len = 16 + 44;
	uint8_t *fp = area, *t = area + 16;

	if (cap < len + 20 * cpus + 8 + 8 + 8 * 15 + 8 * 2 || ioapic_id > 0xfe)
		return 0;
	memset(area, 0, cap);
	for (unsigned i = 0; i < cpus; i++, entries++, len += 20) {
		uint8_t *e = area + len;

		e[0] = MP_ENTRY_CPU;
		e[1] = (uint8_t)i;                /* local APIC ID */
		e[2] = 0x14;                      /* local APIC version */
		e[3] = 1 | (i == 0 ? 2 : 0);      /* enabled, bootstrap processor */
		put(e, 4, 0x600, 4);              /* family 6 */
		put(e, 8, (1u << 0) | (1u << 9), 4); /* FPU, APIC */
	}
	uint8_t *bus = area + len;
	bus[0] = MP_ENTRY_BUS;
	bus[1] = 0;
	memcpy(bus + 2, "ISA   ", 6);
	len += 8, entries++;
	uint8_t *io = area + len;
	io[0] = MP_ENTRY_IOAPIC;
	io[1] = (uint8_t)ioapic_id;
	io[2] = 0x11; /* version */
	io[3] = 1;    /* enabled */
	put(io, 4, HVM_IOAPIC, 4);
	len += 8, entries++;
	for (unsigned irq = 0; irq < 16; irq++) {
		uint8_t *e = area + len;

		if (irq == 2) /* the PICs' cascade: no device */
			continue;
		e[0] = MP_ENTRY_IOINT;
		e[1] = MP_INT;
		put(e, 2, 0, 2); /* polarity and trigger conform to the bus: ISA, edge, high */
		e[4] = 0;        /* source bus: ISA */
		e[5] = (uint8_t)irq;
		e[6] = (uint8_t)ioapic_id;
		e[7] = (uint8_t)irq;
		len += 8, entries++;
	}
	for (unsigned lint = 0; lint < 2; lint++) {
		uint8_t *e = area + len;

		e[0] = MP_ENTRY_LINT;
		e[1] = lint ? MP_NMI : MP_EXTINT;
		e[4] = 0;
		e[5] = 0;
		e[6] = 0xff; /* every local APIC */
		e[7] = (uint8_t)lint;
		len += 8, entries++;
	}
	memcpy(t, "PCMP", 4);
	put(t, 4, len - 16, 2);
	t[6] = 4; /* spec revision 1.4 */
	memcpy(t + 8, "CAPSULE ", 8);
	memcpy(t + 16, "CAPSULE PC  ", 12);
	put(t, 34, entries, 2);
	put(t, 36, HVM_LAPIC, 4);
	t[7] = checksum(t, len - 16);

	memcpy(fp, "_MP_", 4);
	put(fp, 4, HVM_MPTABLE + 16, 4); /* the configuration table */
	fp[8] = 1;                        /* length in 16-byte units */
	fp[9] = 4;                        /* spec revision 1.4 */
	fp[10] = checksum(fp, 16);
	return len;
}
