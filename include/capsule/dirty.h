/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dirty tracking (docs/snapshot.md, "Diff snapshots"): which guest pages changed since a
 * point the caller chose (a snapshot, a migration round). Two sources, ORed together:
 *
 *  - the guest's own writes: KVM's dirty log on the memory slot (KVM_MEM_LOG_DIRTY_PAGES,
 *    fetched and cleared with KVM_GET_DIRTY_LOG). KVM's dirty ring is on this host too
 *    (KVM_CAP_DIRTY_LOG_RING), but it must be enabled before the first vCPU is created,
 *    so a domain that is already running can only use the bitmap;
 *  - the VMM's writes into guest memory (used rings, buffers a device fills, PV event,
 *    console and shared_info state, a balloon's discarded pages): the one door to guest
 *    memory, gmem_ptr / gmem_vmm_ptr (src/mem/guest_mem.c), marks every range it hands out
 *    while logging is on, conservatively: it cannot tell a read from a write, so a page the
 *    VMM only read is reported too. The few pointers the VMM keeps for the domain's life
 *    (PV shared_info, start_info, console rings; virtio used rings) are marked again at
 *    every fetch by their owners (dirty_mark_domain, src/snapshot/diff.c).
 *
 * A pointer handed out before a fetch and written after it is reported at the fetch, not
 * after the write: callers fetch with the domain paused and every device request finished
 * (vm_pause, domain_pause), where no such write is pending.
 *
 * Bitmaps are one bit per 4 KiB page, bit (pfn % 64) of word pfn / 64, as KVM's.
 */
#ifndef CAPSULE_DIRTY_H
#define CAPSULE_DIRTY_H

#include <stdbool.h>
#include <stdint.h>

#include "capsule/mem.h"

#define DIRTY_PAGE 4096u

struct vm;

/* The VMM-side bitmap of a guest_mem (src/mem/dirty.c). */
struct gmem_dirty {
	bool on;              /* __atomic: marking is on */
	uint64_t nr_pages;
	uint64_t *bits;       /* __atomic_fetch_or / __atomic_exchange_n per word */
	uint64_t *kvm_bits;   /* scratch for KVM_GET_DIRTY_LOG */
	uint8_t since[16];    /* the caller's name for the point the log runs from */
	uint32_t since_depth; /* and the caller's count of such points (diffs in a chain) */
};

static inline uint64_t dirty_words(uint64_t nr_pages)
{
	return (nr_pages + 63) / 64;
}

/* ---- the VMM's side, on guest memory alone (unit-testable without KVM) ---- */

/* Allocate (once) and turn marking on, cleared: 0 or -ENOMEM. */
int gmem_dirty_start(struct guest_mem *m);
void gmem_dirty_stop(struct guest_mem *m);
bool gmem_dirty_on(const struct guest_mem *m);
/* Mark [gpa, gpa + len) dirty if logging is on (gmem_ptr does this). */
void gmem_dirty_mark(const struct guest_mem *m, gpa_t gpa, uint64_t len);
/* OR the VMM's marks into out (dirty_words(size / 4096) words) and clear them. */
void gmem_dirty_fetch(const struct guest_mem *m, uint64_t *out);
/* Put pages back (a fetch whose result could not be used): OR bitmap into the marks. */
void gmem_dirty_unfetch(const struct guest_mem *m, const uint64_t *bitmap);

/* ---- the whole VM: KVM's log and the VMM's (src/core/dirty_log.c) ---- */

/*
 * Start logging, or, if it is on already, clear it: from now on, every page written is
 * reported by the next fetch. 0 or -errno.
 */
int vm_dirty_start(struct vm *vm);
/* Pages dirtied since the start or the previous fetch into out (zeroed first), cleared:
 * 0 or -errno (logging is off: -ENOENT). */
int vm_dirty_fetch(struct vm *vm, uint64_t *out);
/* The same in two bitmaps: what KVM logged (the guest's writes) and the VMM's marks. A
 * migration needs them apart: a VMM write may land after the fetch that reported its page
 * (the pointer was handed out before), so it sends every page the VMM marked again once
 * the domain is paused. */
int vm_dirty_fetch_split(struct vm *vm, uint64_t *guest, uint64_t *vmm);
void vm_dirty_stop(struct vm *vm);

static inline uint64_t dirty_count(const uint64_t *bits, uint64_t nr_pages)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < dirty_words(nr_pages); i++)
		n += (uint64_t)__builtin_popcountll(bits[i]);
	return n;
}

#endif
