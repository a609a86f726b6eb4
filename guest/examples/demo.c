/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `make demo` domain: every vCPU comes up, runs its own timer, and reports back to
 * vCPU 0 through an event channel while vCPU 0 blocks (no busy waiting anywhere).
 */
#include "kit.h"

#define TICKS 3
#define MS 1000000ull

static int done_port[CAP_MAX_VCPUS];

static void worker(void *arg)
{
	unsigned me = this_cpu();
	uint64_t period = (uint64_t)(uintptr_t)arg * MS, start = time_ns();

	for (int tick = 1; tick <= TICKS; tick++) {
		sleep_ns(period);
		printf("  vCPU %u: timer tick %d at %3llu ms\n", me, tick,
		       (unsigned long long)((time_ns() - start) / MS));
	}
	evtchn_send(done_port[me]);
}

int main(void)
{
	unsigned n = nr_cpus(), finished = 0;
	uint64_t t0 = time_ns();

	printf("demo: PV domain with %u vCPU(s) and %llu MiB; each vCPU ticks %d times on its "
	       "own timer, then signals vCPU 0\n",
	       n, (unsigned long long)(start_info->mem_bytes >> 20), TICKS);
	for (unsigned i = 1; i < n; i++) {
		done_port[i] = evtchn_alloc(0);
		if (done_port[i] <= 0 || smp_start(i, worker, (void *)(uintptr_t)(10 * i)) < 0) {
			printf("demo: cannot start vCPU %u\n", i);
			return 1;
		}
	}
	if (n == 1) {
		done_port[0] = evtchn_alloc(0);
		worker((void *)(uintptr_t)10);
		finished = evtchn_test_and_clear(done_port[0]) ? 0 : 1; /* vCPU 0 signalled itself */
	}
	while (finished < n - 1) {
		block(0); /* sleeps in the VMM until an event for vCPU 0 is pending */
		for (unsigned i = 1; i < n; i++)
			if (evtchn_test_and_clear(done_port[i])) {
				printf("demo: event from vCPU %u on port %d\n", i, done_port[i]);
				finished++;
			}
	}
	printf("demo: done, %u vCPU(s) in %llu ms\n", n,
	       (unsigned long long)((time_ns() - t0) / MS));
	return 0;
}
