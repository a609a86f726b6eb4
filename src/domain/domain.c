/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A domain's life: created (files and backends open), then boots, each on a fresh VM,
 * until one ends for good by the lifecycle actions. d->lock guards state, vm and the
 * devices of the current boot against the threads that drive the domain from outside
 * (signals, the control socket, the API).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capsule/cgroup.h"
#include "capsule/domain.h"
#include "capsule/gdb.h"
#include "capsule/introspect.h"
#include "capsule/snapshot.h"
#include "capsule/loader.h"
#include "capsule/log.h"

static void notify(struct domain *d, enum domain_state s)
{
	void (*fn)(void *, enum domain_state);
	void *opaque;

	pthread_mutex_lock(&d->lock);
	fn = d->observer;
	opaque = d->observer_opaque;
	pthread_mutex_unlock(&d->lock);
	log_info("domain %s: %s", d->cfg.name, domain_state_name(s));
	if (fn)
		fn(opaque, s);
}

static void set_state(struct domain *d, enum domain_state s)
{
	pthread_mutex_lock(&d->lock);
	d->state = s;
	pthread_mutex_unlock(&d->lock);
	notify(d, s);
}

void domain_set_observer(struct domain *d, void (*fn)(void *opaque, enum domain_state s),
			 void *opaque)
{
	pthread_mutex_lock(&d->lock);
	d->observer = fn;
	d->observer_opaque = opaque;
	pthread_mutex_unlock(&d->lock);
}

/* A PV image carries the Capsule ELF note; anything else is a kernel for an HVM domain. */
static int open_image(struct domain *d)
{
	char err[LOADER_ERR_MAX];

	if ((d->image_fd = file_open(d->cfg.image, err)) < 0 ||
	    file_read_all(d->cfg.image, d->image_fd, d->cfg.mem_mib << 20, &d->image,
			  &d->image_size, err)) {
		fprintf(stderr, "capsule: %s\n", err);
		return -1;
	}
	d->kind = elf_is_pv(d->image, d->image_size) ? DOMAIN_PV : DOMAIN_HVM;
	d->ops = d->kind == DOMAIN_PV ? &pv_domain_ops : &hvm_domain_ops;
	if (d->cfg.initrd && d->kind == DOMAIN_HVM &&
	    (d->initrd_fd = file_open(d->cfg.initrd, err)) < 0) {
		fprintf(stderr, "capsule: %s\n", err);
		return -1;
	}
	return 0;
}

/*
 * Every vCPU on cfg.cpus, or where this process may run. cfg.cpus pins the whole domain:
 * this thread too, before it makes any other, so the VMM's own threads run where its vCPUs
 * do (as libvirt's <vcpu cpuset=>). Left to float, they put a little of the domain's load
 * on other CPUs, and the kernel then gives its cgroup less weight on the vCPUs' CPU: two
 * domains at weights 512:256 on one CPU got 2.21:1 with them free, 2.00:1 pinned.
 */
static int domain_affinity_init(struct domain *d)
{
	unsigned nr_host = cpulist_host_cpus(); /* asked here, before the sandbox, once */
	cpu_set_t set;
	char err[300];

	if (d->cfg.cpus[0]) {
		if (cpulist_parse(d->cfg.cpus, nr_host, &set, err, sizeof(err))) {
			fprintf(stderr, "capsule: cpus: %s\n", err);
			return -1;
		}
		if (sched_setaffinity(0, sizeof(set), &set) < 0) {
			fprintf(stderr, "capsule: cpus: cannot run on CPUs %s: %s\n", d->cfg.cpus,
				strerror(errno));
			return -1;
		}
	} else if (sched_getaffinity(0, sizeof(set), &set) < 0) {
		CPU_ZERO(&set);
		for (unsigned c = 0; c < nr_host; c++)
			CPU_SET(c, &set);
	}
	for (unsigned i = 0; i < CAP_MAX_VCPUS; i++)
		d->affinity[i] = set;
	return 0;
}

/*
 * The launch measurement (docs/measured-launch.md): the image and initrd from the files the
 * domain boots, the command line, and the configuration's guest-visible part as text.
 */
static int measure_domain(struct domain *d)
{
	struct launch_measure *m = &d->measure;
	const struct domain_config *c = &d->cfg;
	const char *cmdline = c->cmdline ? c->cmdline : "";
	size_t n;
	int rc;

	n = (size_t)snprintf(m->config, sizeof(m->config), "kind=%s\nmem_mib=%llu\nvcpus=%u\n"
			     "acpi=%s\nvirtio_pci=%d\ncpu=%s\n",
			     d->kind == DOMAIN_PV ? "pv" : "hvm", (unsigned long long)c->mem_mib,
			     c->vcpus, c->acpi_full ? "full" : "reduced", c->virtio_pci,
			     c->cpu ? c->cpu : "");
	for (unsigned i = 0; i < c->nr_devices && n < sizeof(m->config); i++)
		n += (size_t)snprintf(m->config + n, sizeof(m->config) - n, "device=%s\n",
				      c->devices[i].kind->name);
	if (n >= sizeof(m->config))
		return -E2BIG;
	if ((rc = measure_event_buf("image", d->image, d->image_size, m->event[0])) ||
	    (rc = measure_event_buf("cmdline", cmdline, strlen(cmdline), m->event[1])) ||
	    (rc = measure_event_fd("initrd", d->initrd_fd, m->event[2])) ||
	    (rc = measure_event_buf("config", m->config, n, m->event[3])))
		return rc;
	return measure_fold(m);
}

int domain_create(struct domain *d, const struct domain_config *cfg)
{
	char err[512];

	memset(d, 0, sizeof(*d));
	domain_config_copy(&d->cfg, cfg);
	d->image_fd = d->initrd_fd = d->kvm_fd = -1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->ended, NULL);
	pthread_cond_init(&d->released, NULL);
	console_log_init(&d->console_log);
	wss_init(&d->wss);
	d->state = DOMAIN_CREATED;
	/* Backends are opened by the domain, once, before the first boot. */
	for (unsigned i = 0; i < cfg->nr_devices; i++) {
		struct domain_device *dd = &d->devices[d->nr_devices];

		dd->kind = cfg->devices[i].kind;
		dd->backend = dd->kind->open(cfg->devices[i].arg, err, sizeof(err));
		if (!dd->backend) {
			fprintf(stderr, "capsule: %s\n", err);
			return -1;
		}
		d->nr_devices++;
	}
	if (open_image(d))
		return -1;
	log_stamp("image read");
	if (domain_config_validate(&d->cfg, d->kind, err, sizeof(err))) {
		fprintf(stderr, "capsule: %s\n", err);
		return -1;
	}
	if (domain_affinity_init(d))
		return -1;
	if (measure_domain(d) < 0) {
		fprintf(stderr, "capsule: cannot measure the domain's image, initrd and "
			"configuration (SHA-256)\n");
		return -1;
	}
	log_stamp("measured");
	d->kvm_fd = kvm_open();
	if (d->kvm_fd < 0)
		return -1;
	log_info("domain %s: %s domain from %s, %llu MiB, %u vCPU(s), %u device(s), cmdline "
		 "\"%s\"", d->cfg.name, d->ops->name, d->cfg.image,
		 (unsigned long long)d->cfg.mem_mib, d->cfg.vcpus, d->nr_devices, d->cfg.cmdline);
	log_info("domain %s: on_poweroff=%s on_reboot=%s on_crash=%s", d->cfg.name,
		 domain_action_name(d->cfg.on_poweroff), domain_action_name(d->cfg.on_reboot),
		 domain_action_name(d->cfg.on_crash));
	return 0;
}

/* The devices of this boot: created on the VM being built, in the table's order. */
static int attach_devices(struct domain *d)
{
	for (unsigned k = 0; device_kinds[k]; k++)
		for (unsigned i = 0; i < d->nr_devices; i++) {
			struct domain_device *dd = &d->devices[i];

			if (dd->kind != device_kinds[k])
				continue;
			struct virtio_dev *dev = dd->kind->attach(d, dd->backend);

			if (!dev)
				return -1;
			pthread_mutex_lock(&d->lock);
			dd->dev = dev;
			pthread_mutex_unlock(&d->lock);
			log_info("domain %s: %s at mmio 0x%llx", d->cfg.name, dd->dev->ops->name,
				 (unsigned long long)dd->dev->base);
		}
	return 0;
}

static void start_devices(struct domain *d)
{
	for (unsigned i = 0; i < d->nr_devices; i++)
		if (d->devices[i].dev)
			virtio_dev_start(d->devices[i].dev);
}

static void stop_devices(struct domain *d)
{
	for (unsigned i = 0; i < d->nr_devices; i++)
		if (d->devices[i].dev)
			virtio_dev_stop(d->devices[i].dev);
}

/* What the lifecycle says after a boot ended this way. */
static enum domain_action action_for(const struct domain *d, enum vm_end_reason why)
{
	switch (why) {
	case VM_END_REBOOT:
		return d->cfg.on_reboot;
	case VM_END_CRASH:
		return d->cfg.on_crash;
	case VM_END_POWEROFF:
		return d->cfg.on_poweroff;
	default: /* a timeout, or the host ending it: destroyed */
		return ACTION_DESTROY;
	}
}

/*
 * Until the boot ends: the run's deadline ends it as a timeout, and a shutdown request
 * the guest ignored past its grace time destroys it (d->shutdown_deadline, under d->lock,
 * may be set meanwhile: the wait is in slices).
 */
static void pause_inputs(struct domain *d);

/* A watch stopped the vCPUs from one of them (src/introspect/watch.c): make it the
 * domain's pause, as domain_pause would, so that vm.resume lets it go. */
static void take_pause_ask(struct domain *d, struct vm *vm)
{
	bool paused = false;

	if (!__atomic_exchange_n(&vm->pause_asked, false, __ATOMIC_ACQ_REL))
		return;
	pthread_mutex_lock(&d->lock);
	if (d->vm == vm && d->state == DOMAIN_RUNNING && vm_pause_wait(vm) >= 0 &&
	    !vm_ended(vm)) {
		d->state = DOMAIN_PAUSED;
		pause_inputs(d);
		paused = true;
	}
	pthread_mutex_unlock(&d->lock);
	if (paused)
		notify(d, DOMAIN_PAUSED);
}

static enum vm_end_reason wait_boot(struct domain *d, struct vm *vm, uint64_t deadline_ns)
{
	for (;;) {
		uint64_t now = monotonic_ns(), until = deadline_ns, grace;
		enum vm_end_reason r;

		pthread_mutex_lock(&d->lock);
		grace = d->shutdown_deadline;
		pthread_mutex_unlock(&d->lock);
		if (deadline_ns && now >= deadline_ns)
			vm_end(vm, VM_END_TIMEOUT, 0);
		if (grace && now >= grace) {
			fprintf(stderr, "capsule: domain %s did not shut down within %u s of the "
				"request; destroying it\n", d->cfg.name, d->shutdown_grace_s);
			d->shutdown_forced = true;
			vm_end(vm, VM_END_TIMEOUT, 0);
		}
		if (grace && (!until || grace < until))
			until = grace;
		if (!until || until > now + 200000000ull) /* look at the grace again soon */
			until = now + 200000000ull;
		if (until > now + 50000000ull && __atomic_load_n(&d->watches, __ATOMIC_RELAXED))
			until = now + 50000000ull; /* a watch may ask for a pause */
		r = vm_wait_until(vm, until);
		if (r != VM_END_NONE)
			return r;
		take_pause_ask(d, vm);
	}
}

int domain_shutdown(struct domain *d, bool reboot, unsigned grace_s)
{
	int r = -EINVAL;

	pthread_mutex_lock(&d->lock);
	if (d->vm && d->state == DOMAIN_PAUSED) {
		r = -EBUSY; /* a paused guest cannot see the request: resume it first */
	} else if (d->vm && d->state == DOMAIN_RUNNING) {
		if (d->kind == DOMAIN_PV)
			r = pv_domain_request(&d->k.pv, reboot ? CAP_REQUEST_REBOOT
							      : CAP_REQUEST_POWEROFF);
		else /* HVM: the ACPI power button; ACPI has no event that asks for a reboot */
			r = reboot ? -ENOTSUP : hvm_power_button(&d->k.hvm);
		if (!r && !reboot) {
			d->shutdown_grace_s = grace_s;
			d->shutdown_deadline = monotonic_ns() + grace_s * 1000000000ull;
			d->end_requested = true; /* a power off, not a restart */
		}
	}
	pthread_mutex_unlock(&d->lock);
	if (!r)
		log_info("domain %s: asked to %s", d->cfg.name, reboot ? "reboot" : "power off");
	return r;
}

void domain_mem_layout(const struct domain *d, struct vm_config *v)
{
	uint64_t ram = ((d->cfg.mem_mib << 20) + d->ops->mem_align - 1) & ~(d->ops->mem_align - 1);

	v->mem_bytes = ram;
	v->hole_start = v->hole_end = 0;
	if (d->ops->hole_end && ram > d->ops->hole_start) {
		v->hole_start = d->ops->hole_start;
		v->hole_end = d->ops->hole_end;
		v->mem_bytes = ram + (v->hole_end - v->hole_start);
	}
}

/*
 * start_paused: its vCPUs were asked to pause before they started, so they park before
 * their first instruction (as under the gdb stub); once they have, the domain is paused as
 * domain_pause leaves it, and domain_resume runs it.
 */
static void pause_first_boot(struct domain *d)
{
	bool paused = false;

	pthread_mutex_lock(&d->lock);
	if (vm_pause_wait(d->vm) >= 0 && !vm_ended(d->vm)) {
		d->state = DOMAIN_PAUSED;
		stop_devices(d);
		if (d->kind == DOMAIN_PV)
			pv_service_pause(&d->k.pv, true);
		paused = true;
	} else {
		vm_resume(d->vm);
	}
	pthread_mutex_unlock(&d->lock);
	if (paused)
		notify(d, DOMAIN_PAUSED);
}

/* One boot: build, start, wait for its end (or the deadline), tear down. */
static int boot_once(struct domain *d, uint64_t deadline_ns, enum vm_end_reason *why,
		     int *code)
{
	struct vm_config vcfg = {
		.nr_vcpus = d->cfg.vcpus,
		.platform = d->ops->platform,
		.kvm_fd = d->kvm_fd,
		.mem_private = d->cfg.mem_private,
		.affinity = d->affinity,
		.cpuid_at_start = d->kind == DOMAIN_PV, /* its guest brings up vCPUs 1 to N-1 */
	};
	struct vm *vm = &d->vm_storage;
	bool restoring = d->restore && !d->restore->used;
	bool hold = d->start_paused && !d->boots && !restoring;
	int rc;

	domain_mem_layout(d, &vcfg);
	if (restoring) /* its memory is the snapshot's, copy-on-write */
		vcfg.mem_file = d->restore->mem_fd;
	else
		d->generation = 0; /* a boot starts over (docs/pv-abi.md R-GEN-1) */
	memset(&d->k, 0, sizeof(d->k));
	rc = vm_create(vm, &vcfg);
	if (rc)
		return rc;
	log_debug("boot %u: VM with %llu bytes of memory", d->boots + 1,
		  (unsigned long long)vcfg.mem_bytes);
	vm->console = d->cfg.console;
	vm->console_log = &d->console_log;
	if (restoring && d->restore->pc_need) { /* post-copy: before anything touches memory */
		char err[256];

		if ((rc = postcopy_start(&vm->mem, d->restore, err, sizeof(err)))) {
			fprintf(stderr, "capsule: post-copy: %s\n", err);
			vm_destroy(vm);
			return rc;
		}
	} else if (restoring && d->restore->ws.nr && !d->restore->no_prefetch) {
		/* Its working set into the page tables before a vCPU runs (docs/snapshot.md). */
		d->restore->prefetched = ws_prefetch(&vm->mem, &d->restore->ws);
		if (d->restore->prefetched < 0)
			fprintf(stderr, "capsule: working-set prefetch: %s; the domain runs on\n",
				strerror((int)-d->restore->prefetched));
		else
			fprintf(stderr, "capsule: prefetched %lld pages of the working set\n",
				(long long)d->restore->prefetched);
	}
	pthread_mutex_lock(&d->lock);
	d->vm = vm;
	d->shutdown_deadline = 0;
	if (d->end_requested) /* asked to end between two boots: this one ends at once */
		vm_end(vm, VM_END_POWEROFF, 0);
	pthread_mutex_unlock(&d->lock);
	rc = d->ops->init(d);
	if (!rc)
		rc = attach_devices(d);
	if (!rc && restoring) { /* the saved state in place of a build (src/snapshot/) */
		char err[512];

		rc = snapshot_apply(d, err, sizeof(err));
		if (rc)
			fprintf(stderr, "capsule: cannot restore the snapshot: %s\n", err);
	} else if (!rc) {
		rc = d->ops->build(d);
		log_stamp("domain built");
	}
	if (!rc) {
		/* With --gdb the boot starts stopped; gdb sees it only once it is built (its
		 * memory loaded and the VMM's pages reserved), never while it is being built. */
		gdb_stub_attach(d->gdb, vm);
		d->boots++;
		set_state(d, DOMAIN_RUNNING);
		if (hold && vm_pause_request(vm))
			hold = false; /* ending already, or the gdb stub holds it */
		rc = restoring ? snapshot_start(d) : d->ops->start(d);
		log_stamp("domain started");
	}
	if (!rc && d->on_started) {
		void (*fn)(struct domain *, void *) = d->on_started;

		d->on_started = NULL;
		fn(d, d->on_started_opaque);
	}
	if (!rc) {
		start_devices(d);
		wss_start(d);
		if (hold)
			pause_first_boot(d);
		*why = wait_boot(d, vm, deadline_ns);
		*code = vm->end_code;
		set_state(d, DOMAIN_SHUTTING_DOWN);
	}
	gdb_stub_detach(d->gdb, vm->end_code);
	wss_stop(d);
	vm_join_vcpus(vm);
	stop_devices(d);
	pthread_mutex_lock(&d->lock);
	if (!rc && action_for(d, *why) == ACTION_PRESERVE && !d->end_requested) {
		/* xl's preserve: the ended domain's memory and state stay for inspection until
		 * it is destroyed from outside (a signal, the API). */
		d->state = *why == VM_END_CRASH ? DOMAIN_CRASHED : DOMAIN_SHUTOFF;
		fprintf(stderr, "capsule: domain %s %s; preserved until destroyed\n", d->cfg.name,
			*why == VM_END_CRASH ? "crashed" : "ended");
		while (!d->end_requested)
			pthread_cond_wait(&d->ended, &d->lock);
	}
	/* An API thread may be snapshotting or migrating this boot outside the lock: its
	 * memory and devices stay until it lets go (it sees the end and stops soon). */
	while (d->holds)
		pthread_cond_wait(&d->released, &d->lock);
	d->vm = NULL; /* nobody outside reaches this boot any more */
	d->balloon = NULL;
	pthread_mutex_unlock(&d->lock);
	if (!rc)
		log_info("domain %s: boot %u ended (%s, code %d)", d->cfg.name, d->boots,
			 *why == VM_END_POWEROFF ? "power off" : *why == VM_END_REBOOT ? "reboot"
			 : *why == VM_END_CRASH ? "crash" : "timeout", *code);
	d->last_end = rc ? VM_END_CRASH : *why;
	d->last_code = rc ? 0 : *code;
	if (!rc && d->cfg.print_stats)
		domain_print_stats(d, stderr);
	pthread_mutex_lock(&d->lock); /* the API reads dev pointers under it */
	for (unsigned i = 0; i < d->nr_devices; i++)
		d->devices[i].dev = NULL;
	pthread_mutex_unlock(&d->lock);
	d->ops->destroy(d);
	vm_destroy(vm);
	return rc;
}

int domain_run(struct domain *d, uint64_t deadline_ns, enum vm_end_reason *why, int *code)
{
	/* KVM's CPUID, which vCPU 0 needs before its first instruction, is the longest step
	 * of a launch here (about 1.3 ms): asked now, on a short thread of its own, it overlaps
	 * the making of the first boot's VM. Not earlier: the process has dropped its
	 * privileges by now, which it does before any thread starts (capabilities are per
	 * thread, and glibc aborts a uid change that one thread cannot follow). */
	cpuid_prefetch(d->kvm_fd);
	for (;;) {
		bool ended_by_host;

		*why = VM_END_NONE;
		*code = 0;
		if (boot_once(d, deadline_ns, why, code)) {
			set_state(d, DOMAIN_CRASHED);
			return -1;
		}
		pthread_mutex_lock(&d->lock);
		ended_by_host = d->end_requested;
		pthread_mutex_unlock(&d->lock);
		set_state(d, *why == VM_END_CRASH ? DOMAIN_CRASHED : DOMAIN_SHUTOFF);
		if (ended_by_host || action_for(d, *why) != ACTION_RESTART)
			return 0;
		fprintf(stderr, "capsule: domain %s; restarting it\n",
			*why == VM_END_REBOOT ? "rebooted" : *why == VM_END_CRASH ? "crashed"
										 : "powered off");
	}
}

void domain_end(struct domain *d, enum vm_end_reason why, int code)
{
	pthread_mutex_lock(&d->lock);
	d->end_requested = true; /* no restart after this, whatever the actions say */
	pthread_cond_broadcast(&d->ended);
	if (d->vm)
		vm_end(d->vm, why, code);
	pthread_mutex_unlock(&d->lock);
}

int domain_hold(struct domain *d, bool *was_running, char *err, size_t errlen)
{
	int r = -EINVAL;

	pthread_mutex_lock(&d->lock);
	if (d->vm && (d->state == DOMAIN_RUNNING || d->state == DOMAIN_PAUSED) &&
	    !vm_ended(d->vm)) {
		d->holds++;
		*was_running = d->state == DOMAIN_RUNNING;
		r = 0;
	} else {
		snprintf(err, errlen, "%s", d->vm && vm_ended(d->vm) ? "ending"
			 : domain_state_name(d->state));
	}
	pthread_mutex_unlock(&d->lock);
	return r;
}

void domain_release(struct domain *d)
{
	pthread_mutex_lock(&d->lock);
	if (d->holds && !--d->holds)
		pthread_cond_broadcast(&d->released);
	pthread_mutex_unlock(&d->lock);
}

/* No host input reaches a paused domain's memory: no device, timer or console input. */
static void pause_inputs(struct domain *d)
{
	stop_devices(d);
	if (d->kind == DOMAIN_PV)
		pv_service_pause(&d->k.pv, true);
}

int domain_pause(struct domain *d)
{
	int r = -EINVAL;

	pthread_mutex_lock(&d->lock);
	if (d->vm && d->state == DOMAIN_RUNNING) {
		r = vm_pause(d->vm);
		if (r >= 0 && vm_ended(d->vm)) { /* it stopped because the domain is ending */
			vm_resume(d->vm);
			r = -EINVAL;
		} else if (r >= 0) {
			d->state = DOMAIN_PAUSED;
			pause_inputs(d);
		}
	} else if (d->state == DOMAIN_PAUSED) {
		r = -EBUSY;
	}
	pthread_mutex_unlock(&d->lock);
	if (r >= 0)
		notify(d, DOMAIN_PAUSED);
	return r;
}

int domain_resume(struct domain *d)
{
	int r = -EINVAL;

	pthread_mutex_lock(&d->lock);
	if (d->vm && d->state == DOMAIN_PAUSED) {
		if (d->kind == DOMAIN_PV)
			pv_service_pause(&d->k.pv, false);
		start_devices(d);
		vm_resume(d->vm);
		d->state = DOMAIN_RUNNING;
		r = 0;
	}
	pthread_mutex_unlock(&d->lock);
	if (!r)
		notify(d, DOMAIN_RUNNING);
	return r;
}

/* Callers hold d->lock or own the boot (the statistics are counters read racily). */
void domain_print_stats(struct domain *d, FILE *out)
{
	struct vm *vm = d->vm ? d->vm : &d->vm_storage;
	uint64_t exits = 0;

	if (!vm->vcpus)
		return;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		exits += vm->vcpus[i].exits;
	flockfile(out);
	fprintf(out, "capsule: stats: %llu exits", (unsigned long long)exits);
	if (d->ops->print_stats)
		d->ops->print_stats(d, out);
	fputc('\n', out);
	for (unsigned i = 0; i < d->nr_devices; i++) {
		const struct virtio_dev *dev = d->devices[i].dev;
		const struct virtio_stats *s;

		if (!dev)
			continue;
		s = &dev->stats;
		fprintf(out,
			"capsule: stats: %s: %llu requests, %llu kicks (%.1f requests per kick), "
			"%llu interrupts",
			dev->ops->name, (unsigned long long)s->requests, (unsigned long long)s->kicks,
			s->kicks ? (double)s->requests / (double)s->kicks : 0.0,
			(unsigned long long)s->interrupts);
		if (s->polls) /* the drain loop's adaptive poll (virtio_drain) */
			fprintf(out, ", %llu polls (%llu found work, %.0f us spun)",
				(unsigned long long)s->polls, (unsigned long long)s->poll_hits,
				(double)s->poll_ns / 1e3);
		if (s->expects) /* answers awaited after a delivery (virtio_expect) */
			fprintf(out, ", %llu answers awaited (%llu caught without a kick, %.0f us spun)",
				(unsigned long long)s->expects, (unsigned long long)s->expect_hits,
				(double)s->expect_ns / 1e3);
		fputc('\n', out);
		if (s->rx_wakeups)
			fprintf(out, "capsule: stats: %s: %llu received in %llu wake-ups "
				"(%.1f per wake-up, at most %llu)\n", dev->ops->name,
				(unsigned long long)s->rx_items, (unsigned long long)s->rx_wakeups,
				(double)s->rx_items / (double)s->rx_wakeups,
				(unsigned long long)s->rx_batch_max);
	}
	funlockfile(out);
}

void domain_destroy(struct domain *d)
{
	snapshot_close(d->restore);
	d->restore = NULL;
	for (unsigned i = 0; i < d->nr_devices; i++)
		d->devices[i].kind->close(d->devices[i].backend);
	d->nr_devices = 0;
	if (d->image_fd >= 0)
		close(d->image_fd);
	if (d->initrd_fd >= 0)
		close(d->initrd_fd);
	if (d->kvm_fd >= 0)
		close(d->kvm_fd);
	d->image_fd = d->initrd_fd = d->kvm_fd = -1;
	free(d->image);
	d->image = NULL;
	watch_free(d);
	pthread_cond_destroy(&d->ended);
	pthread_cond_destroy(&d->released);
	pthread_mutex_destroy(&d->lock);
}
