/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The supervisor world of a PV domain, built by the VMM: the guest runs at CPL 3 and only
 * ever enters CPL 0 through an exception, which lands in a stub that reports to the VMM.
 * All of it lives in supervisor-only pages below CAP_GPA_IMAGE_MIN.
 */
#include <errno.h>
#include <string.h>

#include "capsule/pv.h"

#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_US 0x4ull
#define PTE_PS 0x80ull

#define SEL_KCODE 0x08
#define SEL_UDATA 0x23 /* GDT index 4, RPL 3 */
#define SEL_UCODE 0x2b /* GDT index 5, RPL 3 */
#define SEL_TSS(i) (0x30 + 16 * (i))

/* TSS: 104 bytes, then an I/O bitmap covering ports 0..0x51f, then the 0xff terminator. */
#define TSS_IOMAP_OFF 104u
#define TSS_IOMAP_BYTES ((CAP_HC_PORT_BASE + 0x20u) / 8u)
#define TSS_LIMIT (TSS_IOMAP_OFF + TSS_IOMAP_BYTES) /* index of the terminator */
_Static_assert(TSS_LIMIT < CAP_TSS_STRIDE, "TSS fits its slot");
_Static_assert(CAP_GPA_TSS + CAP_MAX_VCPUS * CAP_TSS_STRIDE <= CAP_GPA_TRAP_STACKS, "TSSs");
_Static_assert(CAP_GPA_TRAP_STACKS + CAP_MAX_VCPUS * 4096 <= CAP_GPA_START_INFO, "stacks");

/* Exceptions that push an error code. */
static int has_error_code(unsigned vec)
{
	return vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 ||
	       vec == 30;
}

/* The one definition of the VMM-owned pages: the page tables and gmem both follow it. */
bool pv_vmm_owned(uint64_t gpa)
{
	return gpa < CAP_GPA_IMAGE_MIN &&
	       (gpa < CAP_GPA_GUEST_LOW || gpa >= CAP_GPA_GUEST_LOW_END);
}

int pv_reserve_vmm_pages(struct vm *vm)
{
	int err = gmem_reserve(&vm->mem, 0, CAP_GPA_GUEST_LOW);

	return err ? err : gmem_reserve(&vm->mem, CAP_GPA_GUEST_LOW_END,
					CAP_GPA_IMAGE_MIN - CAP_GPA_GUEST_LOW_END);
}

#define PTE_PWT 0x8ull
#define PTE_PCD 0x10ull

static int build_page_tables(struct guest_mem *mem)
{
	uint64_t end = mem->size + PV_MMIO_WINDOW; /* RAM, then the device window */
	uint64_t gib = (end + (1ull << 30) - 1) >> 30;
	uint64_t *pml4 = gmem_vmm_ptr(mem, CAP_GPA_PAGETABLES, 0x3000 + gib * 0x1000);
	uint64_t *pdpt = pml4 + 512, *pt0 = pml4 + 1024, *pd = pml4 + 1536;

	if (!pml4 || gib > 64 || CAP_GPA_PAGETABLES + 0x3000 + gib * 0x1000 > CAP_GPA_IMAGE_MIN)
		return -EINVAL;
	memset(pml4, 0, 0x3000 + gib * 0x1000);
	pml4[0] = (CAP_GPA_PAGETABLES + 0x1000) | PTE_P | PTE_RW | PTE_US;
	for (uint64_t g = 0; g < gib; g++)
		pdpt[g] = (CAP_GPA_PAGETABLES + 0x3000 + g * 0x1000) | PTE_P | PTE_RW | PTE_US;
	/* First 2 MiB in 4 KiB pages: page 0 absent, the system area supervisor-only. */
	for (uint64_t p = 1; p < 512; p++)
		pt0[p] = (p << 12) | PTE_P | PTE_RW | (pv_vmm_owned(p << 12) ? 0 : PTE_US);
	pd[0] = (CAP_GPA_PAGETABLES + 0x2000) | PTE_P | PTE_RW | PTE_US;
	for (uint64_t i = 1; i < (mem->size >> 21); i++)
		pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_US | PTE_PS;
	/* Device registers: never cached, every access reaches the VMM. */
	pd[mem->size >> 21] = mem->size | PTE_P | PTE_RW | PTE_US | PTE_PS | PTE_PCD | PTE_PWT;
	return 0;
}

static uint64_t seg_desc(uint64_t access, uint64_t flags)
{
	/* base 0, limit 0xfffff: only the access byte and flags differ between them */
	return 0xffffull | (access << 40) | (0xfull << 48) | (flags << 52);
}

static void build_gdt(uint64_t *gdt, unsigned nr_vcpus)
{
	gdt[0] = 0;
	gdt[1] = seg_desc(0x9a, 0xa); /* kernel code 64 */
	gdt[2] = seg_desc(0x92, 0xc); /* kernel data */
	gdt[3] = seg_desc(0xfa, 0xc); /* user code 32 (unused, keeps the SYSRET layout) */
	gdt[4] = seg_desc(0xf2, 0xc); /* user data */
	gdt[5] = seg_desc(0xfa, 0xa); /* user code 64 */
	for (unsigned i = 0; i < nr_vcpus; i++) {
		uint64_t base = CAP_GPA_TSS + (uint64_t)i * CAP_TSS_STRIDE;
		uint64_t *d = &gdt[6 + 2 * i];

		d[0] = (TSS_LIMIT & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
		       ((uint64_t)(TSS_LIMIT >> 16) << 48) | (((base >> 24) & 0xff) << 56);
		d[1] = base >> 32;
	}
}

static void build_tss(uint8_t *tss, unsigned vcpu)
{
	uint64_t rsp0 = CAP_GPA_TRAP_STACKS + (vcpu + 1ull) * 4096;
	uint16_t iomap = TSS_IOMAP_OFF;
	uint8_t *bitmap = tss + TSS_IOMAP_OFF;

	memset(tss, 0, CAP_TSS_STRIDE);
	memcpy(tss + 4, &rsp0, 8);
	memcpy(tss + 0x66, &iomap, 2);
	memset(bitmap, 0xff, TSS_IOMAP_BYTES + 1);
	/* A clear bit opens a port to CPL 3: exactly the hypercall ports. */
	for (unsigned p = CAP_HC_PORT_BASE; p < CAP_HC_PORT_BASE + CAP_HC_PORT_SPAN; p++)
		bitmap[p / 8] &= (uint8_t)~(1u << (p % 8));
}

/*
 * Stub per vector at CAP_GPA_TRAP_CODE + 16 * vec: push a zero error code if the CPU does
 * not, push the vector, jump to the common tail, which saves rax/rdx and `out`s to
 * PV_TRAP_PORT. The VMM then reads [rdx, rax, vec, err, rip, cs, rflags, rsp, ss] at rsp.
 */
static void build_trap_code(uint8_t *code)
{
	const unsigned common = 32 * 16;

	for (unsigned vec = 0; vec < 32; vec++) {
		uint8_t *p = code + vec * 16;
		int32_t rel;

		if (!has_error_code(vec)) {
			*p++ = 0x6a; /* push $0 */
			*p++ = 0;
		}
		*p++ = 0x6a; /* push $vec */
		*p++ = (uint8_t)vec;
		*p++ = 0xe9; /* jmp rel32 common */
		rel = (int32_t)common - (int32_t)(p + 4 - code);
		memcpy(p, &rel, 4);
	}
	const uint8_t tail[] = {
		0x50,                                   /* push %rax */
		0x52,                                   /* push %rdx */
		0x66, 0xba, PV_TRAP_PORT & 0xff, PV_TRAP_PORT >> 8, /* mov $port, %dx */
		0xee,                                   /* out %al, (%dx) */
		0xf4,                                   /* hlt */
		0xeb, 0xfd,                             /* jmp hlt */
	};
	memcpy(code + common, tail, sizeof(tail));
}

static void build_idt(uint64_t *idt)
{
	memset(idt, 0, 4096);
	for (unsigned vec = 0; vec < 32; vec++) {
		uint64_t off = CAP_GPA_TRAP_CODE + vec * 16;

		/* 64-bit interrupt gate, DPL 0: `int n` from CPL 3 raises #GP instead. */
		idt[2 * vec] = (off & 0xffff) | ((uint64_t)SEL_KCODE << 16) | (0x8eull << 40) |
			       ((off >> 16) << 48);
		idt[2 * vec + 1] = off >> 32;
	}
}

int pv_build_cpu_tables(struct vm *vm)
{
	struct guest_mem *m = &vm->mem;
	uint64_t *gdt = gmem_vmm_ptr(m, CAP_GPA_GDT, 4096);
	uint64_t *idt = gmem_vmm_ptr(m, CAP_GPA_IDT, 4096);
	uint8_t *code = gmem_vmm_ptr(m, CAP_GPA_TRAP_CODE, 4096);
	uint8_t *tss = gmem_vmm_ptr(m, CAP_GPA_TSS, (uint64_t)vm->nr_vcpus * CAP_TSS_STRIDE);

	if (!gdt || !idt || !code || !tss || vm->nr_vcpus > CAP_MAX_VCPUS)
		return -EINVAL;
	build_gdt(gdt, vm->nr_vcpus);
	build_idt(idt);
	build_trap_code(code);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		build_tss(tss + i * CAP_TSS_STRIDE, i);
	return build_page_tables(m);
}

void pv_vcpu_sregs(const struct vm *vm, unsigned vcpu, struct kvm_sregs *s)
{
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = SEL_UCODE, .type = 11,
		.present = 1, .dpl = 3, .db = 0, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = code;

	data.selector = SEL_UDATA;
	data.type = 3;
	data.l = 0;
	data.db = 1;
	s->cs = code;
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->tr = (struct kvm_segment){
		.base = CAP_GPA_TSS + (uint64_t)vcpu * CAP_TSS_STRIDE, .limit = TSS_LIMIT,
		.selector = SEL_TSS(vcpu), .type = 11, .present = 1,
	};
	s->gdt.base = CAP_GPA_GDT;
	s->gdt.limit = (uint16_t)(SEL_TSS(vm->nr_vcpus) - 1);
	s->idt.base = CAP_GPA_IDT;
	s->idt.limit = 4095;
	s->cr3 = CAP_GPA_PAGETABLES;
	s->cr4 = 0x620;      /* PAE, OSFXSR, OSXMMEXCPT: SSE2 usable at CPL 3 */
	s->cr0 = 0x80010033; /* PG, WP, NE, ET, MP, PE */
	s->efer = 0xd00;     /* NXE, LMA, LME; no SCE: `syscall` raises #UD */
}
