/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "capsule/log.h"
#include "capsule/vm.h"

uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t vm_time_ns(const struct vm *vm)
{
	return monotonic_ns() - vm->t0_ns;
}

int vm_init_nokvm(struct vm *vm, const struct vm_config *cfg)
{
	pthread_condattr_t ca;
	int err;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->fd = -1;
	vm->mem.fd = -1;
	vm->console = stdout;
	if (cfg->nr_vcpus == 0 || cfg->nr_vcpus > 64)
		return -EINVAL;
	err = cfg->mem_file > 0 ? gmem_init_file(&vm->mem, cfg->mem_bytes, cfg->mem_file)
		  : cfg->mem_private ? gmem_init_anon(&vm->mem, cfg->mem_bytes)
				     : gmem_init(&vm->mem, cfg->mem_bytes);
	if (!err && cfg->hole_end && (err = gmem_set_hole(&vm->mem, cfg->hole_start, cfg->hole_end)))
		gmem_destroy(&vm->mem);
	if (err)
		return err;
	bus_init(&vm->pio);
	bus_init(&vm->mmio);
	vm->nr_vcpus = cfg->nr_vcpus;
	vm->affinity = cfg->affinity;
	vm->vcpus = calloc(cfg->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		gmem_destroy(&vm->mem);
		return -ENOMEM;
	}
	/* Every timed wait in the VMM runs on CLOCK_MONOTONIC, as domain time does. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->ended_cond, &ca);
	pthread_cond_init(&vm->pause_cond, &ca);
	for (unsigned i = 0; i < cfg->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		v->vm = vm;
		v->id = i;
		v->fd = -1;
		v->state = VCPU_DOWN;
		pthread_cond_init(&v->wake, &ca);
	}
	pthread_condattr_destroy(&ca);
	vm->t0_ns = monotonic_ns();
	return 0;
}

static void kick_handler(int sig)
{
	(void)sig; /* only there to make KVM_RUN return EINTR */
}

int kvm_open(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		log_err("cannot open /dev/kvm: it does not exist; load KVM "
			"(modprobe kvm_intel or kvm_amd) or enable virtualization in the firmware");
	else if (errno == EACCES || errno == EPERM)
		log_err("cannot open /dev/kvm: permission denied; run as root or add "
			"yourself to the kvm group");
	else
		log_err("cannot open /dev/kvm: %s", strerror(errno));
	return -errno;
}

static int create_vcpu(struct vm *vm, struct vcpu *v)
{
	v->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)v->id);
	if (v->fd < 0)
		return -errno;
	v->run = mmap(NULL, (size_t)vm->run_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return -errno;
	}
	return 0;
}

/* The x86 PC's interrupt controllers and timer, inside KVM. */
static int create_platform(struct vm *vm)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};

	/* Needed on Intel hosts for real mode; three pages just below the BIOS area. */
	if (ioctl(vm->fd, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0)
		log_debug("KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		log_err("cannot create the in-kernel interrupt controllers: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(vm->fd, KVM_CREATE_PIT2, &pit) < 0) {
		log_err("cannot create the in-kernel PIT: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int vm_irq_line(struct vm *vm, uint32_t gsi, bool level)
{
	struct kvm_irq_level irq = {.irq = gsi, .level = level};

	return vm->fd >= 0 && ioctl(vm->fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}

const struct kvm_cpuid2 *vm_supported_cpuid(struct vm *vm)
{
	const struct kvm_cpuid2 *c;

	pthread_mutex_lock(&vm->lock);
	while (vm->spawner_started && !vm->cpuid_ready && !vm->spawner_done &&
	       vm->end_reason == VM_END_NONE)
		pthread_cond_wait(&vm->pause_cond, &vm->lock);
	c = vm->supported_cpuid; /* a VM without KVM (unit tests): whatever the test put */
	pthread_mutex_unlock(&vm->lock);
	return c;
}

void vm_wait_loaded(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	while (vm->loading_vcpus && vm->end_reason == VM_END_NONE)
		pthread_cond_wait(&vm->pause_cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
}

int vm_set_mem_slots(struct vm *vm, uint32_t flags)
{
	struct gmem_range r[2];
	unsigned n = gmem_ram_ranges(&vm->mem, r);

	if (vm->fd < 0)
		return 0; /* a VM without KVM (unit tests) */
	for (unsigned i = 0; i < n; i++) {
		struct kvm_userspace_memory_region region = {
			.slot = i,
			.flags = flags,
			.guest_phys_addr = r[i].start,
			.memory_size = r[i].end - r[i].start,
			.userspace_addr = (uint64_t)(uintptr_t)(vm->mem.host + r[i].start),
		};

		if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
			return -errno;
	}
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg)
{
	struct sigaction sa;
	int err;

	err = vm_init_nokvm(vm, cfg);
	if (err) {
		log_err("cannot allocate %llu MiB of guest memory: %s",
			(unsigned long long)(cfg->mem_bytes >> 20), strerror(-err));
		return err;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler; /* no SA_RESTART: KVM_RUN must return EINTR */
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);

	vm->kvm_fd_borrowed = cfg->kvm_fd > 0;
	vm->kvm_fd = vm->kvm_fd_borrowed ? cfg->kvm_fd : kvm_open();
	if (vm->kvm_fd < 0) {
		err = vm->kvm_fd;
		goto fail;
	}
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		log_err("/dev/kvm speaks an unexpected API version");
		err = -ENOTSUP;
		goto fail;
	}
	vm->run_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	/* A stop and continue (SIGSTOP, SIGCONT) during the call makes it fail with EINTR on
	 * some hosts (kvm_pvm): nothing was made, so ask again. */
	do
		vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	while (vm->fd < 0 && errno == EINTR);
	if (vm->fd < 0 || vm->run_mmap_size <= 0) {
		err = -errno;
		log_err("KVM_CREATE_VM failed: %s", strerror(errno));
		goto fail;
	}
	log_stamp("VM created");
	/* The vCPU threads, and the CPUID, come from the spawner, each as soon as its vCPU is
	 * made, while this thread makes the rest and goes on building the domain. */
	vm->cpuid_at_start = cfg->cpuid_at_start;
	err = vcpu_spawner_start(vm);
	if (err) {
		log_err("cannot start the thread that makes the vCPU threads: %s", strerror(-err));
		goto fail;
	}
	err = vm_set_mem_slots(vm, 0);
	if (err) {
		log_err("cannot give guest memory to KVM: %s", strerror(-err));
		goto fail;
	}
	if (cfg->platform) {
		err = create_platform(vm);
		if (err)
			goto fail;
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		err = create_vcpu(vm, &vm->vcpus[i]);
		if (err) {
			log_err("cannot create vCPU %u: %s", i, strerror(-err));
			goto fail;
		}
		pthread_mutex_lock(&vm->lock);
		vm->vcpus_made = i + 1;
		pthread_cond_broadcast(&vm->vcpus[i].wake); /* the spawner waits for it */
		pthread_mutex_unlock(&vm->lock);
	}
	log_stamp("vCPUs created");
	vm->t0_ns = monotonic_ns();
	return 0;
fail:
	vm_destroy(vm);
	return err;
}

void kick_vcpu(struct vcpu *v)
{
	if (v->run)
		v->run->immediate_exit = 1; /* closes the race with a vCPU about to enter */
	if (v->thread_started)
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
	pthread_cond_broadcast(&v->wake); /* a vCPU blocked in a hypercall */
	pthread_cond_broadcast(&v->vm->pause_cond);
}

bool vm_end(struct vm *vm, enum vm_end_reason reason, int code)
{
	bool first;

	pthread_mutex_lock(&vm->lock);
	first = vm->end_reason == VM_END_NONE;
	if (first) {
		__atomic_store_n(&vm->end_reason, reason, __ATOMIC_RELEASE);
		vm->end_code = code;
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			kick_vcpu(&vm->vcpus[i]);
		pthread_cond_broadcast(&vm->ended_cond);
	}
	pthread_mutex_unlock(&vm->lock);
	return first;
}

static struct timespec deadline_in(uint64_t ms)
{
	uint64_t t = monotonic_ns() + ms * 1000000ull;

	return (struct timespec){.tv_sec = (time_t)(t / 1000000000ull),
				 .tv_nsec = (long)(t % 1000000000ull)};
}

int vm_pause_request(struct vm *vm)
{
	int err = 0;

	pthread_mutex_lock(&vm->lock);
	if (vm->pause_requested || vm->end_reason != VM_END_NONE) {
		err = -EBUSY;
	} else {
		vm->pause_requested = true;
		/* Out of KVM_RUN (signal), or out of a blocking hypercall (its condition
		 * variable). */
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			if (vm->vcpus[i].state == VCPU_RUNNING)
				kick_vcpu(&vm->vcpus[i]);
	}
	pthread_mutex_unlock(&vm->lock);
	return err;
}

int vm_pause_wait(struct vm *vm)
{
	struct timespec until = deadline_in(VM_PAUSE_TIMEOUT_MS);
	unsigned running;
	int err = 0;

	pthread_mutex_lock(&vm->lock);
	/* Each running vCPU acknowledges from its own thread, outside KVM_RUN; one that stops
	 * meanwhile lowers running_vcpus and wakes us too. */
	while (vm->pause_requested && vm->paused_vcpus < vm->running_vcpus &&
	       vm->end_reason == VM_END_NONE && !err)
		err = pthread_cond_timedwait(&vm->pause_cond, &vm->lock, &until);
	running = vm->running_vcpus;
	if (!vm->pause_requested) {
		pthread_mutex_unlock(&vm->lock);
		return -EINVAL;
	}
	if (err && vm->paused_vcpus < vm->running_vcpus) {
		/* A vCPU did not stop in time (stuck in the host kernel): do not half-pause. */
		vm->pause_requested = false;
		pthread_cond_broadcast(&vm->pause_cond);
		pthread_mutex_unlock(&vm->lock);
		return -ETIMEDOUT;
	}
	pthread_mutex_unlock(&vm->lock);
	return (int)running;
}

int vm_pause(struct vm *vm)
{
	int err = vm_pause_request(vm);

	return err ? err : vm_pause_wait(vm);
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->pause_requested = false;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->lock);
}

bool vm_ended(struct vm *vm)
{
	return __atomic_load_n(&vm->end_reason, __ATOMIC_ACQUIRE) != VM_END_NONE;
}

enum vm_end_reason vm_wait_until(struct vm *vm, uint64_t deadline_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000ull),
			      .tv_nsec = (long)(deadline_ns % 1000000000ull)};
	enum vm_end_reason r;

	pthread_mutex_lock(&vm->lock);
	while (vm->end_reason == VM_END_NONE) {
		if (!deadline_ns)
			pthread_cond_wait(&vm->ended_cond, &vm->lock);
		else if (pthread_cond_timedwait(&vm->ended_cond, &vm->lock, &ts) == ETIMEDOUT)
			break;
	}
	r = vm->end_reason;
	pthread_mutex_unlock(&vm->lock);
	return r;
}

enum vm_end_reason vm_wait(struct vm *vm, uint64_t timeout_ms)
{
	enum vm_end_reason r;

	r = vm_wait_until(vm, timeout_ms ? monotonic_ns() + timeout_ms * 1000000ull : 0);
	if (r == VM_END_NONE) {
		vm_end(vm, VM_END_TIMEOUT, 0);
		r = vm->end_reason;
	}
	return r;
}

void vm_join_vcpus(struct vm *vm)
{
	if (!vm->vcpus)
		return;
	vm_end(vm, VM_END_POWEROFF, 0); /* no-op if it already ended */
	pthread_mutex_lock(&vm->lock);
	bool spawner = vm->spawner_started;
	vm->spawner_started = false;
	pthread_mutex_unlock(&vm->lock);
	if (spawner) /* first: it may be making vCPU threads still */
		pthread_join(vm->spawner, NULL);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		bool started;

		pthread_mutex_lock(&vm->lock);
		started = v->thread_started;
		pthread_mutex_unlock(&vm->lock);
		if (started)
			pthread_join(v->thread, NULL);
		pthread_mutex_lock(&vm->lock);
		v->thread_started = false;
		pthread_mutex_unlock(&vm->lock);
	}
}

void vm_destroy(struct vm *vm)
{
	if (vm->vcpus) {
		vm_join_vcpus(vm);
		for (unsigned i = 0; i < vm->nr_vcpus; i++) {
			struct vcpu *v = &vm->vcpus[i];

			if (v->run)
				munmap(v->run, (size_t)vm->run_mmap_size);
			if (v->fd >= 0)
				close(v->fd);
			pthread_cond_destroy(&v->wake);
		}
		free(vm->vcpus);
		vm->vcpus = NULL;
		pthread_cond_destroy(&vm->ended_cond);
		pthread_cond_destroy(&vm->pause_cond);
		pthread_mutex_destroy(&vm->lock);
	}
	vm->supported_cpuid = NULL; /* the process's (cpuid_fetch_supported) */
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->kvm_fd >= 0 && !vm->kvm_fd_borrowed)
		close(vm->kvm_fd);
	vm->fd = vm->kvm_fd = -1;
	gmem_destroy(&vm->mem);
}
