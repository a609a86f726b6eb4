/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Restoring a snapshot (docs/snapshot.md): the state stream is read and checked whole, the
 * domain is created from the configuration it carries, and its first boot maps the memory
 * file copy-on-write and loads the saved state in place of building the domain. Every value
 * from the file is checked against the domain being built before it is used; anything wrong
 * stops the restore before a vCPU runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capsule/domain.h"
#include "capsule/log.h"
#include "capsule/snapshot.h"

#define BAD(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

int snapshot_parse_config(const void *buf, size_t len, struct snap_parsed *p,
			  struct domain_config *cfg, char *err, size_t errlen)
{
	if (snap_parse(buf, len, p, err, errlen))
		return -EINVAL;
	if (p->pages)
		return BAD("a diff snapshot (%llu pages written since its parent): fold the chain "
			   "into a full snapshot with 'capsule snapshot-merge BASE DIFF... OUT' "
			   "first", (unsigned long long)p->pages->nr_dirty);
	domain_config_init(cfg);
	if (domain_config_from_json(cfg, p->config, p->config_len, err, errlen))
		return -EINVAL;
	if (cfg->vcpus != p->domain->nr_vcpus)
		return BAD("the configuration says %u vCPUs, the state has %u", cfg->vcpus,
			   p->domain->nr_vcpus);
	return 0;
}

static int read_all(int fd, void **out, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *buf;
	size_t done = 0;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return BAD("the state is not a regular file");
	if (st.st_size > SNAP_MAX_STATE)
		return BAD("the state is %lld bytes; a snapshot's state is at most %u",
			   (long long)st.st_size, SNAP_MAX_STATE);
	/* 8-byte aligned (malloc), as the records' structures need. */
	buf = malloc((size_t)st.st_size + 8);
	if (!buf)
		return BAD("out of memory");
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return BAD("cannot read the state: %s", n ? strerror(errno) : "short read");
		}
		done += (size_t)n;
	}
	*out = buf;
	*len = done;
	return 0;
}

int snapshot_open(const char *dir, struct snap_restore **out, struct domain_config *cfg,
		  char *err, size_t errlen)
{
	struct snap_restore *r = calloc(1, sizeof(*r));
	char path[4200];
	struct stat st;
	int fd;

	if (!r)
		return BAD("out of memory");
	r->mem_fd = -1;
	r->pagemap_fd = -1;
	snprintf(path, sizeof(path), "%s/state", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (read_all(fd, &r->buf, &r->len, err, errlen)) {
		close(fd);
		goto fail;
	}
	close(fd);
	if (snapshot_parse_config(r->buf, r->len, &r->p, cfg, err, errlen))
		goto fail;
	snprintf(path, sizeof(path), "%s/memory", dir);
	r->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->mem_fd < 0 || fstat(r->mem_fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != r->p.header.mem_bytes) {
		snprintf(err, errlen, "%s has %lld bytes; the state says the domain has %llu bytes "
			 "of memory", path, (long long)st.st_size,
			 (unsigned long long)r->p.header.mem_bytes);
		goto fail;
	}
	/* A working set that is wrong is only a lost speed-up: say so and restore without. */
	if (ws_load(dir, r->p.header.mem_bytes, &r->ws, path, sizeof(path)) == -EINVAL)
		fprintf(stderr, "capsule: %s/workingset refused: %s; restoring without "
			"prefetch\n", dir, path);
	*out = r;
	return 0;
fail:
	snapshot_close(r);
	return -EINVAL;
}

void snapshot_open_pagemap(struct snap_restore *r)
{
	if (r->pagemap_fd >= 0)
		close(r->pagemap_fd);
	r->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

void snapshot_close(struct snap_restore *r)
{
	if (!r)
		return;
	if (r->mem_fd >= 0)
		close(r->mem_fd);
	if (r->pagemap_fd >= 0)
		close(r->pagemap_fd);
	ws_free(&r->ws);
	free(r->pc_need);
	free(r->buf);
	free(r);
}

int snapshot_check(struct domain *d, const struct snap_restore *r, char *err, size_t errlen)
{
	const struct snap_parsed *p = &r->p;
	struct vm_config layout;
	uint64_t mem;
	unsigned n = 0;

	domain_mem_layout(d, &layout);
	mem = layout.mem_bytes; /* an HVM domain's PCI hole included (docs/snapshot.md) */
	if (p->nr_vcpus != d->cfg.vcpus)
		return BAD("the snapshot has %u vCPUs; its configuration gives %u", p->nr_vcpus,
			   d->cfg.vcpus);
	if ((p->header.kind == SNAP_KIND_PV) != (d->kind == DOMAIN_PV))
		return BAD("a snapshot of a%s domain, but %s is a%s image",
			   p->header.kind == SNAP_KIND_PV ? " PV" : "n HVM", d->cfg.image,
			   d->kind == DOMAIN_PV ? " PV" : "n HVM");
	if (p->header.mem_bytes != mem)
		return BAD("the snapshot has %llu bytes of memory; its configuration gives %llu",
			   (unsigned long long)p->header.mem_bytes, (unsigned long long)mem);
	for (unsigned i = 0; i < d->nr_devices; i++) {
		const char *kind = d->devices[i].kind->name;

		if (n >= p->nr_devices || strncmp(p->device[n]->kind, kind,
						  sizeof(p->device[n]->kind)))
			return BAD("device %u: the snapshot has %s, the domain %s", n,
				   n < p->nr_devices ? p->device[n]->kind : "none", kind);
		n++;
	}
	if (n != p->nr_devices)
		return BAD("the snapshot has %u devices, the domain %u", p->nr_devices, n);
	for (unsigned i = 0; i < p->nr_vcpus; i++)
		if (p->vcpu[i]->id != i || p->vcpu[i]->running > 1 ||
		    p->vcpu[i]->nr_msrs > VCPU_MAX_MSRS)
			return BAD("vCPU record %u is malformed", i);
	if (!p->vcpu[0]->running)
		return BAD("vCPU 0 was not running");
	if (d->kind == DOMAIN_HVM && p->nr_platform != HVM_PLATFORM_DEVICES)
		return BAD("the snapshot has %u platform devices; this build's PC has %u",
			   p->nr_platform, HVM_PLATFORM_DEVICES);
	return 0;
}

static uint64_t utc_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* The PV record: every port, vCPU and index checked before the domain takes it. */
static int check_pv(struct domain *d, const struct snap_pv *r, char *err, size_t errlen)
{
	unsigned nv = d->vm->nr_vcpus;

	if (r->nr_devices != d->k.pv.nr_devices)
		return BAD("the PV record has %u devices, the domain %u", r->nr_devices,
			   d->k.pv.nr_devices);
	for (unsigned p = 0; p < CAP_EVTCHN_PORTS; p++)
		if (r->ports[p].kind > PV_PORT_TIMER || (r->ports[p].kind && r->ports[p].vcpu >= nv) ||
		    (p == 0 && r->ports[p].kind))
			return BAD("event channel %u is malformed", p);
	for (unsigned v = 0; v < CAP_MAX_VCPUS; v++) {
		for (unsigned w = 0; w < CAP_EVTCHN_WORDS; w++)
			for (unsigned b = 0; b < 64; b++)
				if ((r->vcpu_ports[v][w] >> b & 1) &&
				    (v >= nv || r->ports[w * 64 + b].kind == PV_PORT_FREE ||
				     r->ports[w * 64 + b].vcpu != v))
					return BAD("vCPU %u's port list is malformed", v);
		if (r->timer_port[v] < -1 || r->timer_port[v] >= (int32_t)CAP_EVTCHN_PORTS ||
		    (r->timer_port[v] >= 0 &&
		     (r->ports[r->timer_port[v]].kind != PV_PORT_TIMER || v >= nv)))
			return BAD("vCPU %u's timer is malformed", v);
		if (r->timer_deadline[v] > UINT64_MAX - d->vm->t0_ns)
			return BAD("vCPU %u's timer deadline is out of range", v);
	}
	for (unsigned i = 0; i < r->nr_devices; i++)
		if (r->device_port[i] != d->k.pv.devices[i].port)
			return BAD("device %u's event channel is %u in the snapshot, %u here", i,
				   r->device_port[i], d->k.pv.devices[i].port);
	if (!r->control_port || r->control_port >= CAP_EVTCHN_PORTS ||
	    r->console_in_port >= CAP_EVTCHN_PORTS ||
	    r->ports[r->control_port].kind != PV_PORT_VCPU ||
	    (r->console_in_port && r->ports[r->console_in_port].kind != PV_PORT_VCPU))
		return BAD("the control or console input port is malformed");
	return 0;
}

static int apply_pv(struct domain *d, const struct snap_parsed *p, char *err, size_t errlen)
{
	struct pv_domain *pv = &d->k.pv;
	const struct snap_pv *r = p->pv;
	bool virtio_console = false;
	uint64_t now_utc = utc_ns();
	int rc;

	if ((rc = check_pv(d, r, err, errlen)))
		return rc;
	pthread_mutex_lock(&d->vm->lock);
	pv->restoring = false;
	memcpy(pv->ports, r->ports, sizeof(pv->ports));
	memcpy(pv->vcpu_ports, r->vcpu_ports, sizeof(pv->vcpu_ports));
	for (unsigned i = 0; i < CAP_MAX_VCPUS; i++) {
		pv->timers[i].deadline = r->timer_deadline[i];
		pv->timers[i].port = r->timer_port[i];
	}
	pthread_mutex_unlock(&d->vm->lock);
	pv->console_cons = r->console_cons;
	pv->console_in_prod = r->console_in_prod;
	pv->stamp_first_hypercall = d->cfg.stamp_first_hypercall; /* bench: restore's first */
	pv->control_port = r->control_port;
	for (unsigned i = 0; i < d->nr_devices; i++)
		virtio_console |= d->devices[i].kind == device_kind_by_name("virtio-console");
	/* Console input resumes where the ring left it, if the domain had it. */
	if (r->console_in_port && !virtio_console &&
	    (rc = pv_console_in_attach(pv, d->cfg.console_in, r->console_in_port)))
		return BAD("cannot resume console input: %s", strerror(-rc));
	/* Tell the guest (docs/pv-abi.md 11.2): a new generation, and the wall clock of its
	 * domain time 0 as of now. */
	__atomic_store_n(&pv->shared->generation, d->generation, __ATOMIC_RELEASE);
	pv->start_info->boot_wallclock_ns = now_utc - p->domain->domain_time_ns;
	pv_timer_rearm(pv);
	return 0;
}

static int apply_hvm(struct domain *d, const struct snap_parsed *p, char *err, size_t errlen)
{
	for (unsigned i = 0; i < HVM_PLATFORM_DEVICES; i++) {
		struct platform_dev *pd = &d->k.hvm.platform[i];
		const struct snap_platform *sp = p->platform[i];
		const char *why = "";

		if (sp->index != i || strncmp(sp->name, pd->ops->name, sizeof(sp->name)))
			return BAD("platform device %u: the snapshot has %.16s, the domain %s", i,
				   sp->name, pd->ops->name);
		if (sp->len > sizeof(sp->data) || platform_restore(pd, sp->data, sp->len, &why))
			return BAD("platform device %s: %s", pd->ops->name,
				   sp->len > sizeof(sp->data) ? "too much state" : why);
	}
	return 0;
}

/* A virtio-pci device's transport (its SNAP_PCI record): present exactly for those. */
static int restore_pci(struct domain *d, struct virtio_dev *dev, const struct snap_pci *pc,
		       const char **why)
{
	struct virtio_pci *vp = d->kind == DOMAIN_HVM ? hvm_virtio_pci(&d->k.hvm, dev) : NULL;

	if (!vp != !pc) {
		*why = vp ? "the snapshot has no PCI state for this virtio-pci device"
			  : "the snapshot has PCI state for a device that is not on PCI";
		return -EINVAL;
	}
	return vp ? virtio_pci_restore(vp, &pc->state, why) : 0;
}

int snapshot_apply(struct domain *d, char *err, size_t errlen)
{
	struct snap_restore *r = d->restore;
	const struct snap_parsed *p = &r->p;
	struct vm *vm = d->vm;
	unsigned n = 0;
	int rc;

	r->used = true;
	d->generation = p->domain->generation + 1;
	/* Domain time goes on from where it was saved. */
	vm->t0_ns = monotonic_ns() - p->domain->domain_time_ns;
	rc = vm_kvm_load(vm, p->vm, err, errlen);
	for (unsigned i = 0; !rc && i < d->nr_devices; i++) {
		struct virtio_dev *dev = d->devices[i].dev;
		const char *why = "";

		pthread_mutex_lock(&dev->lock);
		rc = virtio_restore(dev, &p->device[n]->state, &why);
		pthread_mutex_unlock(&dev->lock);
		if (!rc)
			rc = restore_pci(d, dev, p->pci[n], &why);
		if (rc)
			snprintf(err, errlen, "device %u (%s): %s", n, d->devices[i].kind->name, why);
		n++;
	}
	if (!rc)
		rc = d->kind == DOMAIN_PV ? apply_pv(d, p, err, errlen) : apply_hvm(d, p, err, errlen);
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; !rc && i < vm->nr_vcpus; i++) {
		vm->vcpus[i].restore = p->vcpu[i]->running ? p->vcpu[i] : NULL;
		vm->loading_vcpus += vm->vcpus[i].restore != NULL;
	}
	pthread_mutex_unlock(&vm->lock);
	if (rc && d->kind == DOMAIN_PV) /* the teardown prints nothing of the saved ring */
		d->k.pv.console_cons = __atomic_load_n(&d->k.pv.console->prod, __ATOMIC_ACQUIRE);
	if (!rc)
		log_info("domain %s: restored (generation %u, domain time %.3f s)", d->cfg.name,
			 d->generation, p->domain->domain_time_ns / 1e9);
	return rc;
}

int snapshot_start(struct domain *d)
{
	struct vm *vm = d->vm;

	/* A kick that came while the saved domain's devices were stopped was never served
	 * there (its eventfd was read): chains the driver queued are in the restored rings.
	 * Serve every queue once, as a device that starts again does (virtio_dev_start). */
	for (unsigned i = 0; i < d->nr_devices; i++)
		for (unsigned q = 0; d->devices[i].dev && q < d->devices[i].dev->ops->num_queues; q++)
			virtio_requeue(d->devices[i].dev, q);

	if (d->kind == DOMAIN_HVM) {
		int rc = hvm_domain_start(&d->k.hvm);

		/* The same state may now run twice: a new generation ID, and the guest told
		 * once its vCPUs hold their restored LAPICs (docs/hvm.md, VM generation ID). */
		if (!rc) {
			vm_wait_loaded(vm);
			if (hvm_vmgenid_renew(&d->k.hvm))
				log_warn("domain %s: the guest was not told of its new generation",
					 d->cfg.name);
		}
		return rc;
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		int rc = vm->vcpus[i].restore ? vcpu_start(&vm->vcpus[i], NULL) : 0;

		if (rc) {
			log_err("cannot start vCPU %u: %s", i, strerror(-rc));
			return rc;
		}
	}
	return pv_service_start(&d->k.pv);
}
