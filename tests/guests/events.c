/* SPDX-License-Identifier: Apache-2.0 */
/* Event channels between vCPUs: ping-pong, blocking wake-ups, and every bad port refused. */
#include "kit.h"

#define ROUNDS 200

static int to_cpu1, to_cpu0;
static volatile int cpu1_ready;
static volatile unsigned pongs;

static void responder(void *arg)
{
	(void)arg;
	cpu1_ready = 1;
	for (int i = 0; i < ROUNDS; i++) {
		if (!evtchn_wait(to_cpu1, 0))
			break;
		pongs++;
		evtchn_send(to_cpu0);
	}
}

int main(void)
{
	uint64_t t0;
	int ports[CAP_EVTCHN_PORTS];
	int n = 0;

	to_cpu1 = evtchn_alloc(1);
	to_cpu0 = evtchn_alloc(0);
	TEST_CHECK(to_cpu1 > 0 && to_cpu0 > 0 && to_cpu1 != to_cpu0);
	TEST_CHECK(smp_start(1, responder, NULL) == 0);
	while (!cpu1_ready)
		yield();

	t0 = time_ns();
	for (int i = 0; i < ROUNDS; i++) {
		TEST_CHECK(evtchn_send(to_cpu1) == 0);
		TEST_CHECK(evtchn_wait(to_cpu0, time_ns() + 5000000000ull) == 1);
	}
	TEST_CHECK(pongs == ROUNDS);
	printf("events: %d round trips between vCPUs, %llu us each\n", ROUNDS,
	       (unsigned long long)((time_ns() - t0) / ROUNDS / 1000));

	/* Bad ports and vCPUs are refused, never fatal. */
	const int64_t bad[] = {0, -1, CAP_EVTCHN_PORTS, 1ll << 40, 999};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TEST_CHECK(hypercall(CAP_HC_EVTCHN_SEND, (uint64_t)bad[i], 0, 0, 0) == CAP_EINVAL);
		TEST_CHECK(hypercall(CAP_HC_EVTCHN_MASK, (uint64_t)bad[i], 0, 0, 0) == CAP_EINVAL);
		TEST_CHECK(hypercall(CAP_HC_EVTCHN_UNMASK, (uint64_t)bad[i], 0, 0, 0) == CAP_EINVAL);
		TEST_CHECK(hypercall(CAP_HC_EVTCHN_CLOSE, (uint64_t)bad[i], 0, 0, 0) == CAP_EINVAL);
	}
	TEST_CHECK(evtchn_alloc(2) == CAP_EINVAL);
	TEST_CHECK(evtchn_alloc(1u << 31) == CAP_EINVAL);

	/* Closed ports are gone; the table fills up with ENOSPC and empties again. */
	TEST_CHECK(evtchn_close(to_cpu1) == 0);
	TEST_CHECK(evtchn_send(to_cpu1) == CAP_EINVAL);
	for (;;) {
		int p = evtchn_alloc(0);

		if (p < 0) {
			TEST_CHECK(p == CAP_ENOSPC);
			break;
		}
		ports[n++] = p;
	}
	/* port 0 never; to_cpu0 and the control port (docs/pv-abi.md R-REQ-1) still open */
	TEST_CHECK(n == CAP_EVTCHN_PORTS - 3);
	for (int i = 0; i < n; i++)
		TEST_CHECK(evtchn_close(ports[i]) == 0);
	TEST_CHECK(evtchn_alloc(0) > 0);
	test_finish(true);
}
