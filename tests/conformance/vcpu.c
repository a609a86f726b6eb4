/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules: R-VCPU-1 R-VCPU-2 R-VCPU-3 R-VCPU-4 R-VCPU-5 R-VCPU-6 R-DEV-2
 * vcpu_up and vcpu_down: the three states, the start state of a secondary vCPU, and
 * every refusal. Run with --vcpus 4 ("part=" selects the check).
 */
#include "xtf.h"

const char test_title[] = "vCPU states, vcpu_up and vcpu_down";

static volatile int ran[CAP_MAX_VCPUS], after_down;
static volatile int ap_fsgs_ok, ap_smsw, ap_osxsave = -1;

static void count(unsigned cpu)
{
	__atomic_fetch_add(&ran[cpu], 1, __ATOMIC_SEQ_CST);
}

static void probe(unsigned cpu)
{
	uint32_t r[4];

	ap_fsgs_ok = fs_gs_base_zero();
	ap_smsw = (int)(smsw() & 0xffff);
	cpuid(1, r);
	ap_osxsave = (int)(r[2] >> 27 & 1);
	count(cpu);
}

static volatile int ap_timer_port;

static void down_now(unsigned cpu)
{
	/* A timer armed before going down still fires (R-VCPU-5). */
	ap_timer_port = (int)hc_cpu(cpu, CAP_HC_EVTCHN_BIND_TIMER, 0, 0, 0, 0);
	hc_cpu(cpu, CAP_HC_SET_TIMER, now_ns_cpu(cpu) + 30000000, 0, 0, 0);
	count(cpu);
	hc_cpu(cpu, CAP_HC_VCPU_DOWN, 0, 0, 0, 0); /* never returns on a vCPU other than 0 */
	after_down = 1;
}

static bool wait_ran(unsigned cpu, int n)
{
	uint64_t end = now_ns() + 5000000000ull;

	while (__atomic_load_n(&ran[cpu], __ATOMIC_SEQ_CST) < n)
		if (now_ns() > end)
			return false;
	return true;
}

static void up(void)
{
	for (unsigned c = 1; c < si->nr_vcpus; c++)
		CHECK_EQ(xtf_vcpu_up(c, count), 0);
	for (unsigned c = 1; c < si->nr_vcpus; c++)
		CHECK(wait_ran(c, 1));
}

static void state(void)
{
	const struct xtf_regs *r = &xtf_ap_regs[1];

	CHECK_EQ(xtf_vcpu_up_rdi(1, probe, 0x1234abcd5678ef00ull), 0);
	CHECK(wait_ran(1, 1));
	CHECK_EQ(r->rsp, xtf_ap_stack_top(1));
	CHECK_EQ(r->rdi, 0x1234abcd5678ef00ull);
	CHECK_EQ(r->rsi, 1);
	CHECK_EQ(r->rax | r->rbx | r->rcx | r->rdx | r->rbp, 0);
	CHECK_EQ(r->r8 | r->r9 | r->r10 | r->r11 | r->r12 | r->r13 | r->r14 | r->r15, 0);
	CHECK_EQ(r->rflags & ~0x200ull, 0x2);
	CHECK_EQ(r->cs & 3, 3);
	CHECK_EQ(r->ss & 3, 3);
	CHECK_EQ(r->cs, xtf_entry_regs.cs);
	CHECK_EQ(r->ss, xtf_entry_regs.ss);
	CHECK(ap_fsgs_ok);
	CHECK_EQ(ap_smsw, 0x0033);
	/* The same CPUID answer as vCPU 0's (R-START-6: 0 where the host traps CPUID). */
	uint32_t c[4];

	cpuid(1, c);
	CHECK_EQ(ap_osxsave, (int)(c[2] >> 27 & 1));
}

static void einval(void)
{
	uint64_t mem = si->mem_bytes, rip = (uintptr_t)xtf_ap_entry;
	uint64_t rsp = xtf_ap_stack_top(1);
	const uint64_t bad[][3] = {
		{0, rip, rsp},                          /* vCPU 0 */
		{si->nr_vcpus, rip, rsp},               /* no such vCPU */
		{(1ull << 32) | 1, rip, rsp},           /* not truncated to vCPU 1 */
		{~0ull, rip, rsp},
		{1, CAP_GPA_IMAGE_MIN - 1, rsp},        /* RIP below 1 MiB */
		{1, 0x3000, rsp},                       /* RIP in the VMM's exception stubs */
		{1, mem, rsp},                          /* RIP at the end of RAM */
		{1, mem + 0x1000, rsp},                 /* RIP in the device window */
		{1, rip, CAP_GPA_IMAGE_MIN},            /* RSP must be above 1 MiB */
		{1, rip, CAP_GPA_TRAP_STACKS + 0x1000}, /* RSP on a VMM exception stack */
		{1, rip, mem + 1},                      /* RSP beyond RAM */
		{1, rip, 0},
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t rc = hc(CAP_HC_VCPU_UP, bad[i][0], bad[i][1], bad[i][2], 0);

		if (rc != CAP_EINVAL)
			xtf_fail(__FILE__, __LINE__, "vcpu_up(%llx, %llx, %llx) = %lld",
				 (unsigned long long)bad[i][0], (unsigned long long)bad[i][1],
				 (unsigned long long)bad[i][2], (long long)rc);
	}
	/* None of them started anything: vCPU 1 is still never-started. */
	xtf_delay(0, 20000000);
	CHECK_EQ(ran[1], 0);
	CHECK_EQ(xtf_vcpu_up(1, count), 0);
	CHECK(wait_ran(1, 1));
}

static void ebusy(void)
{
	CHECK_EQ(xtf_vcpu_up(1, down_now), 0);
	/* Running (or already stopped: both are busy). */
	CHECK_EQ(xtf_vcpu_up(1, count), CAP_EBUSY);
	CHECK(wait_ran(1, 1));
	xtf_delay(0, 50000000); /* it has called vcpu_down by now */
	CHECK_EQ(xtf_vcpu_up(1, count), CAP_EBUSY); /* stopped */
	CHECK_EQ(xtf_vcpu_up(2, count), 0);         /* its neighbour was never started */
	CHECK(wait_ran(2, 1));
	xtf_delay(0, 20000000);
	CHECK_EQ(ran[1], 1); /* and vCPU 1 never ran again */
}

static void down(void)
{
	int port = (int)hc1(CAP_HC_EVTCHN_ALLOC, 1); /* notifies vCPU 1 */

	CHECK(port > 0);
	CHECK_EQ(xtf_vcpu_up(1, down_now), 0);
	CHECK(wait_ran(1, 1));
	xtf_delay(0, 50000000);
	CHECK_EQ(after_down, 0); /* vcpu_down did not return */
	/* Its port is still open: raising it sets the pending bit, and nobody takes it. */
	CHECK_EQ(hc1(CAP_HC_EVTCHN_SEND, port), 0);
	xtf_delay(0, 20000000);
	CHECK(ev_pending((unsigned)port));
	CHECK_EQ(after_down, 0);
	xtf_delay(0, 30000000); /* its timer, armed before it went down, has fired */
	CHECK(ap_timer_port > 0 && ev_pending((unsigned)ap_timer_port));
}

void test_main(void)
{
	char part[16];

	if (si->nr_vcpus < 4)
		xtf_skip("run with --vcpus 4");
	if (!xtf_arg("part", part, sizeof(part)))
		xtf_skip("no part= on the command line");
	if (!strcmp(part, "up"))
		up();
	else if (!strcmp(part, "state"))
		state();
	else if (!strcmp(part, "einval"))
		einval();
	else if (!strcmp(part, "ebusy"))
		ebusy();
	else if (!strcmp(part, "down"))
		down();
	else if (!strcmp(part, "down0")) /* vCPU 0 cannot go down: EINVAL, and it goes on */
		CHECK_EQ(hc0(CAP_HC_VCPU_DOWN), CAP_EINVAL);
	else
		xtf_skip("unknown part");
}
