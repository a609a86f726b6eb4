/* SPDX-License-Identifier: Apache-2.0 */
/* Event channels and timers on top of the hypercalls and shared_info bitmaps. */
#include "kit_internal.h"

int evtchn_alloc(unsigned vcpu)
{
	return (int)hypercall(CAP_HC_EVTCHN_ALLOC, vcpu, 0, 0, 0);
}

int evtchn_bind_timer(void)
{
	return (int)hypercall(CAP_HC_EVTCHN_BIND_TIMER, 0, 0, 0, 0);
}

int evtchn_send(int port)
{
	return (int)hypercall(CAP_HC_EVTCHN_SEND, (uint64_t)port, 0, 0, 0);
}

int evtchn_mask(int port)
{
	return (int)hypercall(CAP_HC_EVTCHN_MASK, (uint64_t)port, 0, 0, 0);
}

int evtchn_unmask(int port)
{
	return (int)hypercall(CAP_HC_EVTCHN_UNMASK, (uint64_t)port, 0, 0, 0);
}

int evtchn_close(int port)
{
	return (int)hypercall(CAP_HC_EVTCHN_CLOSE, (uint64_t)port, 0, 0, 0);
}

bool evtchn_test_and_clear(int port)
{
	uint64_t bit = 1ull << (port % 64);

	if (port <= 0 || (unsigned)port >= CAP_EVTCHN_PORTS)
		return false;
	return __atomic_fetch_and(&shared_info->evtchn_pending[port / 64], ~bit,
				  __ATOMIC_SEQ_CST) & bit;
}

int evtchn_wait(int port, uint64_t deadline_ns)
{
	for (;;) {
		if (evtchn_test_and_clear(port))
			return 1;
		/* 1: some event is pending; 0: the deadline passed, or an early return (the
		 * domain is being paused or is ending, docs/pv-abi.md section 8): look at the
		 * time, not only at what block says. */
		if (block(deadline_ns) == 0 && deadline_ns && time_ns() >= deadline_ns)
			return evtchn_test_and_clear(port) ? 1 : 0;
	}
}

int timer_set(uint64_t deadline_ns)
{
	return (int)hypercall(CAP_HC_SET_TIMER, deadline_ns, 0, 0, 0);
}

void sleep_ns(uint64_t ns)
{
	struct kit_cpu *c = kit_cpu();
	uint64_t deadline;

	if (!c->timer_port)
		c->timer_port = evtchn_bind_timer();
	if (c->timer_port < 0)
		return;
	deadline = time_ns() + ns;
	evtchn_test_and_clear(c->timer_port); /* forget a stale expiry */
	timer_set(deadline);
	evtchn_wait(c->timer_port, 0);
}
