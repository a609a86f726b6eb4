/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The jailer's cost at launch (docs/jailer.md): fork+exec of `capsule run` to the guest's
 * first hypercall, jailed (a fresh jail directory each time, as a manager makes one per
 * domain) against unjailed, interleaved in the same run so that the host's noise hits both
 * alike. Prints the medians with their ranges, the median of the pairs' own ratios, and
 * the host's load.
 *
 *   build/bench/jail_launch CAPSULE GUEST [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_floor.h"
#include "run_capsule.h"

int main(int argc, char **argv)
{
	enum { MAX_RUNS = 200 };
	uint64_t plain[MAX_RUNS], jailed[MAX_RUNS];
	int runs = argc > 3 ? atoi(argv[3]) : 20;
	char dir[64], cmd[128], a[BENCH_FMT_LEN], b[BENCH_FMT_LEN], r[BENCH_FMT_LEN];

	if (argc < 3 || runs < 5 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: jail_launch CAPSULE GUEST [RUNS 5-%d]\n", MAX_RUNS);
		return 2;
	}
	char *plain_argv[] = {argv[1], "run", argv[2], NULL};
	char *jail_argv[] = {argv[1], "run", "--jail", dir, "--uid", "64300", "--gid", "64300",
			     argv[2], NULL};

	bench_print_load("before"); /* flushed: not once more by each child */
	for (int i = 0; i < runs; i++) {
		snprintf(dir, sizeof(dir), "/tmp/capsule-bench-jail-XXXXXX");
		if (!mkdtemp(dir))
			bench_die("mkdtemp");
		/* Alternate which goes first, so neither always follows the other. */
		if (i & 1) {
			jailed[i] = exec_until_stamp(jail_argv, "first hypercall at monotonic");
			plain[i] = exec_until_stamp(plain_argv, "first hypercall at monotonic");
		} else {
			plain[i] = exec_until_stamp(plain_argv, "first hypercall at monotonic");
			jailed[i] = exec_until_stamp(jail_argv, "first hypercall at monotonic");
		}
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir); /* a name made here, no mounts left */
		if (system(cmd) != 0)
			bench_die("rm");
	}
	bench_print_load("after");
	bench_fmt(a, bench_stat_u64(jailed, (size_t)runs), 1e3, 0, "us");
	bench_fmt(b, bench_stat_u64(plain, (size_t)runs), 1e3, 0, "us");
	bench_fmt_ratio(r, jailed, plain, (size_t)runs);
	printf("jail launch: median of %d interleaved pairs (min-max); the ratio: the median of "
	       "the pairs' own\n", runs);
	printf("| launch to first hypercall, jailed | %s | unjailed %s | %s |\n", a, b, r);
	return 0;
}
