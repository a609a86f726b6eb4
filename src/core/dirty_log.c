/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KVM's dirty log on the domain's memory slots (one, or two around an HVM domain's PCI
 * hole), joined with the VMM's own marks, and shared by its users through one harvest
 * (include/capsule/dirty.h). The slots are re-registered with KVM_MEM_LOG_DIRTY_PAGES when
 * the first user starts, and without it when the last stops.
 *
 * With KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 enabled (and KVM_DIRTY_LOG_INITIALLY_SET when
 * offered: turning logging on then protects nothing), KVM_GET_DIRTY_LOG only reads the
 * log; the harvest then clears and write-protects with KVM_CLEAR_DIRTY_LOG every page it
 * reported while the tracker is on, and only the sampler's next sample otherwise. Without
 * the capability, each get clears and protects every page, as for the tracker alone.
 * A write between the get and the clear is in the page's contents, which a tracker's
 * caller reads after the fetch; the sampler may miss it (one page, once).
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

/* Once per VM, before its slots first log: the manual protection if KVM offers it. */
static void try_manual(struct vm *vm, struct gmem_dirty *d)
{
	struct kvm_enable_cap cap = {.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2};
	int caps;

	if (d->manual_tried || vm->fd < 0)
		return;
	d->manual_tried = true;
	caps = ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	if (caps <= 0)
		return;
	cap.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
		      ((unsigned)caps & KVM_DIRTY_LOG_INITIALLY_SET);
	d->manual = ioctl(vm->fd, KVM_ENABLE_CAP, &cap) == 0;
	log_debug("dirty log: manual protection %s", d->manual ? "on" : "refused");
}

/*
 * Each slot's log into its place in the one bitmap in guest-physical order: a slot starts
 * at a multiple of 64 pages (0, or the hole's end at 4 GiB), so at a whole word; the hole's
 * words stay zero. With protect, clear and protect those pages instead (manual mode).
 */
static int slots_log(struct vm *vm, uint64_t *bits, bool protect)
{
	struct gmem_range r[2];
	unsigned n = gmem_ram_ranges(&vm->mem, r);

	if (vm->fd < 0)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t *at = bits + r[i].start / DIRTY_PAGE / 64;
		struct kvm_dirty_log dl = {.slot = i, .dirty_bitmap = at};
		struct kvm_clear_dirty_log cl = {
			.slot = i, .num_pages = (uint32_t)((r[i].end - r[i].start) / DIRTY_PAGE),
			.first_page = 0, .dirty_bitmap = at,
		};

		if (r[i].start % (64 * DIRTY_PAGE))
			return -EINVAL;
		if (ioctl(vm->fd, protect ? KVM_CLEAR_DIRTY_LOG : KVM_GET_DIRTY_LOG,
			  protect ? (void *)&cl : (void *)&dl) < 0)
			return -errno;
	}
	return 0;
}

/*
 * The one harvest, lock held: KVM's bits and the VMM's marks into every user's sink. all:
 * every page reported is protected again (the tracker's rule); protect: these pages too.
 */
static int harvest(struct vm *vm, bool all, const uint64_t *protect)
{
	struct gmem_dirty *d = vm->mem.dirty;
	int rc;

	memset(d->kvm_bits, 0, dirty_words(d->nr_pages) * sizeof(uint64_t));
	rc = slots_log(vm, d->kvm_bits, false);
	if (!rc && d->manual && (all || protect))
		rc = slots_log(vm, all ? d->kvm_bits : (uint64_t *)protect, true);
	if (rc) {
		log_err("KVM's dirty log: %s", strerror(-rc));
		return rc;
	}
	gmem_dirty_collect(&vm->mem, d->kvm_bits);
	return 0;
}

/* user on (its sink cleared), the slots logging if it is the first; the harvest protects
 * what the user asks. Lock held. */
static int user_start(struct vm *vm, enum dirty_user u, bool all, const uint64_t *protect)
{
	struct gmem_dirty *d = vm->mem.dirty;
	bool was_on = gmem_dirty_marking(&vm->mem);
	int rc = 0;

	if (!was_on) {
		try_manual(vm, d);
		if ((rc = set_slot(vm, true))) {
			log_err("cannot start KVM's dirty log: %s", strerror(-rc));
			return rc;
		}
	}
	/* Logging was on, or starts all set (manual): the pages so far go to the other
	 * users only, and this user's protection is laid. */
	rc = harvest(vm, all, protect);
	if (rc) {
		if (!was_on)
			set_slot(vm, false);
		return rc;
	}
	gmem_dirty_user_on(&vm->mem, u);
	return 0;
}

static void user_stop(struct vm *vm, enum dirty_user u)
{
	struct gmem_dirty *d = vm->mem.dirty;

	if (!d || !d->sink[u].on)
		return;
	gmem_dirty_user_off(&vm->mem, u);
	if (!gmem_dirty_marking(&vm->mem) && set_slot(vm, false))
		log_warn("cannot stop KVM's dirty log: %m");
}

int vm_dirty_start(struct vm *vm)
{
	int rc = gmem_dirty_alloc(&vm->mem);

	if (rc)
		return rc;
	pthread_mutex_lock(&vm->mem.dirty->lock);
	rc = user_start(vm, DIRTY_TRACK, true, NULL);
	pthread_mutex_unlock(&vm->mem.dirty->lock);
	return rc;
}

/*
 * One user's fetch: harvest (protecting every page reported while the tracker is on, and
 * protect's), then take the user's sink into guest and vmm (the same bitmap for both:
 * ORed), each zeroed first.
 */
static int fetch(struct vm *vm, enum dirty_user u, const uint64_t *protect, uint64_t *guest,
		 uint64_t *vmm)
{
	struct gmem_dirty *d = vm->mem.dirty;
	size_t bytes;
	int rc = -ENOENT;

	if (!d)
		return rc;
	bytes = dirty_words(d->nr_pages) * sizeof(uint64_t);
	pthread_mutex_lock(&d->lock);
	if (d->sink[u].on) {
		memset(guest, 0, bytes);
		memset(vmm, 0, bytes);
		rc = harvest(vm, d->sink[DIRTY_TRACK].on, protect);
		if (!rc)
			gmem_dirty_take(&vm->mem, u, guest, vmm);
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

int vm_dirty_fetch_split(struct vm *vm, uint64_t *guest, uint64_t *vmm)
{
	int rc = fetch(vm, DIRTY_TRACK, NULL, guest, vmm);

	if (!rc)
		log_debug("%llu pages written by the guest (KVM), %llu by the VMM",
			  (unsigned long long)dirty_count(guest, vm->mem.dirty->nr_pages),
			  (unsigned long long)dirty_count(vmm, vm->mem.dirty->nr_pages));
	return rc;
}

int vm_dirty_fetch(struct vm *vm, uint64_t *out)
{
	return fetch(vm, DIRTY_TRACK, NULL, out, out); /* the guest's and the VMM's, ORed */
}

/* One user's stop, under the log's lock (nothing to stop if logging never began). */
static void stop(struct vm *vm, enum dirty_user u)
{
	if (!vm->mem.dirty)
		return;
	pthread_mutex_lock(&vm->mem.dirty->lock);
	user_stop(vm, u);
	pthread_mutex_unlock(&vm->mem.dirty->lock);
}

void vm_dirty_stop(struct vm *vm)
{
	stop(vm, DIRTY_TRACK);
}

int vm_dirty_sample_start(struct vm *vm, const uint64_t *protect)
{
	int rc = gmem_dirty_alloc(&vm->mem);
	struct gmem_dirty *d = vm->mem.dirty;

	if (rc)
		return rc;
	pthread_mutex_lock(&d->lock);
	rc = user_start(vm, DIRTY_SAMPLE, d->sink[DIRTY_TRACK].on, protect);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

int vm_dirty_sample_fetch(struct vm *vm, const uint64_t *protect, uint64_t *out)
{
	return fetch(vm, DIRTY_SAMPLE, protect, out, out);
}

void vm_dirty_sample_stop(struct vm *vm)
{
	stop(vm, DIRTY_SAMPLE);
}
