/* SPDX-License-Identifier: Apache-2.0 */
/* PCI configuration mechanism #1 (bus 0), BARs, and a virtio-pci function's capabilities. */
#include "hvm.h"

static uint32_t cf8(unsigned slot, unsigned off)
{
	return 0x80000000u | slot << 11 | (off & 0xfc);
}

uint32_t pci_cfg32(unsigned slot, unsigned off)
{
	__asm__ volatile("outl %0, %1" : : "a"(cf8(slot, off)), "Nd"((uint16_t)0xcf8));
	return inl(0xcfc);
}

uint16_t pci_cfg16(unsigned slot, unsigned off)
{
	return (uint16_t)(pci_cfg32(slot, off) >> (8 * (off & 2)));
}

uint8_t pci_cfg8(unsigned slot, unsigned off)
{
	return (uint8_t)(pci_cfg32(slot, off) >> (8 * (off & 3)));
}

void pci_cfg_write32(unsigned slot, unsigned off, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(cf8(slot, off)), "Nd"((uint16_t)0xcf8));
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"((uint16_t)0xcfc));
}

void pci_cfg_write16(unsigned slot, unsigned off, uint16_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(cf8(slot, off)), "Nd"((uint16_t)0xcf8));
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"((uint16_t)(0xcfc + (off & 2))));
}

uint64_t pci_bar_addr(unsigned slot, unsigned bar)
{
	uint32_t lo = pci_cfg32(slot, 0x10 + 4 * bar);
	uint64_t a = lo & ~0xfu;

	if ((lo & 6) == 4)
		a |= (uint64_t)pci_cfg32(slot, 0x14 + 4 * bar) << 32;
	return a;
}

/* Size a 64-bit BAR as firmware does: decoding off, all ones, read the mask, put it back. */
uint64_t pci_bar_size64(unsigned slot, unsigned bar)
{
	uint16_t cmd = pci_cfg16(slot, 0x04);
	uint32_t lo = pci_cfg32(slot, 0x10 + 4 * bar), hi = pci_cfg32(slot, 0x14 + 4 * bar);
	uint64_t mask;

	pci_cfg_write16(slot, 0x04, cmd & ~2);
	pci_cfg_write32(slot, 0x10 + 4 * bar, 0xffffffffu);
	pci_cfg_write32(slot, 0x14 + 4 * bar, 0xffffffffu);
	mask = (uint64_t)pci_cfg32(slot, 0x14 + 4 * bar) << 32 | (pci_cfg32(slot, 0x10 + 4 * bar) & ~0xfu);
	pci_cfg_write32(slot, 0x10 + 4 * bar, lo);
	pci_cfg_write32(slot, 0x14 + 4 * bar, hi);
	pci_cfg_write16(slot, 0x04, cmd);
	return ~mask + 1;
}

bool vpci_find_caps(unsigned slot, struct vpci_caps *c)
{
	unsigned seen = 0;

	memset(c, 0, sizeof(*c));
	if (!(pci_cfg16(slot, 0x06) & 0x10))
		return false;
	for (unsigned p = pci_cfg8(slot, 0x34) & 0xfc, n = 0; p && n < 48; p = pci_cfg8(slot, p + 1) & 0xfc, n++) {
		uint8_t id = pci_cfg8(slot, p), type = pci_cfg8(slot, p + 3), bar = pci_cfg8(slot, p + 4);
		uint32_t off = pci_cfg32(slot, p + 8);

		if (id == 0x11)
			c->msix_cap = (uint8_t)p;
		if (id != 0x09)
			continue;
		if (type == 1 && !(seen & 2))
			c->common_bar = bar, c->common = off, seen |= 2;
		if (type == 2 && !(seen & 4))
			c->notify_bar = bar, c->notify = off, c->notify_mult = pci_cfg32(slot, p + 16), seen |= 4;
		if (type == 3 && !(seen & 8))
			c->isr_bar = bar, c->isr = off, seen |= 8;
		if (type == 4 && !(seen & 16))
			c->device_bar = bar, c->device = off, seen |= 16;
	}
	return seen == 30 && c->msix_cap;
}
