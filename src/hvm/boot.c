/* SPDX-License-Identifier: Apache-2.0 */
/* The boot vCPU's first registers, as each boot protocol defines them. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "capsule/hvm.h"
#include "capsule/loader.h"

#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull

int hvm_place_boot_area(struct hvm_domain *h, const uint64_t (*avoid)[2], unsigned n)
{
	uint64_t top = gmem_low_end(&h->vm->mem);
	uint64_t base = LOADER_PC_LOW_MIN;

	while (base + HVM_BOOT_AREA_SIZE <= top) {
		uint64_t next = 0;

		if (base < LOADER_PC_HOLE_END && base + HVM_BOOT_AREA_SIZE > LOADER_PC_HOLE)
			next = LOADER_PC_HOLE_END;
		for (unsigned i = 0; i < n; i++)
			if (base < avoid[i][1] && avoid[i][0] < base + HVM_BOOT_AREA_SIZE &&
			    avoid[i][1] > next)
				next = avoid[i][1];
		if (!next) {
			h->boot = (struct hvm_boot_area){
				.gdt = base,
				.info = base + HVM_BOOT_AREA_INFO,
				.mods = base + HVM_BOOT_AREA_MODS,
				.mmap = base + HVM_BOOT_AREA_MMAP,
				.cmdline = base + HVM_BOOT_AREA_CMDLINE,
				.stack = base + HVM_BOOT_AREA_SIZE - 16,
			};
			return 0;
		}
		base = (next + 0xfff) & ~0xfffull;
	}
	return -ENOSPC;
}

static struct kvm_segment flat(uint16_t sel, uint8_t type, bool code64)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type, .present = 1,
		.s = 1, .l = code64, .db = !code64, .g = 1,
	};
}

int hvm_boot_regs(struct hvm_domain *h, enum hvm_entry kind, uint64_t rip, uint32_t eax,
		  uint32_t ebx_or_rsi)
{
	struct vcpu *v = &h->vm->vcpus[0];
	uint64_t *gdt = gmem_ptr(&h->vm->mem, h->boot.gdt, 4 * 8);
	struct kvm_sregs *s = &v->init_sregs;
	struct kvm_regs *r = &v->init_regs;

	if (!gdt || ioctl(v->fd, KVM_GET_SREGS, s) < 0)
		return -EINVAL;
	/* 0x08 code32, 0x10 code64 (Linux's __BOOT_CS), 0x18 data (__BOOT_DS). */
	gdt[0] = 0;
	gdt[1] = 0x00cf9b000000ffffull;
	gdt[2] = 0x00af9b000000ffffull;
	gdt[3] = 0x00cf93000000ffffull;
	s->gdt.base = h->boot.gdt;
	s->gdt.limit = 4 * 8 - 1;
	s->idt.base = 0;
	s->idt.limit = 0;
	s->ds = s->es = s->fs = s->gs = s->ss = flat(0x18, 3, false);
	memset(r, 0, sizeof(*r));
	r->rip = rip;
	r->rflags = 0x2;
	r->rsp = h->boot.stack;
	if (kind == HVM_ENTRY_32) {
		s->cs = flat(0x08, 11, false);
		s->cr0 = 0x11; /* PE, ET: flat protected mode, no paging */
		s->cr4 = 0;
		s->efer = 0;
		r->rax = eax;
		r->rbx = ebx_or_rsi;
		return 0;
	}
	/* Long mode with the first 4 GiB identity-mapped, as Linux's 64-bit entry wants. */
	uint64_t *pml4 = gmem_ptr(&h->vm->mem, HVM_PML4, 6 * 4096);

	if (!pml4)
		return -EINVAL;
	memset(pml4, 0, 6 * 4096);
	pml4[0] = (HVM_PML4 + 0x1000) | PTE_P | PTE_RW;
	for (uint64_t g = 0; g < 4; g++) {
		uint64_t *pd = pml4 + 1024 + 512 * g;

		pml4[512 + g] = (HVM_PML4 + 0x2000 + g * 0x1000) | PTE_P | PTE_RW;
		for (uint64_t i = 0; i < 512; i++)
			pd[i] = ((g << 30) + (i << 21)) | PTE_P | PTE_RW | PTE_PS;
	}
	s->cs = flat(0x10, 11, true);
	s->cr3 = HVM_PML4;
	s->cr4 = 0x20;       /* PAE */
	s->cr0 = 0x80050033; /* PG, AM, WP, NE, ET, MP, PE */
	s->efer = 0x500;     /* LMA, LME */
	r->rsi = ebx_or_rsi;
	return 0;
}
