/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest page-table walks (src/mem/walk.c), for the debugger and introspection: the
 * registers that decide the translation, taken from a vCPU, and the walk itself.
 */
#ifndef CAPSULE_WALK_H
#define CAPSULE_WALK_H

#include <stdint.h>

#include "capsule/mem.h"

struct walk_ctx {
	uint64_t cr0, cr3, cr4, efer;
};

/* The guest-physical address of gva and the size of the page holding it: 0, -EFAULT (not
 * mapped, outside RAM, not canonical) or -ENOTSUP (five-level paging). */
int gva_to_gpa(const struct guest_mem *m, const struct walk_ctx *c, uint64_t gva, gpa_t *gpa,
	       uint64_t *page_size);

#endif
