/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Introspection from outside the guest (docs/introspection.md): memory by guest-physical
 * or guest-virtual address, a vCPU's registers, address translation, a domain's mapped
 * regions, and watches that write-protect guest-physical ranges and report the writes.
 *
 *   src/introspect/inspect.c  registers, translation, reads and the region list
 *   src/introspect/watch.c    watches: read-only memory slots, their exits, their events
 *   src/introspect/core.c     ELF core dumps
 *   src/api/vm_introspect.c   the API endpoints (and capsuled's, forwarded)
 *
 * Registers and translations of an HVM domain need its vCPUs out of KVM_RUN: a running
 * domain is paused for the instant of the read. A PV domain's translations need no pause
 * (its page tables are the VMM's, fixed for its life).
 */
#ifndef CAPSULE_INTROSPECT_H
#define CAPSULE_INTROSPECT_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capsule/mem.h"
#include "capsule/walk.h"

struct domain;
struct vm;
struct vcpu;

#define INSPECT_READ_MAX (1u << 20) /* bytes one read may ask */
#define INSPECT_MAX_REGIONS 1024u

/* vCPU n's registers: 0, -ESRCH (no such vCPU, or no boot), -EBUSY (ending), or -errno. */
int inspect_regs(struct domain *d, unsigned vcpu, struct kvm_regs *r, struct kvm_sregs *s);
/* The translation registers of vCPU n (see above). */
int inspect_walk_ctx(struct domain *d, unsigned vcpu, struct walk_ctx *c);
/* gva through vCPU n's page tables: 0, -EFAULT (not mapped), -ENOTSUP, -ESRCH. */
int inspect_translate(struct domain *d, unsigned vcpu, uint64_t gva, gpa_t *gpa,
		      uint64_t *page_size);
/* len bytes from a guest-physical (virt false) or guest-virtual address into buf: 0, or
 * -EFAULT at the first byte that is not RAM (or not mapped), -EINVAL for a bad length. A
 * PV domain's VMM-owned pages are readable (they are its CPU tables, not secrets). */
int inspect_read(struct domain *d, bool virt, unsigned vcpu, uint64_t addr, void *buf,
		 size_t len);

/* With d->lock held: the domain's vCPUs out of KVM_RUN, paused now if it runs
 * (*paused_here: vm_resume it after) or stopped already (paused, or by gdb): 0, -ESRCH
 * (not running nor paused), -EBUSY (ending), -ETIMEDOUT. */
int inspect_stop(struct domain *d, bool *paused_here);
/* fn with every vCPU of the domain's boot out of KVM_RUN (paused for it if it runs). */
int inspect_with_stopped(struct domain *d, int (*fn)(struct vm *vm, void *arg), void *arg);
/* An ELF core of the domain into fd (src/introspect/core.c): 0 or -errno; its size and
 * the vCPUs in it. */
int core_dump(struct domain *d, int fd, uint64_t *bytes, unsigned *vcpus);

struct inspect_region {
	uint64_t start, end; /* guest-virtual [start, end) */
	gpa_t gpa;           /* where start maps */
	bool writable, user, executable;
};
/* The mapped ranges of vCPU n's address space (4-level paging; each run of pages with
 * contiguous guest-physical addresses and the same rights is one region), at most max:
 * how many, or a negative errno. *truncated: there were more. */
int inspect_regions(struct domain *d, unsigned vcpu, struct inspect_region *out,
		    unsigned max, bool *truncated);

/* ---- watches (watch.c) */
#define WATCH_MAX 8

struct watch {
	bool used;
	uint64_t id;
	gpa_t start, end;  /* [start, end): write-protected (whole pages, see watch.c) */
	bool pause;        /* a write pauses the domain, the write held back */
	bool fired;        /* the first write has been reported: no more events until re-armed */
	uint64_t writes;   /* writes trapped (reported or not) */
};

struct watch_event {
	uint64_t id;
	unsigned vcpu;
	gpa_t addr;
	uint32_t len;
	uint64_t rip;
	uint8_t insn[16]; /* the bytes at rip (as far as they are mapped) */
	unsigned insn_len;
	bool paused;
};

struct watch_set {
	pthread_mutex_t lock;
	struct watch w[WATCH_MAX];
	uint64_t next_id;
	unsigned nr_slots; /* memory slots registered for the current layout */
	void (*notify)(void *opaque, const struct watch_event *e); /* from a vCPU thread */
	void *opaque;
	void (*pause_domain)(void *opaque); /* asks for the domain's pause (not from here) */
};

/* Arm a watch on [gpa, gpa + len) (rounded out to pages): its id, or -EINVAL (outside RAM,
 * empty, overlapping another), -ENOSPC (WATCH_MAX), -EBUSY (dirty logging: a live snapshot
 * or migration), -ESRCH (no boot). The domain is paused while its memory slots change. */
int64_t watch_add(struct domain *d, gpa_t gpa, uint64_t len, bool pause);
/* Re-arm a fired watch (events again) or remove it: 0 or -ENOENT. */
int watch_rearm(struct domain *d, uint64_t id);
int watch_remove(struct domain *d, uint64_t id);
/* A copy of the watches: how many. */
unsigned watch_list(struct domain *d, struct watch *out, unsigned max);
/* The domain's listener for watch events (the API): fn runs on a vCPU thread. */
void watch_set_notify(struct domain *d, void (*fn)(void *opaque, const struct watch_event *e),
		      void *opaque);
/* From the MMIO exit of v: true if the write hit a watched (read-only) slot, handled. */
bool watch_mmio_write(struct vcpu *v, gpa_t addr, const uint8_t *data, uint32_t len);
/* The domain's watch set, with domain_destroy. */
void watch_free(struct domain *d);

#endif
