/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The jailer's cost at launch (docs/jailer.md): fork+exec of `capsule run` to the guest's
 * first hypercall, jailed (a fresh jail directory each time, as a manager makes one per
 * domain) against unjailed, interleaved in the same run so that the host's noise hits both
 * alike. Prints the median, the range and the host's load.
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
	char load[128], dir[64], cmd[128];

	if (argc < 3 || runs < 5 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: jail_launch CAPSULE GUEST [RUNS 5-%d]\n", MAX_RUNS);
		return 2;
	}
	char *plain_argv[] = {argv[1], "run", argv[2], NULL};
	char *jail_argv[] = {argv[1], "run", "--jail", dir, "--uid", "64300", "--gid", "64300",
			     argv[2], NULL};

	printf("host load before: %s\n", bench_loadavg(load, sizeof(load)));
	fflush(stdout); /* not once more by each child (freopen flushes what it inherits) */
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
	uint64_t p = median_u64(plain, (size_t)runs), j = median_u64(jailed, (size_t)runs);

	printf("| launch to first hypercall, jailed (median of %d; range %.0f-%.0f us) | %.0f us "
	       "| unjailed %.0f us (range %.0f-%.0f us) | %.2fx |\n", runs, jailed[0] / 1e3,
	       jailed[runs - 1] / 1e3, j / 1e3, p / 1e3, plain[0] / 1e3, plain[runs - 1] / 1e3,
	       (double)j / (double)p);
	printf("host load after: %s\n", bench_loadavg(load, sizeof(load)));
	return 0;
}
