/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pattern in memory per clone (tests/daemon/snapshot.py): 256 KiB of pages filled from a
 * seed and checked over and over. The seed is new at start and after every restore (seen
 * as shared_info->generation changing): drawn then from RDRAND (where the CPU has it) and
 * the TSC, so the clones of one snapshot, whose memory and cmdline are the same, each write
 * their own pattern. Clones share their unmodified pages copy-on-write; one that saw
 * another's writes would read a pattern not its own. Prints "clonepat: ready seed S" once
 * the first pattern is written, "clonepat: restored gen G seed S" after a restore, and
 * "clonepat: verified N seed S" every 25 rounds (20 ms apart); "clonepat: MISMATCH ..."
 * and a crash if a word is not its own.
 */
#include "kit.h"

#define PAGES 64u
#define WORDS (PAGES * 4096u / 8u)

static uint64_t *page[PAGES];

static uint64_t fresh_seed(void)
{
	uint32_t a, b, c, d;
	uint64_t r = 0, lo, hi;
	unsigned char ok = 0;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	if (c & (1u << 30))
		for (int i = 0; i < 10 && !ok; i++)
			__asm__ volatile("rdrand %0; setc %1" : "=r"(r), "=qm"(ok));
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return r ^ (hi << 32 | lo) ^ 0x9e3779b97f4a7c15ull;
}

static uint64_t word(uint64_t seed, uint64_t i)
{
	uint64_t x = seed + i * 0x9e3779b97f4a7c15ull;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void fill(uint64_t seed)
{
	for (uint64_t i = 0; i < WORDS; i++)
		page[i / 512][i % 512] = word(seed, i);
}

static int check(uint64_t seed)
{
	for (uint64_t i = 0; i < WORDS; i++)
		if (page[i / 512][i % 512] != word(seed, i)) {
			printf("clonepat: MISMATCH at word %llu: %llx, not %llx (seed %llx)\n",
			       (unsigned long long)i, (unsigned long long)page[i / 512][i % 512],
			       (unsigned long long)word(seed, i), (unsigned long long)seed);
			return -1;
		}
	return 0;
}

int main(void)
{
	uint32_t gen = __atomic_load_n(&shared_info->generation, __ATOMIC_ACQUIRE);
	uint64_t seed = fresh_seed();

	for (unsigned p = 0; p < PAGES; p++)
		TEST_CHECK((page[p] = page_alloc()) != NULL);
	fill(seed);
	printf("clonepat: ready seed %llx gen %u\n", (unsigned long long)seed, gen);
	for (unsigned round = 1;; round++) {
		uint32_t g = __atomic_load_n(&shared_info->generation, __ATOMIC_ACQUIRE);

		if (g != gen) {
			/* The first thing after a restore: a seed of this clone's own. */
			seed = fresh_seed();
			gen = g;
			fill(seed);
			printf("clonepat: restored gen %u seed %llx\n", g, (unsigned long long)seed);
		}
		if (check(seed))
			poweroff(1);
		if (round % 25 == 0)
			printf("clonepat: verified %u seed %llx\n", round, (unsigned long long)seed);
		sleep_ns(20000000);
	}
}
