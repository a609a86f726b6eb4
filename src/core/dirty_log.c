/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KVM's dirty log on the domain's memory slots (one, or two around an HVM domain's PCI
 * hole), joined with the VMM's own marks (include/capsule/dirty.h). The slots are re-registered with KVM_MEM_LOG_DIRTY_PAGES to
 * start, and without it to stop; KVM_GET_DIRTY_LOG returns and clears the pages the guest
 * wrote (without KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 enabled, the get also write-protects
 * them again, so the next fetch sees only newer writes).
 */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "capsule/dirty.h"
#include "capsule/log.h"
#include "capsule/vm.h"

static int set_slot(struct vm *vm, bool log)
{
	/* Without KVM (unit tests): the VMM's marks alone. */
	return vm_set_mem_slots(vm, log ? KVM_MEM_LOG_DIRTY_PAGES : 0);
}

/*
 * Each slot's log into its place in the one bitmap in guest-physical order: a slot starts
 * at a multiple of 64 pages (0, or the hole's end at 4 GiB), so at a whole word; the hole's
 * words stay zero.
 */
static int get_log(struct vm *vm, uint64_t *bits)
{
	struct gmem_range r[2];
	unsigned n = gmem_ram_ranges(&vm->mem, r);

	if (vm->fd < 0)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		struct kvm_dirty_log dl = {.slot = i};

		if (r[i].start % (64 * DIRTY_PAGE))
			return -EINVAL;
		dl.dirty_bitmap = bits + r[i].start / DIRTY_PAGE / 64;
		if (ioctl(vm->fd, KVM_GET_DIRTY_LOG, &dl) < 0)
			return -errno;
	}
	return 0;
}

int vm_dirty_start(struct vm *vm)
{
	bool was_on = gmem_dirty_on(&vm->mem);
	int rc;

	if (!was_on && (rc = set_slot(vm, true))) {
		log_err("cannot start KVM's dirty log: %s", strerror(-rc));
		return rc;
	}
	rc = gmem_dirty_start(&vm->mem);
	/* Logging was on: throw KVM's pages so far away, as the VMM's were. */
	if (!rc && was_on)
		rc = get_log(vm, vm->mem.dirty->kvm_bits);
	if (rc && !was_on)
		set_slot(vm, false);
	return rc;
}

int vm_dirty_fetch_split(struct vm *vm, uint64_t *guest, uint64_t *vmm)
{
	struct gmem_dirty *d = vm->mem.dirty;
	size_t bytes;
	int rc;

	if (!gmem_dirty_on(&vm->mem))
		return -ENOENT;
	bytes = dirty_words(d->nr_pages) * sizeof(uint64_t);
	memset(guest, 0, bytes);
	memset(vmm, 0, bytes);
	rc = get_log(vm, guest);
	if (rc) {
		log_err("KVM_GET_DIRTY_LOG: %s", strerror(-rc));
		return rc;
	}
	gmem_dirty_fetch(&vm->mem, vmm);
	log_debug("%llu pages written by the guest (KVM), %llu by the VMM",
		  (unsigned long long)dirty_count(guest, d->nr_pages),
		  (unsigned long long)dirty_count(vmm, d->nr_pages));
	return 0;
}

int vm_dirty_fetch(struct vm *vm, uint64_t *out)
{
	struct gmem_dirty *d = vm->mem.dirty;
	int rc;

	if (!gmem_dirty_on(&vm->mem))
		return -ENOENT;
	rc = vm_dirty_fetch_split(vm, out, d->kvm_bits);
	for (uint64_t i = 0; !rc && i < dirty_words(d->nr_pages); i++)
		out[i] |= d->kvm_bits[i];
	return rc;
}

void vm_dirty_stop(struct vm *vm)
{
	if (!gmem_dirty_on(&vm->mem))
		return;
	gmem_dirty_stop(&vm->mem);
	if (set_slot(vm, false))
		log_warn("cannot stop KVM's dirty log: %m");
}
