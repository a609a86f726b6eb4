/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The compute kernel of the CPU-efficiency benchmark, compiled into both the PV guest
 * (guest/examples/cpubench.c) and the host process (bench/cpu_host.c) with the same flags.
 * Integer matrix multiplication plus a hash: CPU-bound, cache-resident, no system calls.
 */
#ifndef CAPSULE_COMPUTE_KERNEL_H
#define CAPSULE_COMPUTE_KERNEL_H

#include <stdint.h>

#define KERNEL_N 48

static inline uint64_t compute_kernel(uint32_t rounds)
{
	static uint32_t a[KERNEL_N][KERNEL_N], b[KERNEL_N][KERNEL_N], c[KERNEL_N][KERNEL_N];
	uint64_t hash = 1469598103934665603ull;
	uint32_t seed = 12345;

	for (int i = 0; i < KERNEL_N; i++)
		for (int j = 0; j < KERNEL_N; j++) {
			seed = seed * 1103515245u + 12345u;
			a[i][j] = seed >> 16;
			seed = seed * 1103515245u + 12345u;
			b[i][j] = seed >> 16;
		}
	for (uint32_t r = 0; r < rounds; r++) {
		for (int i = 0; i < KERNEL_N; i++)
			for (int j = 0; j < KERNEL_N; j++) {
				uint32_t s = 0;

				for (int k = 0; k < KERNEL_N; k++)
					s += a[i][k] * b[k][j];
				c[i][j] = s;
			}
		for (int i = 0; i < KERNEL_N; i++) {
			hash = (hash ^ c[i][(i + r) % KERNEL_N]) * 1099511628211ull;
			a[i][r % KERNEL_N] ^= (uint32_t)hash;
		}
	}
	return hash;
}

#endif
