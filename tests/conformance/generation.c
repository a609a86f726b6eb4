/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules: R-GEN-1 R-GEN-2 R-GEN-3 R-GEN-4
 * Restores (section 11.2). "part=" selects:
 *   fresh    a domain's first boot: generation 0
 *   restore  arm a timer 300 ms ahead, say we wait, and spin until the generation changes
 *            (the runner saves the domain with `capsule control SOCK save DIR` and runs
 *            `capsule run --restore DIR`); then check the new generation, that domain time
 *            went on from the snapshot without a jump, that the timer still fires at its
 *            deadline, and that the wall clock of domain time 0 was brought up to date;
 *            run with --rng, it first masks the device's port and raises it: after the
 *            restore the port is still masked and still pending (R-GEN-3: the VMM adds
 *            the devices again on a restore, and must not reset their ports' bits)
 */
#include "xtf.h"

const char test_title[] = "restores";

/* UTC from CAP_HC_TIME (its a1, R-TIME-1). */
static uint64_t utc_ns(void)
{
	hc_cpu(0, CAP_HC_TIME, 0, 0, 0, 0);
	return ((volatile struct cap_hcall *)&xtf_hc_block[0])->a[1];
}

void test_main(void)
{
	char part[16] = "";
	uint32_t gen = __atomic_load_n(&shared->generation, __ATOMIC_ACQUIRE);
	uint64_t t0, t1, deadline;
	int64_t port;
	unsigned dev_port = 0;

	xtf_arg("part", part, sizeof(part));
	if (!strcmp(part, "fresh")) {
		CHECK_EQ(gen, 0); /* R-GEN-1 */
		xtf_finish();
	}
	if (si->nr_devices) { /* a device's port: masked, and raised while masked */
		dev_port = si->devices[0].evtchn;
		CHECK_EQ(hc(CAP_HC_EVTCHN_MASK, dev_port, 0, 0, 0), 0);
		CHECK_EQ(hc(CAP_HC_EVTCHN_SEND, dev_port, 0, 0, 0), 0);
		CHECK(ev_pending(dev_port) && ev_masked(dev_port));
	}
	port = hc_cpu(0, CAP_HC_EVTCHN_BIND_TIMER, 0, 0, 0, 0);
	CHECK(port > 0);
	t0 = now_ns();
	deadline = t0 + 300000000ull;
	CHECK_EQ(hc_cpu(0, CAP_HC_SET_TIMER, deadline, 0, 0, 0), 0);
	printf("generation: waiting, generation %u, domain time %llu\n", gen,
	       (unsigned long long)t0);
	while (__atomic_load_n(&shared->generation, __ATOMIC_ACQUIRE) == gen)
		;
	t1 = now_ns();
	/* R-GEN-3: the device's port is as it was, pending and masked. */
	if (dev_port) {
		CHECK(ev_pending(dev_port));
		CHECK(ev_masked(dev_port));
	}
	/* R-GEN-2: one more than the snapshot's. */
	CHECK_EQ(__atomic_load_n(&shared->generation, __ATOMIC_ACQUIRE), gen + 1);
	/* R-GEN-3: domain time went on from the snapshot (which took well under 5 s here). */
	CHECK(t1 >= t0);
	CHECK(t1 - t0 < 5000000000ull);
	/* R-GEN-3: the timer armed before the snapshot fires at its deadline, not before. */
	while (!ev_test_and_clear((unsigned)port))
		hc_cpu(0, CAP_HC_BLOCK, deadline + 2000000000ull, 0, 0, 0);
	CHECK(now_ns() >= deadline);
	/* R-GEN-4: boot_wallclock_ns + domain time is UTC now (to within 2 s). */
	{
		uint64_t utc = utc_ns(), guess = si->boot_wallclock_ns + now_ns();

		CHECK(guess > utc ? guess - utc < 2000000000ull : utc - guess < 2000000000ull);
	}
	printf("generation: restored, generation %u\n", gen + 1);
	xtf_finish();
}
