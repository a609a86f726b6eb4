/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest CPU efficiency (Popek and Goldberg's efficiency property): the same compute kernel,
 * compiled with the same flags, in a PV domain and as this host process. RUNS interleaved
 * runs (which side goes first alternates), each figure the median with its range, the
 * ratio the median of the runs' own ratios; the host's load before and after. The hashes
 * must match or the comparison is void.
 *
 *   build/bench/cpu CAPSULE CPUBENCH_GUEST [ROUNDS [RUNS]]
 */
#include <inttypes.h>

#include "compute_kernel.h"
#include "kvm_floor.h"
#include "run_capsule.h"

static uint64_t host_run(unsigned long rounds, uint64_t *hash)
{
	uint64_t t0 = bench_now_ns();

	*hash = compute_kernel((uint32_t)rounds);
	return bench_now_ns() - t0;
}

int main(int argc, char **argv)
{
	enum { MAX_RUNS = 100 };
	uint64_t host[MAX_RUNS], guest[MAX_RUNS];
	unsigned long rounds = argc > 3 ? strtoul(argv[3], NULL, 10) : 4000;
	int runs = argc > 4 ? atoi(argv[4]) : 7;
	char cmd[1024], a[BENCH_FMT_LEN], b[BENCH_FMT_LEN], r[BENCH_FMT_LEN];
	uint64_t hash = 0;

	if (argc < 3 || rounds == 0 || runs < 5 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: cpu CAPSULE CPUBENCH_GUEST [ROUNDS [RUNS 5-%d]]\n", MAX_RUNS);
		return 2;
	}
	snprintf(cmd, sizeof(cmd), "%s run --cmdline %lu %s", argv[1], rounds, argv[2]);
	bench_print_load("before");
	for (int i = 0; i < runs; i++) {
		if (i & 1) {
			guest[i] = capsule_number(cmd, "ns");
			host[i] = host_run(rounds, &hash);
		} else {
			host[i] = host_run(rounds, &hash);
			guest[i] = capsule_number(cmd, "ns");
		}
	}
	bench_print_load("after");
	bench_fmt(a, bench_stat_u64(guest, (size_t)runs), 1e6, 1, "ms");
	bench_fmt(b, bench_stat_u64(host, (size_t)runs), 1e6, 1, "ms");
	bench_fmt_ratio(r, guest, host, (size_t)runs);
	printf("cpu: median of %d interleaved runs of %lu rounds (min-max), hash %016" PRIx64 "\n",
	       runs, rounds, hash);
	printf("| compute kernel in a PV domain | %s | same kernel as a host process %s | %s |\n", a,
	       b, r);
	return 0;
}
