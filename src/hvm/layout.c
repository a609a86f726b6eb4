/* SPDX-License-Identifier: Apache-2.0 */
/* The HVM memory map: what the E820 table, multiboot and PVH all report. */
#include "capsule/hvm.h"

static const uint32_t device_gsis[HVM_MAX_DEVICES] = {5, 6, 7, 9, 10, 11, 12, 14, 15};
/* Full ACPI's SCI is GSI 9 (level): the devices take COM2's 3 instead. */
static const uint32_t device_gsis_full[HVM_MAX_DEVICES] = {5, 6, 7, 3, 10, 11, 12, 14, 15};

uint32_t hvm_device_gsi(enum hvm_acpi acpi, unsigned i)
{
	return (acpi == HVM_ACPI_FULL ? device_gsis_full : device_gsis)[i % HVM_MAX_DEVICES];
}

static void add(struct hvm_domain *h, uint64_t addr, uint64_t size, uint32_t type)
{
	if (h->nr_e820 < E820_MAX)
		h->e820[h->nr_e820++] = (struct e820_entry){addr, size, type};
}

void hvm_build_e820(struct hvm_domain *h)
{
	const struct guest_mem *m = &h->vm->mem;

	h->nr_e820 = 0;
	add(h, 0, HVM_EBDA, E820_RAM);
	add(h, HVM_EBDA, 0xa0000 - HVM_EBDA, E820_RESERVED);
	add(h, HVM_ACPI, HVM_ACPI_END - HVM_ACPI, E820_RESERVED); /* ACPI tables live here */
	add(h, 0x100000, gmem_low_end(m) - 0x100000, E820_RAM);
	if (h->pci.enabled) /* MCFG's window must be reserved for Linux to use it */
		add(h, PCI_ECAM_BASE, PCI_ECAM_SIZE, E820_RESERVED);
	add(h, HVM_GED, 0x1000, E820_RESERVED); /* so that nothing is placed over the GED */
	add(h, HVM_IOAPIC, 0x1000, E820_RESERVED);
	add(h, HVM_LAPIC, 0x1000, E820_RESERVED);
	if (m->hole_end) /* the RAM moved above the PCI hole */
		add(h, m->hole_end, m->size - m->hole_end, E820_RAM);
}
