/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules: R-BLK-1 R-BLK-2 R-BLK-3 R-BLK-4
 * block: what makes it return 1 at once, what wakes it, its deadline, and what it does not
 * look at. Run with --vcpus 2 ("part=" selects).
 */
#include "xtf.h"

const char test_title[] = "block";

#define MS 1000000ull

static int64_t block(uint64_t deadline)
{
	return hc1(CAP_HC_BLOCK, deadline);
}

static int alloc(unsigned vcpu)
{
	int p = (int)hc1(CAP_HC_EVTCHN_ALLOC, vcpu);

	CHECK(p > 0);
	return p;
}

static void pending(void)
{
	unsigned p = (unsigned)alloc(0);
	uint64_t t0 = now_ns();

	CHECK_EQ(hc1(CAP_HC_EVTCHN_SEND, p), 0);
	CHECK_EQ(block(0), 1); /* no deadline, and returns at once */
	CHECK(ev_test_and_clear(p));
	ev_set_pending(p); /* a bit the guest set itself counts as well */
	CHECK_EQ(block(0), 1);
	CHECK(now_ns() - t0 < 500 * MS);
}

static volatile int send_port, ap_go;

static void late_sender(unsigned cpu)
{
	while (!__atomic_load_n(&ap_go, __ATOMIC_ACQUIRE))
		cpu_relax();
	xtf_delay(cpu, 50 * MS);
	hc_cpu(cpu, CAP_HC_EVTCHN_SEND, (uint64_t)send_port, 0, 0, 0);
}

static void wakes(void)
{
	uint64_t t0;

	/* Asleep with no deadline (and with the largest one, which means none) until vCPU 1
	 * raises our port 50 ms later. */
	send_port = alloc(0);
	CHECK_EQ(xtf_vcpu_up(1, late_sender), 0);
	t0 = now_ns();
	__atomic_store_n(&ap_go, 1, __ATOMIC_RELEASE);
	CHECK_EQ(block(~0ull), 1);
	CHECK(now_ns() - t0 >= 40 * MS);
	CHECK(ev_test_and_clear((unsigned)send_port));
}

static void deadline(void)
{
	uint64_t d = now_ns() + 30 * MS, t0;

	CHECK_EQ(block(d), 0);
	CHECK(now_ns() >= d); /* not before */
	t0 = now_ns();
	CHECK_EQ(block(1), 0); /* past: at once */
	CHECK_EQ(block(t0), 0);
	CHECK(now_ns() - t0 < 500 * MS);
}

static void ignores(void)
{
	unsigned masked = (unsigned)alloc(0), theirs = (unsigned)alloc(1), p = (unsigned)alloc(0);

	CHECK_EQ(hc1(CAP_HC_EVTCHN_MASK, masked), 0);
	CHECK_EQ(hc1(CAP_HC_EVTCHN_SEND, masked), 0);
	CHECK_EQ(hc1(CAP_HC_EVTCHN_SEND, theirs), 0);
	shared->vcpu[0].notified = 1;
	shared->vcpu[0].pending_sel = ~0ull;
	CHECK(ev_pending(masked) && ev_pending(theirs));
	CHECK_EQ(block(now_ns() + 30 * MS), 0);
	/* A pending port keeps block returning 1 until the guest clears its bit. */
	CHECK_EQ(hc1(CAP_HC_EVTCHN_SEND, p), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(block(now_ns() + 30 * MS), 1);
	shared->vcpu[0].notified = 0; /* the hints do not matter */
	shared->vcpu[0].pending_sel = 0;
	CHECK_EQ(block(now_ns() + 30 * MS), 1);
	CHECK(ev_test_and_clear(p));
	CHECK_EQ(block(now_ns() + 30 * MS), 0);
}

void test_main(void)
{
	char part[16];

	if (si->nr_vcpus < 2)
		xtf_skip("run with --vcpus 2");
	if (!xtf_arg("part", part, sizeof(part)))
		xtf_skip("no part= on the command line");
	if (!strcmp(part, "pending"))
		pending();
	else if (!strcmp(part, "wakes"))
		wakes();
	else if (!strcmp(part, "deadline"))
		deadline();
	else if (!strcmp(part, "ignores"))
		ignores();
	else
		xtf_skip("unknown part");
}
