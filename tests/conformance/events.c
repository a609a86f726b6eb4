/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules: R-EV-1 R-EV-2 R-EV-3 R-EV-4 R-EV-5 R-EV-6 R-EV-7 R-EV-8 R-EV-9 R-EV-10 R-EV-11
 * Rules: R-EV-12
 * Event channels through the hypercalls and the shared_info bitmaps only. Run with
 * --vcpus 2 ("part=" selects; part=enospc also with --rng).
 */
#include "xtf.h"

const char test_title[] = "event channels";

static int64_t ev(unsigned nr, uint64_t port)
{
	return hc1(nr, port);
}

static int alloc(unsigned vcpu)
{
	int64_t p = hc1(CAP_HC_EVTCHN_ALLOC, vcpu);

	CHECK(p > 0 && p < (int64_t)CAP_EVTCHN_PORTS);
	return (int)p;
}

static void clear_hints(unsigned vcpu)
{
	__atomic_store_n(&shared->vcpu[vcpu].notified, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&shared->vcpu[vcpu].pending_sel, 0, __ATOMIC_SEQ_CST);
}

static bool notified(unsigned vcpu, unsigned port)
{
	return __atomic_load_n(&shared->vcpu[vcpu].notified, __ATOMIC_SEQ_CST) == 1 &&
	       (__atomic_load_n(&shared->vcpu[vcpu].pending_sel, __ATOMIC_SEQ_CST) >> (port / 64) &
		1);
}

static bool untouched_hints(unsigned vcpu)
{
	return !shared->vcpu[vcpu].notified && !shared->vcpu[vcpu].pending_sel;
}

/* A port in word 1 or higher, so that the selector bit says something. */
static int high_port(unsigned vcpu)
{
	int p;

	do
		p = alloc(vcpu);
	while (p > 0 && p < 64);
	return p;
}

static volatile int sends_done;

static void sender(unsigned cpu)
{
	for (int i = 0; i < 100; i++)
		hc_cpu(cpu, CAP_HC_EVTCHN_SEND, (uint64_t)xtf_hc_block[63].a[0], 0, 0, 0);
	__atomic_store_n(&sends_done, 1, __ATOMIC_RELEASE);
}

static void no_upcall(void)
{
	int p = alloc(0);
	uint64_t spins = 0;

	/* vCPU 1 raises a port of ours 100 times while we spin: nothing interrupts us, and
	 * we see the event only by looking. (Block 63 carries the port; it is unused.) */
	xtf_hc_block[63].a[0] = (uint64_t)p;
	CHECK_EQ(xtf_vcpu_up(1, sender), 0);
	while (!__atomic_load_n(&sends_done, __ATOMIC_ACQUIRE) && spins < (1ull << 34))
		spins++;
	CHECK(sends_done);
	CHECK(ev_test_and_clear((unsigned)p));
	CHECK(notified(0, (unsigned)p));
}

static void fresh(void)
{
	/* Every bit set by the guest: a new port is still unmasked and not pending. */
	for (unsigned w = 0; w < CAP_EVTCHN_WORDS; w++) {
		shared->evtchn_pending[w] = ~0ull;
		shared->evtchn_mask[w] = ~0ull;
	}
	for (int i = 0; i < 70; i++) {
		int p = alloc(i % 2);

		CHECK(!ev_pending((unsigned)p) && !ev_masked((unsigned)p));
	}
}

static volatile int64_t ap_rc;
static volatile int ap_done;

static void bind_on_ap(unsigned cpu)
{
	ap_rc = hc_cpu(cpu, CAP_HC_EVTCHN_BIND_TIMER, 0, 0, 0, 0);
	__atomic_store_n(&ap_done, 1, __ATOMIC_RELEASE);
}

static void enospc(void)
{
	int n = 0, last = 0, timer = (int)hc0(CAP_HC_EVTCHN_BIND_TIMER);

	CHECK(timer > 0);
	CHECK_EQ(si->nr_devices, 1); /* --rng: its port is open from the start */
	for (;;) {
		int64_t p = hc1(CAP_HC_EVTCHN_ALLOC, 0);

		if (p < 0) {
			CHECK_EQ(p, CAP_ENOSPC);
			break;
		}
		last = (int)p;
		n++;
	}
	/* 1023, minus the device's, the control port (R-REQ-1) and the timer's */
	CHECK_EQ(n, CAP_EVTCHN_PORTS - 1 - 1 - 1 - 1);
	/* No port is left for vCPU 1's timer either. */
	CHECK_EQ(xtf_vcpu_up(1, bind_on_ap), 0);
	CHECK(xtf_wait_flag(0, &ap_done, 5000000000ull));
	CHECK_EQ(ap_rc, CAP_ENOSPC);
	/* Closing one frees one. */
	CHECK_EQ(ev(CAP_HC_EVTCHN_CLOSE, (uint64_t)last), 0);
	CHECK_EQ(hc1(CAP_HC_EVTCHN_ALLOC, 0), last);
}

static void send(void)
{
	int p = high_port(0);

	clear_hints(0);
	CHECK_EQ(ev(CAP_HC_EVTCHN_SEND, (uint64_t)p), 0);
	CHECK(ev_pending((unsigned)p));
	CHECK(notified(0, (unsigned)p));
	CHECK_EQ(shared->vcpu[0].pending_sel, 1ull << (p / 64)); /* exactly its word */
	CHECK(untouched_hints(1));
}

static void mask(void)
{
	int p = high_port(0), q = alloc(0);

	CHECK_EQ(ev(CAP_HC_EVTCHN_MASK, (uint64_t)p), 0);
	CHECK(ev_masked((unsigned)p));
	clear_hints(0);
	CHECK_EQ(ev(CAP_HC_EVTCHN_SEND, (uint64_t)p), 0);
	CHECK(ev_pending((unsigned)p)); /* pending, and nobody notified */
	CHECK(untouched_hints(0));
	/* The guest may mask by itself: the same. */
	__atomic_fetch_or(&shared->evtchn_mask[q / 64], 1ull << (q % 64), __ATOMIC_SEQ_CST);
	CHECK_EQ(ev(CAP_HC_EVTCHN_SEND, (uint64_t)q), 0);
	CHECK(ev_pending((unsigned)q));
	CHECK(untouched_hints(0));
}

static volatile int blocked_rc = -1;
static volatile uint64_t woke_at;

static void block_on_ap(unsigned cpu)
{
	int rc = (int)hc_cpu(cpu, CAP_HC_BLOCK, now_ns_cpu(cpu) + 3000000000ull, 0, 0, 0);

	woke_at = now_ns_cpu(cpu);
	__atomic_store_n(&blocked_rc, rc, __ATOMIC_RELEASE);
}

static void unmask(void)
{
	int p = high_port(0), q = alloc(0), r = alloc(1);
	uint64_t t;

	/* Masked and pending: unmask notifies ("delivers") now. */
	CHECK_EQ(ev(CAP_HC_EVTCHN_MASK, (uint64_t)p), 0);
	CHECK_EQ(ev(CAP_HC_EVTCHN_SEND, (uint64_t)p), 0);
	clear_hints(0);
	CHECK_EQ(ev(CAP_HC_EVTCHN_UNMASK, (uint64_t)p), 0);
	CHECK(!ev_masked((unsigned)p));
	CHECK(notified(0, (unsigned)p));
	CHECK(ev_pending((unsigned)p));
	/* Unmasking a port that is not pending notifies nobody. */
	CHECK(ev_test_and_clear((unsigned)p));
	CHECK_EQ(ev(CAP_HC_EVTCHN_MASK, (uint64_t)p), 0);
	clear_hints(0);
	CHECK_EQ(ev(CAP_HC_EVTCHN_UNMASK, (uint64_t)p), 0);
	CHECK(untouched_hints(0));
	/* Clearing the mask bit by hand is no unmask: no notification. */
	CHECK_EQ(ev(CAP_HC_EVTCHN_MASK, (uint64_t)q), 0);
	CHECK_EQ(ev(CAP_HC_EVTCHN_SEND, (uint64_t)q), 0);
	clear_hints(0);
	__atomic_fetch_and(&shared->evtchn_mask[q / 64], ~(1ull << (q % 64)), __ATOMIC_SEQ_CST);
	xtf_delay(0, 1000000);
	CHECK(untouched_hints(0));
	/* A vCPU blocked while its port is masked and pending wakes when it is unmasked. */
	CHECK_EQ(ev(CAP_HC_EVTCHN_MASK, (uint64_t)r), 0);
	CHECK_EQ(ev(CAP_HC_EVTCHN_SEND, (uint64_t)r), 0);
	CHECK_EQ(xtf_vcpu_up(1, block_on_ap), 0);
	xtf_delay(0, 100000000);
	CHECK_EQ(blocked_rc, -1); /* still asleep */
	t = now_ns();
	CHECK_EQ(ev(CAP_HC_EVTCHN_UNMASK, (uint64_t)r), 0);
	while (blocked_rc == -1 && now_ns() < t + 5000000000ull)
		cpu_relax();
	CHECK_EQ(blocked_rc, 1);
	CHECK(woke_at - t < 1000000000ull);
}

static void bad_port(void)
{
	static const unsigned ops[] = {CAP_HC_EVTCHN_SEND, CAP_HC_EVTCHN_MASK,
				       CAP_HC_EVTCHN_UNMASK, CAP_HC_EVTCHN_CLOSE};
	int closed = alloc(0);
	uint64_t bad[] = {0, CAP_EVTCHN_PORTS, CAP_EVTCHN_PORTS + 1, 1ull << 40,
			  (1ull << 32) | (uint64_t)closed, ~0ull, 900, (uint64_t)closed};

	CHECK_EQ(ev(CAP_HC_EVTCHN_CLOSE, (uint64_t)closed), 0);
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		for (unsigned j = 0; j < sizeof(bad) / sizeof(bad[0]); j++)
			if (ev(ops[i], bad[j]) != CAP_EINVAL)
				xtf_fail(__FILE__, __LINE__, "hypercall %u on port 0x%llx accepted",
					 ops[i], (unsigned long long)bad[j]);
}

static void close_port(void)
{
	int p = alloc(0), again;

	CHECK_EQ(ev(CAP_HC_EVTCHN_SEND, (uint64_t)p), 0);
	CHECK_EQ(ev(CAP_HC_EVTCHN_MASK, (uint64_t)p), 0);
	CHECK_EQ(ev(CAP_HC_EVTCHN_CLOSE, (uint64_t)p), 0);
	CHECK(!ev_pending((unsigned)p)); /* the pending bit goes */
	CHECK(ev_masked((unsigned)p));   /* the mask bit stays */
	CHECK_EQ(ev(CAP_HC_EVTCHN_SEND, (uint64_t)p), CAP_EINVAL);
	CHECK_EQ(ev(CAP_HC_EVTCHN_CLOSE, (uint64_t)p), CAP_EINVAL);
	again = alloc(1);
	if (again == p) /* the number came back: as a new port (R-EV-2) */
		CHECK(!ev_masked((unsigned)p) && !ev_pending((unsigned)p));
}

static void guest_clears(void)
{
	int p = alloc(0);

	clear_hints(0);
	CHECK_EQ(ev(CAP_HC_EVTCHN_SEND, (uint64_t)p), 0);
	/* Other hypercalls, and block itself, leave the bits alone. */
	CHECK_EQ(hc0(CAP_HC_YIELD), 0);
	now_ns();
	CHECK_EQ(hc1(CAP_HC_BLOCK, 1), 1);
	CHECK_EQ(hc1(CAP_HC_BLOCK, 1), 1);
	CHECK(ev_pending((unsigned)p));
	CHECK(notified(0, (unsigned)p));
	/* The guest consumes it with an atomic AND; the hints are the guest's to clear. */
	CHECK(ev_test_and_clear((unsigned)p));
	CHECK_EQ(hc1(CAP_HC_BLOCK, 1), 0);
	CHECK(notified(0, (unsigned)p));
	clear_hints(0);
	CHECK_EQ(hc1(CAP_HC_BLOCK, 1), 0);
}

static void table(void)
{
	int mine = alloc(0), theirs = alloc(1);
	unsigned free_port = 1000;

	/* A free port made pending by hand is still not open, and wakes nobody. */
	ev_set_pending(free_port);
	CHECK_EQ(ev(CAP_HC_EVTCHN_SEND, free_port), CAP_EINVAL);
	CHECK_EQ(ev(CAP_HC_EVTCHN_UNMASK, free_port), CAP_EINVAL);
	CHECK_EQ(hc1(CAP_HC_BLOCK, now_ns() + 10000000), 0);
	/* Pending bits of a port that notifies vCPU 1 are not ours to block on. */
	ev_set_pending((unsigned)theirs);
	CHECK_EQ(hc1(CAP_HC_BLOCK, now_ns() + 10000000), 0);
	/* The VMM still notifies vCPU 1 for it, whatever the guest wrote. */
	clear_hints(0);
	clear_hints(1);
	CHECK_EQ(ev(CAP_HC_EVTCHN_SEND, (uint64_t)theirs), 0);
	CHECK(notified(1, (unsigned)theirs));
	CHECK(untouched_hints(0));
	CHECK(mine > 0);
}

static volatile int ap_port;

static void bind_and_report(unsigned cpu)
{
	ap_port = (int)hc_cpu(cpu, CAP_HC_EVTCHN_BIND_TIMER, 0, 0, 0, 0);
	__atomic_store_n(&ap_done, 1, __ATOMIC_RELEASE);
}

static void timer_port(void)
{
	int p = (int)hc0(CAP_HC_EVTCHN_BIND_TIMER);
	int q = alloc(0);

	CHECK(p > 0 && p < (int)CAP_EVTCHN_PORTS && p != q);
	CHECK_EQ(hc0(CAP_HC_EVTCHN_BIND_TIMER), p); /* the same port on repeat */
	/* An ordinary port: send, mask, unmask work on it, and it notifies the caller. */
	CHECK(!ev_pending((unsigned)p) && !ev_masked((unsigned)p));
	clear_hints(0);
	CHECK_EQ(ev(CAP_HC_EVTCHN_SEND, (uint64_t)p), 0);
	CHECK(ev_test_and_clear((unsigned)p));
	CHECK(notified(0, (unsigned)p));
	CHECK_EQ(ev(CAP_HC_EVTCHN_MASK, (uint64_t)p), 0);
	CHECK_EQ(ev(CAP_HC_EVTCHN_UNMASK, (uint64_t)p), 0);
	/* Another vCPU's timer has a port of its own, notifying that vCPU. */
	CHECK_EQ(xtf_vcpu_up(1, bind_and_report), 0);
	CHECK(xtf_wait_flag(0, &ap_done, 5000000000ull));
	CHECK(ap_port > 0 && ap_port != p && ap_port != q);
	clear_hints(0);
	clear_hints(1);
	CHECK_EQ(ev(CAP_HC_EVTCHN_SEND, (uint64_t)ap_port), 0);
	CHECK(notified(1, (unsigned)ap_port));
	CHECK(untouched_hints(0));
}

static void timer_port_close(void)
{
	int p = (int)hc0(CAP_HC_EVTCHN_BIND_TIMER), q;

	CHECK(p > 0);
	CHECK_EQ(hc1(CAP_HC_SET_TIMER, now_ns() + 30000000), 0);
	CHECK_EQ(ev(CAP_HC_EVTCHN_CLOSE, (uint64_t)p), 0);
	/* Unbound and cancelled: the next bind opens a new port, which never fires. */
	q = (int)hc0(CAP_HC_EVTCHN_BIND_TIMER);
	CHECK(q > 0);
	CHECK_EQ(hc1(CAP_HC_BLOCK, now_ns() + 100000000), 0);
	CHECK(!ev_pending((unsigned)q));
	if (q != p)
		CHECK_EQ(ev(CAP_HC_EVTCHN_SEND, (uint64_t)p), CAP_EINVAL);
	/* and the new one works */
	CHECK_EQ(hc1(CAP_HC_SET_TIMER, now_ns() + 10000000), 0);
	CHECK_EQ(hc1(CAP_HC_BLOCK, now_ns() + 2000000000ull), 1);
	CHECK(ev_pending((unsigned)q));
}

void test_main(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} parts[] = {
		{"noupcall", no_upcall}, {"fresh", fresh}, {"enospc", enospc},
		{"send", send}, {"mask", mask}, {"unmask", unmask}, {"badport", bad_port},
		{"close", close_port}, {"guestclears", guest_clears}, {"table", table},
		{"timerport", timer_port}, {"timerclose", timer_port_close},
	};
	char part[16];

	if (si->nr_vcpus < 2)
		xtf_skip("run with --vcpus 2");
	if (!xtf_arg("part", part, sizeof(part)))
		xtf_skip("no part= on the command line");
	if (!strcmp(part, "einval")) {
		CHECK_EQ(hc1(CAP_HC_EVTCHN_ALLOC, si->nr_vcpus), CAP_EINVAL);
		CHECK_EQ(hc1(CAP_HC_EVTCHN_ALLOC, CAP_MAX_VCPUS), CAP_EINVAL);
		CHECK_EQ(hc1(CAP_HC_EVTCHN_ALLOC, 1ull << 32), CAP_EINVAL); /* not vCPU 0 */
		CHECK_EQ(hc1(CAP_HC_EVTCHN_ALLOC, ~0ull), CAP_EINVAL);
		return;
	}
	for (unsigned i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (!strcmp(part, parts[i].name)) {
			parts[i].fn();
			return;
		}
	xtf_skip("unknown part");
}
