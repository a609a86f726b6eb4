/* SPDX-License-Identifier: Apache-2.0 */
/* The access patterns of the block benchmark, shared by the guest and the host process. */
#ifndef CAPSULE_BENCH_BLK_PATTERN_H
#define CAPSULE_BENCH_BLK_PATTERN_H

#include <stdint.h>

/* Offset (bytes) of operation i of n over a file of `size` bytes with blocks of `bs`. */
static inline uint64_t blk_pattern_offset(int random, uint64_t i, uint64_t size, uint64_t bs)
{
	uint64_t blocks = size / bs;

	if (!random)
		return (i % blocks) * bs;
	/* A fixed pseudo-random permutation-ish walk (splitmix64 of i). */
	uint64_t z = i + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return ((z ^ (z >> 31)) % blocks) * bs;
}

#endif
