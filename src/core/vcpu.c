/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>

#include "capsule/kvm_state.h"
#include "capsule/log.h"
#include "capsule/sandbox.h"
#include "capsule/vm.h"

#define VCPU_THREAD_STACK (256u << 10)

void vcpu_dump_regs(const struct kvm_regs *r, const struct kvm_sregs *s, FILE *out)
{
	fprintf(out,
		"  rip=%016llx rsp=%016llx rflags=%016llx\n"
		"  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n"
		"  rsi=%016llx rdi=%016llx rbp=%016llx r8 =%016llx\n"
		"  r9 =%016llx r10=%016llx r11=%016llx r12=%016llx\n"
		"  r13=%016llx r14=%016llx r15=%016llx\n",
		r->rip, r->rsp, r->rflags, r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi,
		r->rbp, r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15);
	if (s)
		fprintf(out,
			"  cs=%04x ss=%04x cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx "
			"efer=%llx\n",
			s->cs.selector, s->ss.selector, s->cr0, s->cr2, s->cr3, s->cr4, s->efer);
}

enum exit_action vcpu_crash(struct vcpu *v, const struct kvm_regs *regs,
			    const struct kvm_sregs *sregs, const char *fmt, ...)
{
	struct kvm_regs own;
	struct kvm_sregs own_s;
	va_list ap;

	if (!vm_end(v->vm, VM_END_CRASH, 0))
		return EXIT_DOMAIN_END; /* another vCPU ended it first and reported */
	if (!regs && v->fd >= 0 && ioctl(v->fd, KVM_GET_REGS, &own) == 0)
		regs = &own;
	if (!sregs && v->fd >= 0 && ioctl(v->fd, KVM_GET_SREGS, &own_s) == 0)
		sregs = &own_s;
	flockfile(stderr);
	fputs("capsule: domain crashed: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " on vCPU %u\n", v->id);
	if (regs)
		vcpu_dump_regs(regs, sregs, stderr);
	funlockfile(stderr);
	return EXIT_DOMAIN_END;
}

const char *vcpu_exit_reason_name(unsigned reason)
{
	static const char *const names[VCPU_EXIT_REASONS] = {
		[KVM_EXIT_UNKNOWN] = "unknown", [KVM_EXIT_EXCEPTION] = "exception",
		[KVM_EXIT_IO] = "io", [KVM_EXIT_HYPERCALL] = "hypercall", [KVM_EXIT_DEBUG] = "debug",
		[KVM_EXIT_HLT] = "hlt", [KVM_EXIT_MMIO] = "mmio",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "irq_window_open", [KVM_EXIT_SHUTDOWN] = "shutdown",
		[KVM_EXIT_FAIL_ENTRY] = "fail_entry", [KVM_EXIT_INTR] = "intr",
		[KVM_EXIT_SET_TPR] = "set_tpr", [KVM_EXIT_TPR_ACCESS] = "tpr_access",
		[KVM_EXIT_NMI] = "nmi", [KVM_EXIT_INTERNAL_ERROR] = "internal_error",
		[KVM_EXIT_SYSTEM_EVENT] = "system_event", [KVM_EXIT_IOAPIC_EOI] = "ioapic_eoi",
		[KVM_EXIT_HYPERV] = "hyperv", [KVM_EXIT_X86_RDMSR] = "rdmsr",
		[KVM_EXIT_X86_WRMSR] = "wrmsr", [KVM_EXIT_DIRTY_RING_FULL] = "dirty_ring_full",
		[VCPU_EXIT_REASONS - 1] = "other",
	};

	return reason < VCPU_EXIT_REASONS ? names[reason] : NULL;
}

uint64_t vcpu_cpu_ns(const struct vcpu *v)
{
	struct timespec t;

	/* The clock id stays valid to ask after the thread ends (EINVAL then), a pthread_t
	 * does not. */
	if (!__atomic_load_n(&v->cpu_clock_set, __ATOMIC_ACQUIRE) ||
	    clock_gettime(v->cpu_clock, &t) < 0)
		return 0;
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Paused: report in, sleep until resumed (or the end), then re-arm KVM_RUN. */
static void wait_while_paused(struct vcpu *v)
{
	struct vm *vm = v->vm;

	pthread_mutex_lock(&vm->lock);
	vm->paused_vcpus++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (vm->pause_requested && vm->end_reason == VM_END_NONE)
		pthread_cond_wait(&vm->pause_cond, &vm->lock);
	vm->paused_vcpus--;
	if (vm->end_reason == VM_END_NONE)
		v->run->immediate_exit = 0;
	pthread_mutex_unlock(&vm->lock);
}

static void vcpu_run_loop(struct vcpu *v)
{
	struct vm *vm = v->vm;

	if (v->restore) {
		char err[200];

		if (vcpu_kvm_load(v, v->restore, err, sizeof(err))) {
			vcpu_crash(v, NULL, NULL, "cannot load the saved state (%s)", err);
			return;
		}
		pthread_mutex_lock(&vm->lock);
		if (vm->loading_vcpus)
			vm->loading_vcpus--;
		pthread_cond_broadcast(&vm->pause_cond);
		pthread_mutex_unlock(&vm->lock);
	} else if (ioctl(v->fd, KVM_SET_SREGS, &v->init_sregs) < 0 ||
		   ioctl(v->fd, KVM_SET_REGS, &v->init_regs) < 0) {
		vcpu_crash(v, &v->init_regs, &v->init_sregs, "cannot load the initial registers (%s)",
			   strerror(errno));
		return;
	}
	while (!vm_ended(vm)) {
		if (__atomic_load_n(&vm->pause_requested, __ATOMIC_ACQUIRE)) {
			/* An exit just handled may leave an instruction to finish (the result of
			 * a PIO or MMIO read): KVM finishes it in a KVM_RUN that exits at once,
			 * so that the state a snapshot reads while paused is consistent. */
			v->run->immediate_exit = 1;
			if (ioctl(v->fd, KVM_RUN, 0) < 0 && errno != EINTR && errno != EAGAIN) {
				vcpu_crash(v, NULL, NULL, "KVM_RUN failed (%s)", strerror(errno));
				return;
			}
			wait_while_paused(v);
		}
		vcpu_throttle(v);
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue; /* kicked: the loop conditions say why */
			vcpu_crash(v, NULL, NULL, "KVM_RUN failed (%s)", strerror(errno));
			return;
		}
		v->exits++;
		v->exits_by_reason[v->run->exit_reason < VCPU_EXIT_REASONS - 1
					   ? v->run->exit_reason : VCPU_EXIT_REASONS - 1]++;
		if (vcpu_handle_exit(v) != EXIT_CONTINUE)
			return;
	}
}

/* Under vm->lock: wait until cond() holds or the domain ends; true if cond() holds. */
static bool wait_for(struct vcpu *v, bool (*cond)(const struct vcpu *v))
{
	while (!cond(v) && v->vm->end_reason == VM_END_NONE)
		pthread_cond_wait(&v->wake, &v->vm->lock);
	return cond(v);
}

static bool cpuid_ready(const struct vcpu *v)
{
	return v->vm->cpuid_ready;
}

static bool started(const struct vcpu *v)
{
	return v->state != VCPU_DOWN;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	bool cpuid_now = v->id == 0 || !vm->cpuid_at_start; /* else when started */
	char name[16];
	sigset_t set;
	bool go;
	int err;

	/* The kick signal must reach this thread while it is inside KVM_RUN. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	snprintf(name, sizeof(name), "vcpu%u", v->id);
	if (pthread_getcpuclockid(pthread_self(), &v->cpu_clock) == 0)
		__atomic_store_n(&v->cpu_clock_set, true, __ATOMIC_RELEASE);
	/* The tid first, then the pinning: a vcpu-pin racing this start either sees the tid
	 * and pins the thread, or wrote its set before this reads it. */
	__atomic_store_n(&v->tid, gettid(), __ATOMIC_SEQ_CST);
	if (vm->affinity && sched_setaffinity(0, sizeof(cpu_set_t), &vm->affinity[v->id]) < 0)
		log_warn("vCPU %u: cannot pin it: %s", v->id, strerror(errno));
	/* The spawner's program came with the thread: the guest list is what the seal leaves. */
	err = sandbox_seal(name);
	if (v->id == 0)
		log_stamp("vCPU 0 sealed");
	pthread_mutex_lock(&vm->lock);
	go = !err && wait_for(v, cpuid_ready);
	pthread_mutex_unlock(&vm->lock);
	if (go && cpuid_now && (err = cpuid_setup(v)) < 0)
		log_err("vCPU %u: cannot set its CPUID: %s", v->id, strerror(-err));
	if (v->id == 0)
		log_stamp("vCPU 0 CPUID set");
	if (err) {
		vm_end(vm, VM_END_CRASH, 0);
		return NULL;
	}
	/* Parked until vcpu_start(), or until the domain ends without it. */
	pthread_mutex_lock(&vm->lock);
	go = wait_for(v, started);
	pthread_mutex_unlock(&vm->lock);
	if (!go)
		return NULL;
	if (v->id == 0)
		log_stamp("vCPU 0 started");
	if (!cpuid_now && (err = cpuid_setup(v)) < 0)
		vcpu_crash(v, NULL, NULL, "cannot set its CPUID (%s)", strerror(-err));
	else
		vcpu_run_loop(v);
	pthread_mutex_lock(&vm->lock);
	v->state = VCPU_STOPPED;
	vm->running_vcpus--;
	/* A pause may be waiting for this vCPU: it now waits for one fewer. */
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

static int vcpu_spawn(struct vcpu *v, const pthread_attr_t *attr)
{
	int err = -pthread_create(&v->thread, attr, vcpu_thread, v);

	pthread_mutex_lock(&v->vm->lock);
	v->thread_started = err == 0;
	pthread_cond_broadcast(&v->wake); /* a vcpu_start() may be waiting for it */
	pthread_mutex_unlock(&v->vm->lock);
	return err;
}

/*
 * The spawner: confines itself with the guest list and thread creation, gets KVM's CPUID
 * for the vCPU threads (asked once per process), and makes every vCPU thread, vCPU 0
 * first, each once vm_create has made its vCPU.
 * They inherit its seccomp program, which the kernel compiled once here (a program loaded
 * by each of 64 threads was 12.5% of a 64-vCPU launch), and seal it back to the guest
 * list. It runs while the main thread builds the domain, and ends when they are made.
 */
static void *vcpu_spawner(void *arg)
{
	struct vm *vm = arg;
	const struct kvm_cpuid2 *cpuid = NULL;
	pthread_attr_t attr;
	/* Confined first: the CPUID is usually on its way already (cpuid_prefetch). */
	int err = sandbox_enter("vcpu-spawner", SANDBOX_SPAWNER), cerr;

	log_stamp("spawner confined");
	if ((cerr = cpuid_fetch_supported(vm->kvm_fd, &cpuid)))
		log_err("cannot read the CPUID KVM supports: %s", strerror(-cerr));
	pthread_mutex_lock(&vm->lock);
	vm->supported_cpuid = cpuid;
	vm->cpuid_ready = !cerr;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		pthread_cond_broadcast(&vm->vcpus[i].wake);
	pthread_cond_broadcast(&vm->pause_cond); /* vm_supported_cpuid() */
	pthread_mutex_unlock(&vm->lock);
	log_stamp("CPUID asked");
	err = err ? err : cerr;
	/* The run loop needs little stack; 8 MiB per vCPU is just address space to map. */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, VCPU_THREAD_STACK);
	for (unsigned i = 0; !err && i < vm->nr_vcpus; i++) {
		bool made;

		/* Each as soon as the main thread has made the vCPU. */
		pthread_mutex_lock(&vm->lock);
		while (vm->vcpus_made <= i && vm->end_reason == VM_END_NONE)
			pthread_cond_wait(&vm->vcpus[i].wake, &vm->lock);
		made = vm->vcpus_made > i && vm->end_reason == VM_END_NONE;
		pthread_mutex_unlock(&vm->lock);
		if (!made)
			break;
		if ((err = vcpu_spawn(&vm->vcpus[i], &attr)))
			log_err("cannot start the thread of vCPU %u: %s", i, strerror(-err));
	}
	pthread_attr_destroy(&attr);
	log_stamp("vCPU threads made");
	if (err)
		vm_end(vm, VM_END_CRASH, 0);
	pthread_mutex_lock(&vm->lock);
	vm->spawner_done = true;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		pthread_cond_broadcast(&vm->vcpus[i].wake);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

int vcpu_spawner_start(struct vm *vm)
{
	pthread_attr_t attr;
	int err;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, VCPU_THREAD_STACK);
	pthread_mutex_lock(&vm->lock); /* vm_join_vcpus reads spawner_started under it */
	err = -pthread_create(&vm->spawner, &attr, vcpu_spawner, vm);
	vm->spawner_started = err == 0;
	pthread_mutex_unlock(&vm->lock);
	pthread_attr_destroy(&attr);
	return err;
}

int vcpu_start(struct vcpu *v, const struct kvm_regs *regs)
{
	struct vm *vm = v->vm;
	int err = 0;

	pthread_mutex_lock(&vm->lock);
	while (!v->thread_started && vm->spawner_started && !vm->spawner_done &&
	       vm->end_reason == VM_END_NONE)
		pthread_cond_wait(&v->wake, &vm->lock); /* the spawner is on its way to it */
	if (v->state != VCPU_DOWN) {
		err = -EBUSY;
	} else if (vm->end_reason != VM_END_NONE || !v->thread_started) {
		err = -EINVAL;
	} else {
		if (regs) /* under the lock: a losing racer must not touch them */
			v->init_regs = *regs;
		v->state = VCPU_RUNNING;
		vm->running_vcpus++;
		pthread_cond_broadcast(&v->wake);
	}
	pthread_mutex_unlock(&vm->lock);
	return err;
}
