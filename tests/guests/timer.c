/* SPDX-License-Identifier: Apache-2.0 */
/* Blocking with deadlines, timers, cancelling, and masked timer events. */
#include "kit.h"

#define MS 1000000ull

int main(void)
{
	int port = evtchn_bind_timer();
	uint64_t t0, deadline;

	TEST_CHECK(port > 0);
	TEST_CHECK(evtchn_bind_timer() == port); /* idempotent */

	/* block() with nothing pending returns 0 at its deadline, not before. */
	t0 = time_ns();
	deadline = t0 + 20 * MS;
	TEST_CHECK(block(deadline) == 0);
	TEST_CHECK(time_ns() >= deadline);

	/* A timer wakes a blocked vCPU long before a far deadline. */
	t0 = time_ns();
	TEST_CHECK(timer_set(t0 + 10 * MS) == 0);
	TEST_CHECK(block(t0 + 5000 * MS) == 1);
	TEST_CHECK(time_ns() >= t0 + 10 * MS);
	TEST_CHECK(time_ns() < t0 + 4000 * MS);
	TEST_CHECK(evtchn_test_and_clear(port));
	TEST_CHECK(!evtchn_test_and_clear(port));

	/* sleep_ns sleeps at least as long as asked. */
	t0 = time_ns();
	sleep_ns(15 * MS);
	TEST_CHECK(time_ns() - t0 >= 15 * MS);

	/* A cancelled timer never fires. */
	t0 = time_ns();
	TEST_CHECK(timer_set(t0 + 5 * MS) == 0);
	TEST_CHECK(timer_set(0) == 0);
	TEST_CHECK(block(t0 + 30 * MS) == 0);
	TEST_CHECK(!evtchn_test_and_clear(port));

	/* Masked: the expiry is recorded but does not wake; unmasking delivers it. */
	TEST_CHECK(evtchn_mask(port) == 0);
	t0 = time_ns();
	TEST_CHECK(timer_set(t0 + 5 * MS) == 0);
	TEST_CHECK(block(t0 + 40 * MS) == 0);
	TEST_CHECK(time_ns() >= t0 + 40 * MS);
	TEST_CHECK(shared_info->evtchn_pending[port / 64] & (1ull << (port % 64)));
	TEST_CHECK(evtchn_unmask(port) == 0);
	TEST_CHECK(block(time_ns() + 5000 * MS) == 1);
	TEST_CHECK(evtchn_test_and_clear(port));

	/* A deadline in the past returns at once; absurd deadlines are refused or capped. */
	TEST_CHECK(block(1) == 0);
	TEST_CHECK(timer_set(~0ull) == CAP_EINVAL);
	printf("timer: ok\n");
	test_finish(true);
}
