/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One-shot timers, one per vCPU, in domain time, on the domain's service loop (service.c):
 * one timerfd is armed for the earliest deadline; when it fires, every timer that expired
 * raises its bound event channel and the timerfd is armed for the next one.
 */
#include <errno.h>

#include "capsule/log.h"
#include "capsule/pv.h"

/* Arm the timerfd for the earliest deadline (vm->lock held). */
static void rearm_locked(struct pv_domain *pv)
{
	struct vm *vm = pv->vm;
	uint64_t next = 0;

	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		uint64_t d = pv->timers[i].deadline;

		if (d && (!next || d < next))
			next = d;
	}
	if (pv->service_paused) /* the domain is paused: nothing fires until it resumes */
		next = 0;
	if (next == pv->timer_armed)
		return;
	/* Domain time 0 is vm->t0_ns; a deadline already past fires at once. */
	if (loop_timer_arm(&pv->timer_src, next ? vm->t0_ns + next : 0, 0))
		log_warn("cannot arm the domain's timer: %m");
	pv->timer_armed = next;
}

static void timer_fired(struct loop *l, struct loop_source *s, uint32_t events)
{
	struct pv_domain *pv = s->opaque;
	struct vm *vm = pv->vm;
	uint64_t now;

	(void)l, (void)events;
	loop_timer_read(s);
	pthread_mutex_lock(&vm->lock);
	if (pv->service_paused) { /* fired as the pause began: it waits for the resume */
		pv->timer_armed = UINT64_MAX;
		rearm_locked(pv);
		pthread_mutex_unlock(&vm->lock);
		return;
	}
	now = vm_time_ns(vm);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct pv_timer *t = &pv->timers[i];

		if (t->deadline && t->deadline <= now) {
			t->deadline = 0;
			if (t->port >= 0)
				evtchn_raise_locked(pv, (unsigned)t->port);
		}
	}
	pv->timer_armed = UINT64_MAX; /* the timerfd is spent: arm it whatever comes next */
	rearm_locked(pv);
	pthread_mutex_unlock(&vm->lock);
}

void pv_timer_rearm(struct pv_domain *pv)
{
	pthread_mutex_lock(&pv->vm->lock);
	pv->timer_armed = UINT64_MAX;
	rearm_locked(pv);
	pthread_mutex_unlock(&pv->vm->lock);
}

int pv_timer_setup(struct pv_domain *pv)
{
	pv->timer_armed = 0;
	return loop_timer_add(&pv->loop, &pv->timer_src, timer_fired, pv);
}

int64_t pv_timer_set(struct pv_domain *pv, struct vcpu *v, uint64_t deadline)
{
	/* Deadlines beyond what monotonic time can express are refused. */
	if (deadline > UINT64_MAX - pv->vm->t0_ns)
		return CAP_EINVAL;
	pthread_mutex_lock(&pv->vm->lock);
	pv->timers[v->id].deadline = deadline;
	rearm_locked(pv);
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
