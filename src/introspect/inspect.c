/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a domain from outside: registers, translations, memory and the mapped regions.
 * Guest memory is read through guest_mem's bounds checks only; the page tables are the
 * guest's (hostile for an HVM domain): every walk is bounded by the tables' size.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "capsule/domain.h"
#include "capsule/introspect.h"

int inspect_stop(struct domain *d, bool *paused_here)
{
	int r;

	*paused_here = false;
	if (d->state == DOMAIN_PAUSED)
		return 0;
	if (d->state != DOMAIN_RUNNING || !d->vm)
		return -ESRCH;
	r = vm_pause(d->vm);
	if (r == -EBUSY && !vm_ended(d->vm))
		r = vm_pause_wait(d->vm); /* stopped by someone else (gdb): wait for all */
	else
		*paused_here = r >= 0;
	if (r < 0)
		return r == -EINVAL || r == -EBUSY ? -EBUSY : r;
	return 0;
}

/*
 * Run fn with vCPU n out of KVM_RUN: a running domain is paused for it (or, if its vCPUs
 * are stopped already, by gdb or a watch, read as they are). d->lock is held throughout,
 * as domain_pause holds it.
 */
static int with_stopped(struct domain *d, unsigned n, int (*fn)(struct vcpu *v, void *arg),
			void *arg)
{
	bool paused_here = false;
	int r;

	pthread_mutex_lock(&d->lock);
	if (!d->vm || n >= d->vm->nr_vcpus || d->vm->vcpus[n].fd < 0) {
		r = -ESRCH;
		goto out;
	}
	if ((r = inspect_stop(d, &paused_here)))
		goto out;
	r = fn(&d->vm->vcpus[n], arg);
	if (paused_here)
		vm_resume(d->vm);
out:
	pthread_mutex_unlock(&d->lock);
	return r;
}

struct all_arg {
	int (*fn)(struct vm *vm, void *arg);
	void *arg;
};

static int all_of(struct vcpu *v, void *arg)
{
	struct all_arg *a = arg;

	return a->fn(v->vm, a->arg); /* every vCPU is stopped, not only v */
}

int inspect_with_stopped(struct domain *d, int (*fn)(struct vm *vm, void *arg), void *arg)
{
	struct all_arg a = {fn, arg};

	return with_stopped(d, 0, all_of, &a);
}

struct regs_arg {
	struct kvm_regs *r;
	struct kvm_sregs *s;
};

static int get_regs(struct vcpu *v, void *arg)
{
	struct regs_arg *a = arg;

	if ((a->r && ioctl(v->fd, KVM_GET_REGS, a->r) < 0) ||
	    (a->s && ioctl(v->fd, KVM_GET_SREGS, a->s) < 0))
		return -errno;
	return 0;
}

int inspect_regs(struct domain *d, unsigned vcpu, struct kvm_regs *r, struct kvm_sregs *s)
{
	struct regs_arg a = {r, s};

	return with_stopped(d, vcpu, get_regs, &a);
}

int inspect_walk_ctx(struct domain *d, unsigned vcpu, struct walk_ctx *c)
{
	struct kvm_sregs s;
	int r;

	if (d->kind == DOMAIN_PV) { /* the VMM's tables, the same on every vCPU */
		pthread_mutex_lock(&d->lock);
		r = d->vm && vcpu < d->vm->nr_vcpus ? 0 : -ESRCH;
		if (!r)
			pv_vcpu_sregs(d->vm, vcpu, &s);
		pthread_mutex_unlock(&d->lock);
	} else {
		r = inspect_regs(d, vcpu, NULL, &s);
	}
	if (!r)
		*c = (struct walk_ctx){.cr0 = s.cr0, .cr3 = s.cr3, .cr4 = s.cr4, .efer = s.efer};
	return r;
}

int inspect_translate(struct domain *d, unsigned vcpu, uint64_t gva, gpa_t *gpa,
		      uint64_t *page_size)
{
	struct walk_ctx c;
	int r = inspect_walk_ctx(d, vcpu, &c);

	if (r)
		return r;
	pthread_mutex_lock(&d->lock);
	r = d->vm ? gva_to_gpa(&d->vm->mem, &c, gva, gpa, page_size) : -ESRCH;
	pthread_mutex_unlock(&d->lock);
	return r;
}

int inspect_read(struct domain *d, bool virt, unsigned vcpu, uint64_t addr, void *buf,
		 size_t len)
{
	struct walk_ctx c;
	size_t done = 0;
	int r = 0;

	if (len == 0 || len > INSPECT_READ_MAX)
		return -EINVAL;
	if (virt && (r = inspect_walk_ctx(d, vcpu, &c)))
		return r;
	pthread_mutex_lock(&d->lock);
	if (!d->vm)
		r = -ESRCH;
	while (!r && done < len) {
		uint64_t page = 4096, chunk;
		gpa_t gpa = addr + done;
		const void *p;

		if (gpa < addr) { /* wrapped */
			r = -EFAULT;
			break;
		}
		if (virt && (r = gva_to_gpa(&d->vm->mem, &c, addr + done, &gpa, &page)))
			break;
		chunk = page - (gpa & (page - 1));
		if (chunk > len - done)
			chunk = len - done;
		/* bounds-checked; a PV domain's own CPU tables are readable */
		if (!(p = gmem_vmm_ptr(&d->vm->mem, gpa, chunk))) {
			r = -EFAULT;
			break;
		}
		memcpy((uint8_t *)buf + done, p, chunk);
		done += chunk;
	}
	pthread_mutex_unlock(&d->lock);
	return r;
}

#define PTE_P 1ull
#define PTE_RW 2ull
#define PTE_US 4ull
#define PTE_PS 0x80ull
#define PTE_NX (1ull << 63)
#define ADDR_MASK 0x000ffffffffff000ull

struct region_walk {
	const struct guest_mem *mem;
	struct inspect_region *out;
	unsigned max, n;
	bool truncated;
	unsigned long visited; /* entries looked at: a bound on hostile tables */
};

static void add_page(struct region_walk *w, uint64_t va, gpa_t pa, uint64_t size,
		     uint64_t rights)
{
	struct inspect_region *last = w->n ? &w->out[w->n - 1] : NULL;
	bool rw = rights & PTE_RW, us = rights & PTE_US, x = !(rights & PTE_NX);

	if (last && last->end == va && last->gpa + (last->end - last->start) == pa &&
	    last->writable == rw && last->user == us && last->executable == x) {
		last->end = va + size;
		return;
	}
	if (w->n == w->max) {
		w->truncated = true;
		return;
	}
	w->out[w->n++] = (struct inspect_region){va, va + size, pa, rw, us, x};
}

/* One table at level (4: PML4 .. 1: PT); rights: what the levels above allow. */
static void walk_table(struct region_walk *w, gpa_t table, int level, uint64_t va_base,
		       uint64_t rights)
{
	const uint64_t *t = gmem_vmm_ptr(w->mem, table, 4096);
	unsigned shift = 12 + 9 * (unsigned)(level - 1);

	if (!t)
		return;
	for (unsigned i = 0; i < 512 && !w->truncated; i++) {
		uint64_t e = t[i], va = va_base + ((uint64_t)i << shift), r;

		if (++w->visited > (1ul << 20)) {
			w->truncated = true;
			return;
		}
		if (!(e & PTE_P))
			continue;
		if (level == 4 && i >= 256) /* the upper half: sign-extended */
			va |= 0xffff000000000000ull;
		/* RW and US are allowed only if every level allows them; NX if any sets it */
		r = (rights & e & (PTE_RW | PTE_US)) | ((rights | e) & PTE_NX);
		if (level == 1 || (level <= 3 && (e & PTE_PS)))
			add_page(w, va, e & ADDR_MASK & ~((1ull << shift) - 1), 1ull << shift, r);
		else
			walk_table(w, e & ADDR_MASK, level - 1, va, r);
	}
}

int inspect_regions(struct domain *d, unsigned vcpu, struct inspect_region *out,
		    unsigned max, bool *truncated)
{
	struct walk_ctx c;
	struct region_walk w = {.out = out, .max = max};
	int r = inspect_walk_ctx(d, vcpu, &c);

	if (r)
		return r;
	if (!(c.cr0 & (1u << 31)) || !(c.efer & (1u << 10)) || (c.cr4 & (1u << 12)))
		return -ENOTSUP; /* long mode with four levels only */
	pthread_mutex_lock(&d->lock);
	if (!d->vm) {
		pthread_mutex_unlock(&d->lock);
		return -ESRCH;
	}
	w.mem = &d->vm->mem;
	walk_table(&w, c.cr3 & ADDR_MASK, 4, 0, PTE_RW | PTE_US);
	pthread_mutex_unlock(&d->lock);
	*truncated = w.truncated;
	return (int)w.n;
}
