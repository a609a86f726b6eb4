/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Event channels (Xen's bitmaps, within one domain, without an upcall: docs/pv-abi.md §8):
 * a port notifies one vCPU. Raising it sets its pending bit in shared_info; if the port is
 * unmasked, the vCPU's selector and `notified` flag are set and the vCPU is woken if it
 * blocks. The guest writes the same bitmaps,
 * so the VMM only ever uses atomic operations on them and trusts its own port table.
 */
#include "capsule/pv.h"

#define WORD(p) ((p) / 64)
#define BIT(p) (1ull << ((p) % 64))

static bool valid_port(const struct pv_domain *pv, uint64_t port)
{
	return port > 0 && port < CAP_EVTCHN_PORTS && pv->ports[port].kind != PV_PORT_FREE;
}

static void notify_locked(struct pv_domain *pv, unsigned port)
{
	unsigned vcpu = pv->ports[port].vcpu;
	struct cap_vcpu_info *vi = &pv->shared->vcpu[vcpu];

	__atomic_fetch_or(&vi->pending_sel, 1ull << WORD(port), __ATOMIC_SEQ_CST);
	__atomic_store_n(&vi->notified, 1, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&pv->vm->vcpus[vcpu].wake);
}

void evtchn_raise_locked(struct pv_domain *pv, unsigned port)
{
	__atomic_fetch_or(&pv->shared->evtchn_pending[WORD(port)], BIT(port), __ATOMIC_SEQ_CST);
	if (!(__atomic_load_n(&pv->shared->evtchn_mask[WORD(port)], __ATOMIC_SEQ_CST) &
	      BIT(port)))
		notify_locked(pv, port);
}

int64_t evtchn_alloc(struct pv_domain *pv, uint64_t vcpu, enum pv_port_kind kind)
{
	int64_t ret = CAP_ENOSPC;

	if (vcpu >= pv->vm->nr_vcpus)
		return CAP_EINVAL;
	pthread_mutex_lock(&pv->vm->lock);
	for (unsigned p = 1; p < CAP_EVTCHN_PORTS; p++) { /* port 0 is never valid */
		if (pv->ports[p].kind != PV_PORT_FREE)
			continue;
		pv->ports[p] = (struct pv_port){.kind = (uint8_t)kind, .vcpu = (uint8_t)vcpu};
		pv->vcpu_ports[vcpu][WORD(p)] |= BIT(p);
		if (!pv->restoring) { /* a restored event still pending must stay so */
			__atomic_fetch_and(&pv->shared->evtchn_pending[WORD(p)], ~BIT(p),
					   __ATOMIC_SEQ_CST);
			__atomic_fetch_and(&pv->shared->evtchn_mask[WORD(p)], ~BIT(p),
					   __ATOMIC_SEQ_CST);
		}
		ret = p;
		break;
	}
	pthread_mutex_unlock(&pv->vm->lock);
	return ret;
}

int64_t evtchn_close(struct pv_domain *pv, uint64_t port)
{
	int64_t ret = 0;

	pthread_mutex_lock(&pv->vm->lock);
	if (!valid_port(pv, port)) {
		ret = CAP_EINVAL;
	} else {
		struct pv_port *p = &pv->ports[port];

		if (p->kind == PV_PORT_TIMER) {
			pv->timers[p->vcpu].port = -1;
			pv->timers[p->vcpu].deadline = 0;
		}
		pv->vcpu_ports[p->vcpu][WORD(port)] &= ~BIT(port);
		__atomic_fetch_and(&pv->shared->evtchn_pending[WORD(port)], ~BIT(port),
				   __ATOMIC_SEQ_CST);
		*p = (struct pv_port){0};
	}
	pthread_mutex_unlock(&pv->vm->lock);
	return ret;
}

int64_t evtchn_send(struct pv_domain *pv, uint64_t port)
{
	int64_t ret = 0;

	pthread_mutex_lock(&pv->vm->lock);
	if (valid_port(pv, port))
		evtchn_raise_locked(pv, (unsigned)port);
	else
		ret = CAP_EINVAL;
	pthread_mutex_unlock(&pv->vm->lock);
	return ret;
}

int64_t evtchn_mask(struct pv_domain *pv, uint64_t port, bool mask)
{
	int64_t ret = 0;

	pthread_mutex_lock(&pv->vm->lock);
	if (!valid_port(pv, port)) {
		ret = CAP_EINVAL;
	} else if (mask) {
		__atomic_fetch_or(&pv->shared->evtchn_mask[WORD(port)], BIT(port),
				  __ATOMIC_SEQ_CST);
	} else {
		__atomic_fetch_and(&pv->shared->evtchn_mask[WORD(port)], ~BIT(port),
				   __ATOMIC_SEQ_CST);
		/* An event that arrived while masked is delivered now. */
		if (__atomic_load_n(&pv->shared->evtchn_pending[WORD(port)], __ATOMIC_SEQ_CST) &
		    BIT(port))
			notify_locked(pv, (unsigned)port);
	}
	pthread_mutex_unlock(&pv->vm->lock);
	return ret;
}

/* Under vm->lock: does any unmasked pending port notify this vCPU? */
static bool has_event_locked(const struct pv_domain *pv, unsigned vcpu)
{
	for (unsigned w = 0; w < CAP_EVTCHN_WORDS; w++) {
		uint64_t pending = __atomic_load_n(&pv->shared->evtchn_pending[w], __ATOMIC_SEQ_CST);
		uint64_t mask = __atomic_load_n(&pv->shared->evtchn_mask[w], __ATOMIC_SEQ_CST);

		if (pending & ~mask & pv->vcpu_ports[vcpu][w])
			return true;
	}
	return false;
}

int64_t evtchn_block(struct pv_domain *pv, struct vcpu *v, uint64_t deadline)
{
	struct vm *vm = pv->vm;
	int64_t ret = 0;
	struct timespec ts;

	/* A deadline too far to express as a monotonic time means no deadline. */
	if (deadline > UINT64_MAX - vm->t0_ns)
		deadline = 0;
	ts.tv_sec = (time_t)((vm->t0_ns + deadline) / 1000000000ull);
	ts.tv_nsec = (long)((vm->t0_ns + deadline) % 1000000000ull);
	pthread_mutex_lock(&vm->lock);
	for (;;) {
		/* The domain ending, or being paused: return 0 (spurious; the guest re-checks). */
		if (vm->end_reason != VM_END_NONE || vm->pause_requested)
			break;
		if (has_event_locked(pv, v->id)) {
			ret = 1;
			break;
		}
		if (deadline && vm_time_ns(vm) >= deadline)
			break;
		if (deadline)
			pthread_cond_timedwait(&v->wake, &vm->lock, &ts);
		else
			pthread_cond_wait(&v->wake, &vm->lock);
	}
	pthread_mutex_unlock(&vm->lock);
	return ret;
}
