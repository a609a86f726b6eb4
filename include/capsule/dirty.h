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
 *
 * Two users read the log, and each must see every page written since its own last fetch:
 * KVM_GET_DIRTY_LOG returns and clears, so two callers would steal each other's bits. One
 * harvest point (dirty_log.c, under gmem_dirty.lock) takes KVM's bits and the VMM's marks
 * and ORs them into each user's own sink; a fetch harvests, then takes its user's sink
 * alone. The users:
 *
 *  - DIRTY_TRACK: snapshots' diff chains and migration rounds (they share one interval:
 *    a migration puts its fetches back when it fails, src/snapshot/migrate.c);
 *  - DIRTY_SAMPLE: the write working-set sampler (src/core/wss.c, docs/resources.md),
 *    which reads a random sample of pages per period.
 *
 * With KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 (this host has it) a get does not write-protect
 * again: KVM_CLEAR_DIRTY_LOG protects just the pages asked, so while only the sampler is on,
 * only its sampled pages take a write fault per period; with the tracker on, every page
 * reported is protected again, as without the capability.
 */
#ifndef CAPSULE_DIRTY_H
#define CAPSULE_DIRTY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "capsule/mem.h"

#define DIRTY_PAGE 4096u

struct vm;

enum dirty_user { DIRTY_TRACK, DIRTY_SAMPLE, DIRTY_USERS };

/* What one user has not fetched yet: the guest's writes (KVM) and the VMM's marks. */
struct dirty_sink {
	bool on;
	uint64_t *guest, *vmm;
};

/* The VMM-side bitmap of a guest_mem (src/mem/dirty.c). */
struct gmem_dirty {
	bool on;              /* __atomic: marking is on (some user is) */
	uint64_t nr_pages;
	uint64_t *bits;       /* the VMM's marks: __atomic_fetch_or / __atomic_exchange_n */
	uint64_t *kvm_bits;   /* scratch for KVM_GET_DIRTY_LOG */
	uint64_t *vmm_bits;   /* scratch: the marks taken at a harvest */
	pthread_mutex_t lock; /* the sinks, harvests, starts and stops */
	bool manual;          /* KVM_CLEAR_DIRTY_LOG protects (MANUAL_PROTECT2 is on) */
	bool manual_tried;
	struct dirty_sink sink[DIRTY_USERS];
	uint8_t since[16];    /* the caller's name for the point the log runs from */
	uint32_t since_depth; /* and the caller's count of such points (diffs in a chain) */
};

static inline uint64_t dirty_words(uint64_t nr_pages)
{
	return (nr_pages + 63) / 64;
}

/* ---- the VMM's side, on guest memory alone (unit-testable without KVM) ---- */

/* Allocate (once): 0 or -ENOMEM. Freed by gmem_destroy (gmem_dirty_free). */
int gmem_dirty_alloc(struct guest_mem *m);
void gmem_dirty_free(struct guest_mem *m);
/* These four with m->dirty->lock held. user's sink on and cleared, marking on. */
void gmem_dirty_user_on(struct guest_mem *m, enum dirty_user u);
/* user's sink off; marking off with the last user. */
void gmem_dirty_user_off(struct guest_mem *m, enum dirty_user u);
/* The harvest's second half: take the VMM's marks and OR them, and kvm (the guest's
 * writes, or NULL), into every sink that is on. */
void gmem_dirty_collect(struct guest_mem *m, const uint64_t *kvm);
/* OR user's sink into guest and vmm and clear it. */
void gmem_dirty_take(struct guest_mem *m, enum dirty_user u, uint64_t *guest, uint64_t *vmm);

bool gmem_dirty_user_is_on(const struct guest_mem *m, enum dirty_user u);
/* DIRTY_TRACK is on (a snapshot chain or a migration runs the log). */
bool gmem_dirty_on(const struct guest_mem *m);
/* Marking is on: some user is. */
bool gmem_dirty_marking(const struct guest_mem *m);
/* Mark [gpa, gpa + len) dirty if marking is on (gmem_ptr does this). */
void gmem_dirty_mark(const struct guest_mem *m, gpa_t gpa, uint64_t len);
/* DIRTY_TRACK without KVM, taking the lock: start (cleared; allocating), stop, and a
 * fetch: collect the VMM's marks, OR the tracker's share into out (dirty_words(size /
 * 4096) words) and clear it. */
int gmem_dirty_start(struct guest_mem *m);
void gmem_dirty_stop(struct guest_mem *m);
void gmem_dirty_fetch(struct guest_mem *m, uint64_t *out);
/* Put pages back (a fetch whose result could not be used): OR bitmap into DIRTY_TRACK's
 * sink, as VMM marks. */
void gmem_dirty_unfetch(struct guest_mem *m, const uint64_t *bitmap);

/* ---- the whole VM: KVM's log and the VMM's (src/core/dirty_log.c) ---- */

/*
 * DIRTY_TRACK. Start logging, or, if it is on already, clear it: from now on, every page
 * written is reported by the next fetch. 0 or -errno.
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

/*
 * DIRTY_SAMPLE. Start: from now on the pages set in protect (a bitmap) are write-protected
 * and report their next write. A fetch puts into out (zeroed first) the pages written since
 * the start or the previous fetch — exact for the pages the previous call's protect named,
 * possibly stale for the others — and protects its own protect's pages for the next
 * period. 0 or -errno (-ENOENT: not started).
 */
int vm_dirty_sample_start(struct vm *vm, const uint64_t *protect);
int vm_dirty_sample_fetch(struct vm *vm, const uint64_t *protect, uint64_t *out);
void vm_dirty_sample_stop(struct vm *vm);

static inline uint64_t dirty_count(const uint64_t *bits, uint64_t nr_pages)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < dirty_words(nr_pages); i++)
		n += (uint64_t)__builtin_popcountll(bits[i]);
	return n;
}

#endif
