/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules: R-TM-1 R-TM-2 R-TM-3 R-TM-4 R-TM-5 R-TM-6 R-TIME-1 R-TIME-2
 * One-shot per-vCPU timers and domain time. Run with --vcpus 2 ("part=" selects).
 */
#include "xtf.h"

const char test_title[] = "timers and time";

#define MS 1000000ull

static int64_t set_timer(uint64_t deadline)
{
	return hc1(CAP_HC_SET_TIMER, deadline);
}

static int bind(void)
{
	int p = (int)hc0(CAP_HC_EVTCHN_BIND_TIMER);

	CHECK(p > 0);
	return p;
}

/* Block until port p is pending or the deadline; true if it became pending. */
static bool wait_port(unsigned p, uint64_t deadline)
{
	while (!ev_pending(p))
		if (hc1(CAP_HC_BLOCK, deadline) == 0 && now_ns() >= deadline)
			return ev_pending(p);
	return true;
}

static void fires(void)
{
	unsigned p = (unsigned)bind();
	uint64_t d = now_ns() + 20 * MS, t;

	CHECK_EQ(set_timer(d), 0);
	CHECK(wait_port(p, d + 2000 * MS));
	t = now_ns();
	CHECK(t >= d);           /* not before its deadline */
	CHECK(t < d + 1000 * MS); /* and soon after */
	CHECK(ev_test_and_clear(p));
	CHECK(!wait_port(p, now_ns() + 50 * MS)); /* one-shot: disarmed */
	/* Re-arming replaces the deadline: earlier ... */
	CHECK_EQ(set_timer(now_ns() + 5000 * MS), 0);
	d = now_ns() + 20 * MS;
	CHECK_EQ(set_timer(d), 0);
	CHECK(wait_port(p, d + 1000 * MS));
	CHECK(ev_test_and_clear(p));
	/* ... and later. */
	CHECK_EQ(set_timer(now_ns() + 20 * MS), 0);
	d = now_ns() + 300 * MS;
	CHECK_EQ(set_timer(d), 0);
	CHECK(!wait_port(p, now_ns() + 100 * MS));
	CHECK(wait_port(p, d + 1000 * MS));
	CHECK(now_ns() >= d);
}

static void cancel(void)
{
	unsigned p = (unsigned)bind();

	CHECK_EQ(set_timer(now_ns() + 20 * MS), 0);
	CHECK_EQ(set_timer(0), 0);
	CHECK(!wait_port(p, now_ns() + 100 * MS));
}

static void past(void)
{
	unsigned p = (unsigned)bind();
	uint64_t t0 = now_ns();

	CHECK_EQ(set_timer(1), 0); /* domain time 1 ns: long gone */
	CHECK(wait_port(p, t0 + 1000 * MS));
	CHECK(now_ns() - t0 < 500 * MS);
}

static void unbound(void)
{
	unsigned p;

	CHECK_EQ(set_timer(now_ns() + 10 * MS), 0);
	xtf_delay(0, 50 * MS); /* it expired with no port to raise */
	p = (unsigned)bind();
	CHECK(!ev_pending(p));
	CHECK(!wait_port(p, now_ns() + 50 * MS));
}

static void too_large(void)
{
	CHECK_EQ(set_timer(~0ull), CAP_EINVAL);
	CHECK_EQ(set_timer((1ull << 63) - 1), 0); /* accepted, and never fires */
	CHECK_EQ(set_timer(0), 0);
}

static volatile int ap_port, ap_woke, ap_ready;

static void ap_timer(unsigned cpu)
{
	ap_port = (int)hc_cpu(cpu, CAP_HC_EVTCHN_BIND_TIMER, 0, 0, 0, 0);
	__atomic_store_n(&ap_ready, 1, __ATOMIC_RELEASE);
	hc_cpu(cpu, CAP_HC_SET_TIMER, now_ns_cpu(cpu) + 30 * MS, 0, 0, 0);
	/* Its own timer wakes it. */
	if (hc_cpu(cpu, CAP_HC_BLOCK, now_ns_cpu(cpu) + 3000 * MS, 0, 0, 0) == 1)
		__atomic_store_n(&ap_woke, 1, __ATOMIC_RELEASE);
}

static void per_vcpu(void)
{
	unsigned p = (unsigned)bind();
	uint64_t d = now_ns() + 300 * MS;

	CHECK_EQ(set_timer(d), 0);
	CHECK_EQ(xtf_vcpu_up(1, ap_timer), 0);
	CHECK(xtf_wait_flag(0, &ap_woke, 2000 * MS)); /* vCPU 1's timer fired for vCPU 1 */
	CHECK(ap_port > 0 && (unsigned)ap_port != p);
	CHECK(ev_pending((unsigned)ap_port));
	CHECK(!ev_pending(p)); /* ours, still armed, is untouched */
	CHECK(wait_port(p, d + 1000 * MS));
	CHECK(now_ns() >= d);
}

static void time_values(void)
{
	struct cap_hcall *b = &xtf_hc_block[0];
	int64_t t = hc0(CAP_HC_TIME);
	uint64_t diff;

	CHECK(t > 0 && (uint64_t)t == b->a[0]);
	CHECK((uint64_t)t < 10000 * MS); /* 0 at domain creation */
	CHECK(b->a[1] > 1600000000ull * 1000000000ull);
	diff = si->boot_wallclock_ns + (uint64_t)t > b->a[1]
		       ? si->boot_wallclock_ns + (uint64_t)t - b->a[1]
		       : b->a[1] - si->boot_wallclock_ns - (uint64_t)t;
	CHECK(diff < 50 * MS);
}

static volatile uint64_t ap_time;
static volatile int turn, ap_bad;

static void ping(unsigned cpu)
{
	uint64_t last = 0;

	for (int i = 0; i < 200; i++) {
		while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != 1)
			cpu_relax();
		ap_time = now_ns_cpu(cpu);
		if (ap_time < last)
			ap_bad = 1;
		last = ap_time;
		__atomic_store_n(&turn, 0, __ATOMIC_RELEASE);
	}
}

static void time_vcpus(void)
{
	uint64_t last = 0, t;

	CHECK_EQ(xtf_vcpu_up(1, ping), 0);
	for (int i = 0; i < 200; i++) {
		uint64_t end = now_ns() + 2000 * MS;

		__atomic_store_n(&turn, 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != 0 && now_ns() < end)
			cpu_relax();
		t = now_ns();
		if (t < ap_time || t < last) /* read after vCPU 1's: not earlier */
			xtf_fail(__FILE__, __LINE__, "time went back: %llu after %llu",
				 (unsigned long long)t, (unsigned long long)ap_time);
		last = t;
	}
	CHECK(!ap_bad);
}

void test_main(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} parts[] = {
		{"fires", fires}, {"cancel", cancel}, {"past", past}, {"unbound", unbound},
		{"einval", too_large}, {"pervcpu", per_vcpu}, {"time", time_values},
		{"timevcpus", time_vcpus},
	};
	char part[16];

	if (si->nr_vcpus < 2)
		xtf_skip("run with --vcpus 2");
	if (!xtf_arg("part", part, sizeof(part)))
		xtf_skip("no part= on the command line");
	for (unsigned i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (!strcmp(part, parts[i].name)) {
			parts[i].fn();
			return;
		}
	xtf_skip("unknown part");
}
