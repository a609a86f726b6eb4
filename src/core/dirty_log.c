/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KVM's dirty log on the domain's one memory slot, joined with the VMM's own marks
 * (include/capsule/dirty.h). The slot is re-registered with KVM_MEM_LOG_DIRTY_PAGES to
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
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.flags = log ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		.guest_phys_addr = 0,
		.memory_size = vm->mem.size,
		.userspace_addr = (uint64_t)(uintptr_t)vm->mem.host,
	};

	if (vm->fd < 0)
		return 0; /* a VM without KVM (unit tests): the VMM's marks alone */
	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0 ? -errno : 0;
}

static int get_log(struct vm *vm, uint64_t *bits)
{
	struct kvm_dirty_log dl = {.slot = 0};

	if (vm->fd < 0)
		return 0;
	dl.dirty_bitmap = bits;
	return ioctl(vm->fd, KVM_GET_DIRTY_LOG, &dl) < 0 ? -errno : 0;
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
