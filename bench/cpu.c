/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest CPU efficiency (Popek and Goldberg's efficiency property): the same compute kernel,
 * compiled with the same flags, in a PV domain and as this host process. Interleaved runs,
 * medians; the hashes must match or the comparison is void.
 *
 *   build/bench/cpu CAPSULE CPUBENCH_GUEST [ROUNDS]
 */
#include <inttypes.h>

#include "compute_kernel.h"
#include "kvm_floor.h"
#include "run_capsule.h"

int main(int argc, char **argv)
{
	enum { RUNS = 5 };
	uint64_t host[RUNS], guest[RUNS];
	unsigned long rounds = argc > 3 ? strtoul(argv[3], NULL, 10) : 4000;
	char cmd[1024];
	uint64_t hash = 0;

	if (argc < 3 || rounds == 0) {
		fprintf(stderr, "usage: cpu CAPSULE CPUBENCH_GUEST [ROUNDS]\n");
		return 2;
	}
	snprintf(cmd, sizeof(cmd), "%s run --cmdline %lu %s", argv[1], rounds, argv[2]);
	for (int r = 0; r < RUNS; r++) {
		uint64_t t0 = bench_now_ns();

		hash = compute_kernel((uint32_t)rounds);
		host[r] = bench_now_ns() - t0;
		guest[r] = capsule_number(cmd, "ns");
	}
	uint64_t hm = median_u64(host, RUNS), gm = median_u64(guest, RUNS);
	printf("cpu (median of %d, %lu rounds, hash %016" PRIx64 "): host %.1f ms, PV guest %.1f ms\n",
	       RUNS, rounds, hash, hm / 1e6, gm / 1e6);
	printf("| compute kernel in a PV domain | %.1f ms | same kernel as a host process %.1f ms "
	       "| %.3fx |\n", gm / 1e6, hm / 1e6, (double)gm / (double)hm);
	return 0;
}
