/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vCPU throttling, for a migration's auto-converge (docs/migration.md): a guest that dirties
 * memory faster than the link carries it is slowed down until the rounds converge, as
 * QEMU's cpu-throttle does: at P percent a vCPU sleeps P percent of the time. The thread
 * driving the migration calls vm_throttle_tick() between its batches: at most every
 * THROTTLE_SLICE_NS it marks every vCPU due and kicks it out of KVM_RUN; the vCPU then
 * sleeps P / (100 - P) times as long as it ran since its last sleep (at most
 * THROTTLE_SLEEP_MAX_NS), so the share holds however far apart the kicks come (a batch
 * on a slow link takes long). It sleeps in its own thread, between two KVM_RUNs, where a
 * pause or the domain's end cuts the sleep short.
 */
#include <time.h>

#include "capsule/vm.h"

#define THROTTLE_SLICE_NS 10000000ull       /* 10 ms, QEMU's CPU_THROTTLE_TIMESLICE_NS */
#define THROTTLE_SLEEP_MAX_NS 1000000000ull /* 99% of a slice sleeps 990 ms in QEMU */

static uint64_t sleep_ns_at(unsigned pct, uint64_t ran)
{
	uint64_t ns = ran * pct / (100 - pct);

	return ns < THROTTLE_SLEEP_MAX_NS ? ns : THROTTLE_SLEEP_MAX_NS;
}

void vm_throttle_set(struct vm *vm, unsigned pct)
{
	if (pct > VM_THROTTLE_MAX)
		pct = VM_THROTTLE_MAX;
	pthread_mutex_lock(&vm->lock);
	if (!vm->throttle_pct) /* the vCPUs' runs count from now */
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			vm->vcpus[i].throttle_from_ns = monotonic_ns();
	__atomic_store_n(&vm->throttle_pct, pct, __ATOMIC_RELEASE);
	vm->throttle_next_ns = 0; /* the next tick kicks */
	pthread_cond_broadcast(&vm->pause_cond); /* a sleeping vCPU re-reads its sleep */
	pthread_mutex_unlock(&vm->lock);
}

unsigned vm_throttle_pct(struct vm *vm)
{
	return __atomic_load_n(&vm->throttle_pct, __ATOMIC_ACQUIRE);
}

void vm_throttle_tick(struct vm *vm)
{
	unsigned pct = vm_throttle_pct(vm);
	uint64_t now;

	if (!pct)
		return;
	now = monotonic_ns();
	pthread_mutex_lock(&vm->lock);
	if (now >= vm->throttle_next_ns && vm->end_reason == VM_END_NONE) {
		vm->throttle_next_ns = now + THROTTLE_SLICE_NS;
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			if (vm->vcpus[i].state == VCPU_RUNNING) {
				__atomic_store_n(&vm->vcpus[i].throttle_due, true, __ATOMIC_RELEASE);
				kick_vcpu(&vm->vcpus[i]);
			}
	}
	pthread_mutex_unlock(&vm->lock);
}

void vcpu_throttle(struct vcpu *v)
{
	struct vm *vm = v->vm;
	uint64_t t0, until, ran;
	unsigned pct;

	if (!__atomic_exchange_n(&v->throttle_due, false, __ATOMIC_ACQ_REL))
		return;
	t0 = monotonic_ns();
	pthread_mutex_lock(&vm->lock);
	ran = t0 - v->throttle_from_ns;
	/* The throttle may be lowered or lifted meanwhile: the sleep is re-read each wake. */
	while ((pct = vm->throttle_pct) && !vm->pause_requested && vm->end_reason == VM_END_NONE &&
	       monotonic_ns() < (until = t0 + sleep_ns_at(pct, ran))) {
		struct timespec ts = {.tv_sec = (time_t)(until / 1000000000ull),
				      .tv_nsec = (long)(until % 1000000000ull)};

		pthread_cond_timedwait(&vm->pause_cond, &vm->lock, &ts);
	}
	/* The kick armed an immediate exit; a pause or the end wants it kept. */
	if (!vm->pause_requested && vm->end_reason == VM_END_NONE)
		v->run->immediate_exit = 0;
	v->throttle_from_ns = monotonic_ns();
	v->throttled_ns += v->throttle_from_ns - t0;
	pthread_mutex_unlock(&vm->lock);
}
