/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A PV domain's service thread: one event loop (src/loop/) serving what the host does for
 * the domain besides its devices: the vCPUs' one-shot timers (timer.c) and console input
 * (console_in.c). It starts after vCPU 0, so it is not on the path to the first guest
 * instruction (a timer armed before is only a timerfd's state, served once it runs).
 */
#include <errno.h>
#include <string.h>

#include "capsule/log.h"
#include "capsule/pv.h"
#include "capsule/sandbox.h"

int pv_service_init(struct pv_domain *pv)
{
	int err = loop_init(&pv->loop);

	pv->timer_src.fd = pv->console_in_retry.fd = -1;
	pthread_mutex_init(&pv->console_in_lock, NULL);
	return err ? err : pv_timer_setup(pv);
}

static void *service_thread(void *arg)
{
	struct pv_domain *pv = arg;
	int err;

	if (sandbox_enter("pv-service", SANDBOX_GUEST)) {
		vm_end(pv->vm, VM_END_CRASH, 0);
		return NULL;
	}
	err = loop_run(&pv->loop);
	if (err) {
		log_err("the domain's service loop failed: %s", strerror(-err));
		vm_end(pv->vm, VM_END_CRASH, 0);
	}
	return NULL;
}

int pv_service_start(struct pv_domain *pv)
{
	int err = pthread_create(&pv->service_thread, NULL, service_thread, pv);

	pv->service_started = err == 0;
	return -err;
}

void pv_service_pause(struct pv_domain *pv, bool paused)
{
	/* Under vm->lock: the timer (timer.c) and console input (console_in.c) both look. */
	pthread_mutex_lock(&pv->vm->lock);
	pv->service_paused = paused;
	pthread_mutex_unlock(&pv->vm->lock);
	pv_console_in_pause(pv, paused);
	pv_timer_rearm(pv);
}

void pv_service_stop(struct pv_domain *pv)
{
	if (pv->service_started) {
		loop_stop(&pv->loop);
		pthread_join(pv->service_thread, NULL);
		pv->service_started = false;
	}
	loop_timer_del(&pv->loop, &pv->timer_src);
	loop_timer_del(&pv->loop, &pv->console_in_retry);
	loop_destroy(&pv->loop);
}
