/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest-virtual to guest-physical, the way the guest's MMU would: no paging (CR0.PG
 * clear), 32-bit paging (4 MiB pages with CR4.PSE), PAE, and 4-level long mode with 1 GiB
 * and 2 MiB pages. The tables are guest memory read through guest_mem's bounds checks; a
 * table outside RAM, a non-canonical address or a missing entry is -EFAULT. Five-level
 * paging (CR4.LA57) is refused.
 */
#include <errno.h>
#include <string.h>

#include "capsule/mem.h"
#include "capsule/walk.h"

#define CR0_PG (1ull << 31)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define EFER_LMA (1ull << 10)
#define PTE_P 1ull
#define PTE_PS 0x80ull
#define ADDR_MASK 0x000ffffffffff000ull

static int read_entry(const struct guest_mem *m, gpa_t gpa, unsigned size, uint64_t *e)
{
	/* The tables may be the VMM's own (a PV domain's): reading them is not writing. */
	const void *p = gmem_vmm_ptr(m, gpa, size);

	if (!p)
		return -EFAULT;
	*e = 0;
	memcpy(e, p, size);
	return 0;
}

int gva_to_gpa(const struct guest_mem *m, const struct walk_ctx *c, uint64_t gva, gpa_t *gpa,
	       uint64_t *page_size)
{
	uint64_t e, table;
	int level;

	if (!(c->cr0 & CR0_PG)) {
		*gpa = gva;
		*page_size = 4096;
		return 0;
	}
	if (!(c->cr4 & CR4_PAE)) { /* 32-bit paging: two levels of 1024 4-byte entries */
		if (gva >> 32)
			return -EFAULT;
		if (read_entry(m, (c->cr3 & 0xfffff000u) + ((gva >> 22) & 0x3ff) * 4, 4, &e) ||
		    !(e & PTE_P))
			return -EFAULT;
		if ((e & PTE_PS) && (c->cr4 & CR4_PSE)) {
			*gpa = (e & 0xffc00000u) + (gva & 0x3fffff);
			*page_size = 4u << 20;
			return 0;
		}
		if (read_entry(m, (e & 0xfffff000u) + ((gva >> 12) & 0x3ff) * 4, 4, &e) ||
		    !(e & PTE_P))
			return -EFAULT;
		*gpa = (e & 0xfffff000u) + (gva & 0xfff);
		*page_size = 4096;
		return 0;
	}
	if (c->efer & EFER_LMA) {
		if (c->cr4 & CR4_LA57)
			return -ENOTSUP;
		/* canonical: bits 63..47 all equal */
		if ((uint64_t)((int64_t)(gva << 16) >> 16) != gva)
			return -EFAULT;
		level = 4;
		table = c->cr3 & ADDR_MASK;
	} else { /* PAE: a 4-entry PDPT at CR3, then two levels */
		if (gva >> 32)
			return -EFAULT;
		if (read_entry(m, (c->cr3 & 0xffffffe0u) + ((gva >> 30) & 3) * 8, 8, &e) ||
		    !(e & PTE_P))
			return -EFAULT;
		level = 2;
		table = e & ADDR_MASK;
	}
	for (; level >= 1; level--) {
		unsigned shift = 12 + 9 * (unsigned)(level - 1);

		if (read_entry(m, table + ((gva >> shift) & 0x1ff) * 8, 8, &e) || !(e & PTE_P))
			return -EFAULT;
		if (level == 1 || ((level == 2 || level == 3) && (e & PTE_PS))) {
			uint64_t size = 1ull << shift;

			*gpa = (e & ADDR_MASK & ~(size - 1)) + (gva & (size - 1));
			*page_size = size;
			return 0;
		}
		table = e & ADDR_MASK;
	}
	return -EFAULT;
}
