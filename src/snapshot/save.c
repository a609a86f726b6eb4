/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Taking a snapshot (docs/snapshot.md): the domain is paused (its vCPUs out of KVM_RUN with
 * every I/O finished, its devices stopped), its state is written as records, its memory as
 * a sparse raw file, and it runs on (a live snapshot) or ends (a save). Runs on the API
 * thread: it writes only to the two files the client handed over.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capsule/domain.h"
#include "capsule/log.h"
#include "capsule/snapshot.h"
#include "diff.h"

#define PAGE 4096u
#define CHUNK (2u << 20)

static bool zero_page(const uint8_t *p)
{
	static const uint8_t zeros[PAGE];

	return !memcmp(p, zeros, PAGE);
}

/* Write [off, end) of guest memory to fd at the same offsets, leaving zero pages as holes. */
int snap_write_range(const struct guest_mem *m, int fd, uint64_t off, uint64_t end,
		     uint64_t *written)
{
	while (off < end) {
		uint64_t run;

		if (zero_page(m->host + off)) {
			off += PAGE;
			continue;
		}
		for (run = PAGE; off + run < end && run < CHUNK && !zero_page(m->host + off + run);)
			run += PAGE;
		for (uint64_t done = 0; done < run;) {
			ssize_t n = pwrite(fd, m->host + off + done, run - done, (off_t)(off + done));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return n < 0 ? -errno : -EIO;
			done += (uint64_t)n;
		}
		*written += run;
		off += run;
	}
	return 0;
}

/*
 * Guest memory in guest-physical order, sparse. A memfd says where its data is (SEEK_DATA:
 * never-touched pages are skipped without being read); a restored domain's private mapping
 * is scanned whole. The file gets the memory's size.
 */
static int write_range_sparse(const struct guest_mem *m, int fd, uint64_t off, uint64_t end,
			      uint64_t *written)
{
	int rc = 0;

	while (!rc && off < end) {
		off_t data = m->private_file ? (off_t)off : lseek(m->fd, (off_t)off, SEEK_DATA);
		off_t hole;

		if (data < 0)
			return errno == ENXIO ? 0 : -errno; /* no data after off */
		if ((uint64_t)data >= end)
			return 0;
		hole = m->private_file ? (off_t)end : lseek(m->fd, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		rc = snap_write_range(m, fd, (uint64_t)data & ~(uint64_t)(PAGE - 1),
				 (uint64_t)hole < end ? (uint64_t)hole : end, written);
		off = (uint64_t)hole;
	}
	return rc;
}

/* Each RAM range: an HVM domain's PCI hole is never read and stays a hole in the file. */
static int write_memory(const struct guest_mem *m, int fd, uint64_t *written)
{
	struct gmem_range r[2];
	unsigned n = gmem_ram_ranges(m, r);
	int rc = 0;

	*written = 0;
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)m->size) < 0)
		return -errno;
	for (unsigned i = 0; !rc && i < n; i++)
		rc = write_range_sparse(m, fd, r[i].start, r[i].end, written);
	return rc ? rc : (fdatasync(fd) < 0 ? -errno : 0);
}

static uint64_t utc_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void pv_record(struct domain *d, struct snap_pv *r)
{
	struct pv_domain *pv = &d->k.pv;

	memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&d->vm->lock);
	memcpy(r->ports, pv->ports, sizeof(r->ports));
	memcpy(r->vcpu_ports, pv->vcpu_ports, sizeof(r->vcpu_ports));
	for (unsigned i = 0; i < CAP_MAX_VCPUS; i++) {
		r->timer_deadline[i] = pv->timers[i].deadline;
		r->timer_port[i] = pv->timers[i].port;
	}
	pthread_mutex_unlock(&d->vm->lock);
	for (unsigned i = 0; i < pv->nr_devices; i++)
		r->device_port[i] = pv->devices[i].port;
	pthread_mutex_lock(&pv->console_lock);
	r->console_cons = pv->console_cons;
	pthread_mutex_unlock(&pv->console_lock);
	r->console_in_prod = pv->console_in_prod;
	r->console_in_port = pv->console_in_port;
	r->control_port = pv->control_port;
	r->nr_devices = pv->nr_devices;
}

/* Everything but memory, as records. d->lock is not held; the domain is paused. */
int snap_write_state(struct domain *d, int fd, uint32_t generation,
		     const struct snap_diff_ctx *dc, char *err, size_t len)
{
	struct vm *vm = d->vm;
	struct snap_header h = {.version = SNAP_VERSION, .arch = SNAP_ARCH_X86_64,
				.kind = d->kind == DOMAIN_PV ? SNAP_KIND_PV : SNAP_KIND_HVM,
				.mem_bytes = vm->mem.size};
	struct snap_domain dom = {.nr_vcpus = vm->nr_vcpus, .generation = generation,
				  .domain_time_ns = vm_time_ns(vm), .saved_utc_ns = utc_ns()};
	struct vcpu_kvm_state *vs = malloc(sizeof(*vs));
	struct snap_platform *plat = malloc(sizeof(*plat));
	struct snap_pv *pvr = malloc(sizeof(*pvr));
	struct snap_pci *spc = calloc(1, sizeof(*spc));
	struct virtio_pci *vp;
	struct vm_kvm_state vms;
	struct snap_writer w;
	char *config = NULL;
	int rc = -ENOMEM;

	memcpy(h.magic, SNAP_MAGIC, 8);
	if (!vs || !plat || !pvr || !spc || !(config = domain_config_to_json(&d->cfg)))
		goto out;
	for (unsigned i = 0; i < d->nr_devices; i++)
		dom.nr_devices += d->devices[i].dev != NULL;
	dom.nr_platform = d->kind == DOMAIN_HVM ? HVM_PLATFORM_DEVICES : 0;
	rc = vm_kvm_save(vm, &vms, err, len);
	if (rc)
		goto out;
	snap_writer_init(&w, fd, &h);
	snap_write(&w, SNAP_CONFIG, 0, config, strlen(config));
	snap_write(&w, SNAP_DOMAIN, 0, &dom, sizeof(dom));
	snap_diff_records(&w, dc);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		pthread_mutex_lock(&vm->lock);
		bool running = v->state == VCPU_RUNNING;
		pthread_mutex_unlock(&vm->lock);
		if (running && (rc = vcpu_kvm_save(v, vs, err, len)))
			goto out;
		if (!running) {
			memset(vs, 0, sizeof(*vs));
			vs->id = i;
		}
		vs->running = running;
		snap_write(&w, SNAP_VCPU, 0, vs, sizeof(*vs));
	}
	snap_write(&w, SNAP_VM, 0, &vms, sizeof(vms));
	if (d->kind == DOMAIN_PV) {
		pv_record(d, pvr);
		snap_write(&w, SNAP_PV, 0, pvr, sizeof(*pvr));
	}
	for (unsigned i = 0, n = 0; i < d->nr_devices; i++) {
		struct snap_device sd = {.index = n};

		if (!d->devices[i].dev)
			continue;
		n++;
		snprintf(sd.kind, sizeof(sd.kind), "%s", d->devices[i].kind->name);
		pthread_mutex_lock(&d->devices[i].dev->lock);
		virtio_save(d->devices[i].dev, &sd.state);
		pthread_mutex_unlock(&d->devices[i].dev->lock);
		snap_write(&w, SNAP_DEVICE, 0, &sd, sizeof(sd));
		if (d->kind == DOMAIN_HVM &&
		    (vp = hvm_virtio_pci(&d->k.hvm, d->devices[i].dev))) {
			spc->index = sd.index;
			virtio_pci_save(vp, &spc->state);
			snap_write(&w, SNAP_PCI, 0, spc, sizeof(*spc));
		}
	}
	for (unsigned i = 0; i < dom.nr_platform; i++) {
		const struct platform_dev *p = &d->k.hvm.platform[i];

		memset(plat, 0, sizeof(*plat));
		plat->index = i;
		snprintf(plat->name, sizeof(plat->name), "%s", p->ops->name);
		plat->len = (uint32_t)platform_save(p, plat->data, sizeof(plat->data));
		snap_write(&w, SNAP_PLATFORM, 0, plat, sizeof(*plat));
	}
	rc = snap_writer_finish(&w);
	if (!rc && fdatasync(fd) < 0 && errno != EINVAL) /* EINVAL: a migration's socket */
		rc = -errno;
	if (rc)
		snprintf(err, len, "cannot write the state: %s", strerror(-rc));
out:
	if (rc == -ENOMEM && !err[0])
		snprintf(err, len, "out of memory");
	free(config);
	free(vs);
	free(plat);
	free(pvr);
	free(spc);
	return rc;
}

int snapshot_take(struct domain *d, int state_fd, int mem_fd, bool end_after,
		  struct snapshot_report *rep, char *err, size_t errlen)
{
	struct snapshot_opts o = {.end_after = end_after};

	return snapshot_take_opts(d, state_fd, mem_fd, &o, rep, err, errlen);
}

/* snapshot_take_opts with the boot held (domain_hold): it cannot be torn down meanwhile. */
static int snapshot_held(struct domain *d, int state_fd, int mem_fd,
			 const struct snapshot_opts *o, bool was_running,
			 struct snapshot_report *rep, char *err, size_t errlen)
{
	uint64_t t0 = monotonic_ns(), t1;
	bool end_after = o->end_after;
	struct snap_diff_ctx dc;
	int rc;

	if (was_running && (rc = domain_pause(d)) < 0) {
		snprintf(err, errlen, "cannot pause the domain: %s", strerror(-rc));
		return rc;
	}
	/* Console output the guest has not flushed goes out now, once: the restored domain
	 * starts with an empty ring, and prints nothing twice. */
	if (d->kind == DOMAIN_PV)
		pv_console_drain(&d->k.pv);
	/* The dirty log runs on from a live snapshot (diff.c); a save ends the domain. */
	rc = snap_diff_begin(d, o->diff, !end_after, &dc, err, errlen);
	if (rc) {
		if (was_running)
			domain_resume(d);
		return rc;
	}
	rc = snap_write_state(d, state_fd, d->generation, &dc, err, errlen);
	t1 = monotonic_ns();
	if (!rc) {
		rc = dc.diff ? snap_diff_write_memory(&d->vm->mem, &dc, mem_fd, &rep->memory_bytes)
			     : write_memory(&d->vm->mem, mem_fd, &rep->memory_bytes);
		if (rc)
			snprintf(err, errlen, "cannot write the memory: %s", strerror(-rc));
	}
	rep->pages = dc.pages ? dc.pages->nr_dirty : 0;
	memcpy(rep->id, dc.chain.id, SNAP_ID_LEN);
	memcpy(rep->parent, dc.chain.parent, SNAP_ID_LEN);
	snap_diff_end(d, &dc, rc == 0);
	rep->state_ns = t1 - t0;
	rep->pause_ns = monotonic_ns() - t0;
	if (!rc && end_after) {
		log_info("domain %s: saved; it ends", d->cfg.name);
		pthread_mutex_lock(&d->lock);
		d->end_requested = true;
		d->saved = true;
		pthread_mutex_unlock(&d->lock);
		domain_end(d, VM_END_POWEROFF, 0);
	}
	if (was_running && !(rc == 0 && end_after))
		domain_resume(d);
	if (!rc)
		log_info("domain %s: snapshot taken, paused %.2f ms, %llu bytes of memory",
			 d->cfg.name, rep->pause_ns / 1e6, (unsigned long long)rep->memory_bytes);
	return rc;
}

int snapshot_take_opts(struct domain *d, int state_fd, int mem_fd,
		       const struct snapshot_opts *o, struct snapshot_report *rep, char *err,
		       size_t errlen)
{
	char what[64];
	bool was_running;
	int rc;

	memset(rep, 0, sizeof(*rep));
	err[0] = 0;
	if (domain_hold(d, &was_running, what, sizeof(what))) {
		snprintf(err, errlen, "cannot snapshot a domain that is %s", what);
		return -EINVAL;
	}
	rc = snapshot_held(d, state_fd, mem_fd, o, was_running, rep, err, errlen);
	domain_release(d);
	return rc;
}
