/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hypercall round trip in a PV domain against a bare `out` exit from CPL 3 to user space
 * on a raw KVM VM, measured in the same run: ROUNDS interleaved rounds (which side goes
 * first alternates), each figure the median with its range, the ratio the median of the
 * rounds' own ratios; the host's load before and after.
 *
 *   build/bench/hypercall CAPSULE HCBENCH_GUEST [CALLS [ROUNDS]]
 */
#include "kvm_floor.h"
#include "run_capsule.h"

static uint64_t floor_round(unsigned long long calls)
{
	struct floor_vm f;
	uint64_t ns;

	floor_vm_create(&f);
	ns = (uint64_t)floor_out_exits(&f, calls);
	floor_vm_destroy(&f);
	return ns;
}

int main(int argc, char **argv)
{
	enum { MAX_ROUNDS = 100 };
	uint64_t floor[MAX_ROUNDS], hc[MAX_ROUNDS];
	unsigned long long calls = argc > 3 ? strtoull(argv[3], NULL, 10) : 20000;
	int rounds = argc > 4 ? atoi(argv[4]) : 7;
	char cmd[1024], a[BENCH_FMT_LEN], b[BENCH_FMT_LEN], r[BENCH_FMT_LEN];

	if (argc < 3 || calls == 0 || rounds < 5 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: hypercall CAPSULE HCBENCH_GUEST [CALLS [ROUNDS 5-%d]]\n",
			MAX_ROUNDS);
		return 2;
	}
	snprintf(cmd, sizeof(cmd), "%s run --cmdline %llu %s", argv[1], calls, argv[2]);
	bench_print_load("before");
	for (int i = 0; i < rounds; i++) {
		if (i & 1) {
			hc[i] = capsule_number(cmd, "ns_per_call");
			floor[i] = floor_round(calls);
		} else {
			floor[i] = floor_round(calls);
			hc[i] = capsule_number(cmd, "ns_per_call");
		}
	}
	bench_print_load("after");
	bench_fmt(a, bench_stat_u64(hc, (size_t)rounds), 1e3, 2, "us");
	bench_fmt(b, bench_stat_u64(floor, (size_t)rounds), 1e3, 2, "us");
	bench_fmt_ratio(r, hc, floor, (size_t)rounds);
	printf("hypercall: median of %d interleaved rounds of %llu calls (min-max)\n", rounds,
	       calls);
	printf("| hypercall round trip (CAP_HC_TIME) | %s | bare `out` exit from CPL 3 %s | %s |\n",
	       a, b, r);
	return 0;
}
