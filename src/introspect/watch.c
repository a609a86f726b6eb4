/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Watches: a write-protected guest-physical range. Its pages get a memory slot of their
 * own with KVM_MEM_READONLY: reads run at full speed from memory, a write leaves the guest
 * as an MMIO exit naming the address and the data. The exit is handled here: the first
 * write after arming is reported (domain, vCPU, address, RIP, the instruction's bytes) and
 * the watch is "fired": later writes are completed without events until it is re-armed,
 * so a burst of writes gives one event. A watch set to pause enforces its range: no write
 * to its bytes is ever done (the guest reads them unchanged), and the first one stops the
 * domain. Otherwise the VMM completes every write itself (into guest memory, gmem_write),
 * and the guest goes on as if its page were writable. Either way a write to the watch's
 * pages outside its bytes is completed without an event.
 *
 * Why slots and not the dirty log: the dirty log costs nothing per write but reports
 * pages after the fact, at the next poll, without the vCPU or instruction; a read-only
 * slot costs one exit per write to the watched pages (about 50 us on the test hosts) and
 * nothing elsewhere, and names the instruction. Watches are for ranges that are rarely
 * written (code, tables declared immutable), where that trade is right.
 *
 * Slots change only with the domain paused, from the API thread. The dirty log works on
 * the RAM slots as they were at boot, so watches and live snapshots or migrations exclude
 * each other (arming says -EBUSY while the log is on).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "capsule/dirty.h"
#include "capsule/domain.h"
#include "capsule/introspect.h"
#include "capsule/log.h"

#define PAGE 4096ull

static struct watch_set *set_of(struct domain *d)
{
	if (!d->watches) {
		struct watch_set *s = calloc(1, sizeof(*s));

		if (!s)
			return NULL;
		pthread_mutex_init(&s->lock, NULL);
		s->next_id = 1;
		d->watches = s;
	}
	return d->watches;
}

static gpa_t page_down(gpa_t a)
{
	return a & ~(PAGE - 1);
}

static gpa_t page_up(gpa_t a)
{
	return (a + PAGE - 1) & ~(PAGE - 1);
}

/*
 * The slots for RAM minus the armed watches' pages, then one read-only slot per watch,
 * registered from scratch (KVM cannot reshape a slot): the old ones deleted first. With
 * the vCPUs paused: no vCPU sees the gap.
 */
static int apply_slots(struct vm *vm, struct watch_set *s)
{
	struct gmem_range ram[2];
	unsigned nr = gmem_ram_ranges(&vm->mem, ram), slot = 0;
	struct kvm_userspace_memory_region region;

	if (vm->fd < 0)
		return 0;
	for (unsigned i = 0; i < s->nr_slots; i++) {
		region = (struct kvm_userspace_memory_region){.slot = i};
		if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
			return -errno;
	}
	for (unsigned r = 0; r < nr; r++) {
		gpa_t at = ram[r].start;

		while (at < ram[r].end) {
			gpa_t end = ram[r].end, next = ram[r].end;
			uint32_t flags = 0;

			for (unsigned w = 0; w < WATCH_MAX; w++) {
				const struct watch *x = &s->w[w];
				gpa_t ws = page_down(x->start), we = page_up(x->end);

				if (!x->used || we <= at || ws >= end)
					continue;
				if (ws <= at) { /* at is inside this watch: a read-only piece */
					end = we < ram[r].end ? we : ram[r].end;
					flags = KVM_MEM_READONLY;
					break;
				}
				end = ws; /* writable up to the next watch */
			}
			next = end;
			region = (struct kvm_userspace_memory_region){
				.slot = slot++, .flags = flags, .guest_phys_addr = at,
				.memory_size = end - at,
				.userspace_addr = (uint64_t)(uintptr_t)(vm->mem.host + at),
			};
			if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
				return -errno;
			at = next;
		}
	}
	s->nr_slots = slot;
	return 0;
}

/* Pause (d->lock held), change the watches with fn, lay the slots out again, resume. */
static int64_t change(struct domain *d, int64_t (*fn)(struct watch_set *s, void *arg),
		      void *arg)
{
	struct watch_set *s;
	bool paused_here = false;
	int64_t r;
	int err;

	pthread_mutex_lock(&d->lock);
	if (!d->vm || (d->state != DOMAIN_RUNNING && d->state != DOMAIN_PAUSED)) {
		r = -ESRCH;
		goto out;
	}
	if (!(s = set_of(d))) {
		r = -ENOMEM;
		goto out;
	}
	if (gmem_dirty_on(&d->vm->mem)) {
		r = -EBUSY;
		goto out;
	}
	if ((err = inspect_stop(d, &paused_here))) {
		r = err;
		goto out;
	}
	/* The write working-set sampler logs on the slots too: it gives them up for this
	 * boot (src/domain/wss.c ends when it sees the watches). */
	if (gmem_dirty_user_is_on(&d->vm->mem, DIRTY_SAMPLE)) {
		vm_dirty_sample_stop(d->vm);
		log_info("domain %s: write working-set sampling ends: watches take the memory "
			 "slots", d->cfg.name);
	}
	pthread_mutex_lock(&s->lock);
	if (d->vm->watches != s) { /* a new boot: its memory has no watches */
		struct gmem_range ram[2];

		memset(s->w, 0, sizeof(s->w));
		s->nr_slots = gmem_ram_ranges(&d->vm->mem, ram);
	}
	r = fn(s, arg);
	if (r >= 0 && (err = apply_slots(d->vm, s))) {
		log_warn("watch: cannot lay out the memory slots (%s)", strerror(-err));
		r = err;
	}
	d->vm->watches = s;
	pthread_mutex_unlock(&s->lock);
	if (paused_here)
		vm_resume(d->vm);
out:
	pthread_mutex_unlock(&d->lock);
	return r;
}

struct add_arg {
	const struct guest_mem *mem;
	gpa_t gpa;
	uint64_t len;
	bool pause;
};

static int64_t do_add(struct watch_set *s, void *arg)
{
	struct add_arg *a = arg;
	struct watch *free_w = NULL;
	gpa_t ws = page_down(a->gpa), we;

	/* RAM the guest may write (gmem_ptr: not a PV domain's VMM-owned pages) */
	if (a->len == 0 || a->gpa + a->len < a->gpa || !gmem_ptr(a->mem, a->gpa, a->len))
		return -EINVAL;
	we = page_up(a->gpa + a->len);
	for (unsigned i = 0; i < WATCH_MAX; i++) {
		const struct watch *x = &s->w[i];

		if (x->used && page_down(x->start) < we && page_up(x->end) > ws)
			return -EEXIST; /* shares a page with another watch */
		if (!x->used && !free_w)
			free_w = &s->w[i];
	}
	if (!free_w)
		return -ENOSPC;
	*free_w = (struct watch){.used = true, .id = s->next_id++, .start = a->gpa,
				 .end = a->gpa + a->len, .pause = a->pause};
	return (int64_t)free_w->id;
}

int64_t watch_add(struct domain *d, gpa_t gpa, uint64_t len, bool pause)
{
	struct add_arg a = {.gpa = gpa, .len = len, .pause = pause};

	pthread_mutex_lock(&d->lock);
	a.mem = d->vm ? &d->vm->mem : NULL;
	pthread_mutex_unlock(&d->lock);
	if (!a.mem)
		return -ESRCH;
	return change(d, do_add, &a);
}

static struct watch *find(struct watch_set *s, uint64_t id)
{
	for (unsigned i = 0; i < WATCH_MAX; i++)
		if (s->w[i].used && s->w[i].id == id)
			return &s->w[i];
	return NULL;
}

static int64_t do_remove(struct watch_set *s, void *arg)
{
	struct watch *w = find(s, *(uint64_t *)arg);

	if (!w)
		return -ENOENT;
	w->used = false;
	return 0;
}

int watch_remove(struct domain *d, uint64_t id)
{
	return (int)change(d, do_remove, &id);
}

int watch_rearm(struct domain *d, uint64_t id)
{
	struct watch_set *s;
	struct watch *w;
	int r = -ENOENT;

	pthread_mutex_lock(&d->lock);
	s = d->vm ? d->vm->watches : NULL;
	if (s) {
		pthread_mutex_lock(&s->lock);
		if ((w = find(s, id))) {
			w->fired = false;
			r = 0;
		}
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return r;
}

unsigned watch_list(struct domain *d, struct watch *out, unsigned max)
{
	struct watch_set *s;
	unsigned n = 0;

	pthread_mutex_lock(&d->lock);
	s = d->vm ? d->vm->watches : NULL;
	if (s) {
		pthread_mutex_lock(&s->lock);
		for (unsigned i = 0; i < WATCH_MAX && n < max; i++)
			if (s->w[i].used)
				out[n++] = s->w[i];
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return n;
}

void watch_set_notify(struct domain *d, void (*fn)(void *opaque, const struct watch_event *e),
		      void *opaque)
{
	struct watch_set *s;

	pthread_mutex_lock(&d->lock);
	if ((s = set_of(d))) {
		pthread_mutex_lock(&s->lock);
		s->notify = fn;
		s->opaque = opaque;
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_unlock(&d->lock);
}

/* The bytes at the guest's rip, through its page tables, as far as they are mapped. */
static unsigned insn_bytes(struct vcpu *v, uint64_t rip, uint8_t *out, unsigned max)
{
	struct kvm_sregs sr;
	struct walk_ctx c;
	unsigned n = 0;

	if (v->vm->pv)
		pv_vcpu_sregs(v->vm, v->id, &sr);
	else if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
		return 0;
	c = (struct walk_ctx){.cr0 = sr.cr0, .cr3 = sr.cr3, .cr4 = sr.cr4, .efer = sr.efer};
	while (n < max) {
		gpa_t gpa;
		uint64_t page;
		const uint8_t *p;

		if (gva_to_gpa(&v->vm->mem, &c, rip + n, &gpa, &page) ||
		    !(p = gmem_vmm_ptr(&v->vm->mem, gpa, 1)))
			break;
		out[n++] = *p;
	}
	return n;
}

bool watch_mmio_write(struct vcpu *v, gpa_t addr, const uint8_t *data, uint32_t len)
{
	struct watch_set *s = v->vm->watches;
	struct watch_event e = {0};
	struct watch *w = NULL;
	bool report = false, hold = false;
	struct kvm_regs regs;

	if (!s)
		return false;
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < WATCH_MAX && !w; i++)
		if (s->w[i].used && addr >= page_down(s->w[i].start) &&
		    addr < page_up(s->w[i].end))
			w = &s->w[i];
	if (!w) {
		pthread_mutex_unlock(&s->lock);
		return false; /* not a watched page: a device's, or nothing */
	}
	w->writes++;
	/* a write to the watch's pages but outside its bytes is completed, not reported; one
	 * to a pausing watch's bytes is never done (it enforces the range, see above) */
	bool inside = addr < w->end && addr + len > w->start;

	report = inside && !w->fired;
	hold = inside && w->pause;
	if (report) {
		w->fired = true;
		e.id = w->id;
	}
	pthread_mutex_unlock(&s->lock);
	/* The write the guest meant, done for it (the slot is read-only to the guest only);
	 * one that straddles the slot's end lands in memory all the same. */
	if (!hold && gmem_write(&v->vm->mem, addr, data, len))
		log_warn("watch: a write at 0x%llx of %u bytes is outside RAM",
			 (unsigned long long)addr, len);
	if (!report)
		return true;
	e.vcpu = v->id;
	e.addr = addr;
	e.len = len;
	e.paused = hold; /* reported and held: the domain pauses */
	/* rip is past the instruction: KVM emulated it up to its write */
	if (ioctl(v->fd, KVM_GET_REGS, &regs) == 0)
		e.rip = regs.rip;
	e.insn_len = insn_bytes(v, e.rip, e.insn, sizeof(e.insn));
	if (e.paused) {
		/* stop the vCPUs now; the main thread makes it the domain's pause (domain.c) */
		vm_pause_request(v->vm);
		__atomic_store_n(&v->vm->pause_asked, true, __ATOMIC_RELEASE);
	}
	pthread_mutex_lock(&s->lock);
	if (s->notify)
		s->notify(s->opaque, &e);
	pthread_mutex_unlock(&s->lock);
	return true;
}

void watch_free(struct domain *d)
{
	if (!d->watches)
		return;
	pthread_mutex_destroy(&d->watches->lock);
	free(d->watches);
	d->watches = NULL;
}
