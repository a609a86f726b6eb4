/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A domain with something of everything in flight, for snapshots (tests/integration/
 * snapshot.sh): vCPU 0 ticks every 10 ms on its timer, and at each tick pings vCPU 1 over
 * an event channel (and waits for the pong), writes block N of the disk with the value N
 * and prints "vsnap: tick N ms T pongs P gen G" (T: domain time). It watches
 * shared_info->generation and says when it changes (it was restored or cloned). It never
 * ends by itself. After a save and a restore the ticks, the blocks and the console go on
 * from where they were; the host checks the disk has every block 0..N holding its number.
 */
#include "virtio.h"

#define TICK_NS 10000000ull
#define BLOCK 512u

static int to_cpu1, to_cpu0;
static volatile int cpu1_ready;
static volatile unsigned pongs;
static struct vblk b;
static uint64_t buf[BLOCK / 8];

static void responder(void *arg)
{
	(void)arg;
	cpu1_ready = 1;
	for (;;) {
		if (evtchn_wait(to_cpu1, 0) != 1)
			continue;
		pongs++;
		evtchn_send(to_cpu0);
	}
}

int main(void)
{
	uint32_t gen = __atomic_load_n(&shared_info->generation, __ATOMIC_ACQUIRE);
	uint64_t next, sectors;

	TEST_CHECK(vblk_open(&b, 0) == 0);
	sectors = b.sectors;
	to_cpu1 = evtchn_alloc(1);
	to_cpu0 = evtchn_alloc(0);
	TEST_CHECK(evtchn_bind_timer() > 0);
	TEST_CHECK(smp_start(1, responder, NULL) == 0);
	while (!cpu1_ready)
		yield();
	printf("vsnap: started, generation %u\n", gen);
	next = time_ns() + TICK_NS;
	for (uint64_t tick = 0;; tick++) {
		uint32_t g = __atomic_load_n(&shared_info->generation, __ATOMIC_ACQUIRE);
		unsigned before = pongs;

		if (g != gen) {
			printf("vsnap: generation %u (was %u): restored\n", g, gen);
			gen = g;
		}
		TEST_CHECK(evtchn_send(to_cpu1) == 0);
		/* 30 s of domain time: a pause (a migration waiting out a dead link's 10 s
		 * timeout, under the sanitizers) counts in domain time, and both vCPUs wait it out
		 * together; only an event really lost fails here. */
		while (pongs == before)
			TEST_CHECK(evtchn_wait(to_cpu0, time_ns() + 30000000000ull) == 1 ||
				   pongs != before);
		for (unsigned w = 0; w < BLOCK / 8; w++)
			buf[w] = tick;
		TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_OUT, tick % sectors, buf, BLOCK) ==
			   VIRTIO_BLK_S_OK);
		printf("vsnap: tick %llu ms %llu pongs %u gen %u\n", (unsigned long long)tick,
		       (unsigned long long)(time_ns() / 1000000), pongs, gen);
		while (time_ns() < next) {
			timer_set(next);
			block(next);
		}
		next += TICK_NS;
	}
}
