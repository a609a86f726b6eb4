/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One-shot timers, one per vCPU, in domain time. One thread per domain sleeps until the
 * earliest deadline and raises the bound event channel of each timer that expired.
 */
#include <errno.h>
#include <time.h>

#include "capsule/pv.h"
#include "capsule/sandbox.h"

static void *timer_thread(void *arg)
{
	struct pv_domain *pv = arg;
	struct vm *vm = pv->vm;

	if (sandbox_enter("pv-timer", SANDBOX_GUEST)) {
		vm_end(vm, VM_END_CRASH, 0);
		return NULL;
	}
	pthread_mutex_lock(&vm->lock);
	while (vm->end_reason == VM_END_NONE) {
		uint64_t now = vm_time_ns(vm), next = UINT64_MAX;

		for (unsigned i = 0; i < vm->nr_vcpus; i++) {
			struct pv_timer *t = &pv->timers[i];

			if (!t->deadline)
				continue;
			if (t->deadline <= now) {
				t->deadline = 0;
				if (t->port >= 0)
					evtchn_raise_locked(pv, (unsigned)t->port);
			} else if (t->deadline < next) {
				next = t->deadline;
			}
		}
		if (next == UINT64_MAX) {
			pthread_cond_wait(&pv->timer_cond, &vm->lock);
		} else {
			uint64_t abs = vm->t0_ns + next;
			struct timespec ts = {(time_t)(abs / 1000000000ull),
					      (long)(abs % 1000000000ull)};

			pthread_cond_timedwait(&pv->timer_cond, &vm->lock, &ts);
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

int pv_timer_start(struct pv_domain *pv)
{
	int err = pthread_create(&pv->timer_thread, NULL, timer_thread, pv);

	pv->timer_thread_started = err == 0;
	return -err;
}

void pv_timer_stop(struct pv_domain *pv)
{
	if (!pv->timer_thread_started)
		return;
	vm_end(pv->vm, VM_END_POWEROFF, 0); /* no-op if it already ended */
	pthread_mutex_lock(&pv->vm->lock);
	pthread_cond_broadcast(&pv->timer_cond);
	pthread_mutex_unlock(&pv->vm->lock);
	pthread_join(pv->timer_thread, NULL);
	pv->timer_thread_started = false;
}

int64_t pv_timer_set(struct pv_domain *pv, struct vcpu *v, uint64_t deadline)
{
	/* Deadlines beyond what monotonic time can express are refused. */
	if (deadline > UINT64_MAX - pv->vm->t0_ns)
		return CAP_EINVAL;
	pthread_mutex_lock(&pv->vm->lock);
	pv->timers[v->id].deadline = deadline;
	pthread_cond_broadcast(&pv->timer_cond);
	pthread_mutex_unlock(&pv->vm->lock);
	return 0;
}

int64_t pv_timer_bind(struct pv_domain *pv, struct vcpu *v)
{
	int64_t port;

	pthread_mutex_lock(&pv->vm->lock);
	port = pv->timers[v->id].port;
	pthread_mutex_unlock(&pv->vm->lock);
	if (port >= 0)
		return port; /* already bound: binding is idempotent */
	port = evtchn_alloc(pv, v->id, PV_PORT_TIMER);
	if (port > 0) {
		pthread_mutex_lock(&pv->vm->lock);
		pv->timers[v->id].port = (int)port;
		pthread_mutex_unlock(&pv->vm->lock);
	}
	return port;
}
