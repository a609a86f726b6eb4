/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Launch with the API socket against launch without it: the same binary, the same guest,
 * fork+exec to the guest's first hypercall (exec_until_stamp, bench/run_capsule.h), the two
 * interleaved and their order swapped every run, so that noise hits both alike. The API
 * server is started before the first guest instruction (src/cli/run.c), so all it costs is
 * in the figure: the socket, its lock file, the thread and its seccomp filter.
 *
 *   build/bench/api_launch CAPSULE GUEST [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_floor.h"
#include "run_capsule.h"

static void range(uint64_t *v, int n, uint64_t *lo, uint64_t *hi)
{
	*lo = *hi = v[0];
	for (int i = 1; i < n; i++) {
		*lo = v[i] < *lo ? v[i] : *lo;
		*hi = v[i] > *hi ? v[i] : *hi;
	}
}

int main(int argc, char **argv)
{
	enum { MAX_RUNS = 200 };
	static const char *marker = "first hypercall at monotonic";
	uint64_t plain[MAX_RUNS], api[MAX_RUNS], pl_lo, pl_hi, api_lo, api_hi;
	int runs = argc > 3 ? atoi(argv[3]) : 40;
	char sock[108], lock[120];

	if (argc < 3 || runs < 5 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: api_launch CAPSULE GUEST [RUNS 5-%d]\n", MAX_RUNS);
		return 2;
	}
	snprintf(sock, sizeof(sock), "/tmp/capsule-bench-launch-%d.sock", (int)getpid());
	snprintf(lock, sizeof(lock), "%s.lock", sock);
	char *plain_argv[] = {argv[1], "run", argv[2], NULL};
	char *api_argv[] = {argv[1], "run", "--api-sock", sock, argv[2], NULL};

	/* One of each first, not counted: page cache, and the first socket in /tmp. */
	exec_until_stamp(plain_argv, marker);
	exec_until_stamp(api_argv, marker);
	for (int i = 0; i < runs; i++) {
		if (i & 1) {
			api[i] = exec_until_stamp(api_argv, marker);
			plain[i] = exec_until_stamp(plain_argv, marker);
		} else {
			plain[i] = exec_until_stamp(plain_argv, marker);
			api[i] = exec_until_stamp(api_argv, marker);
		}
	}
	unlink(sock); /* capsule unlinks it on the way out; the lock file stays */
	unlink(lock);
	range(plain, runs, &pl_lo, &pl_hi);
	range(api, runs, &api_lo, &api_hi);
	uint64_t p = median_u64(plain, (size_t)runs), a = median_u64(api, (size_t)runs);
	printf("api launch (median of %d interleaved pairs): without the API %.0f us "
	       "(%.0f-%.0f), with --api-sock %.0f us (%.0f-%.0f)\n",
	       runs, p / 1e3, pl_lo / 1e3, pl_hi / 1e3, a / 1e3, api_lo / 1e3, api_hi / 1e3);
	printf("| launch to first hypercall with --api-sock (median of %d, range) | %.0f us "
	       "(%.0f-%.0f) | same binary without it: %.0f us (%.0f-%.0f) | %.3fx |\n",
	       runs, a / 1e3, api_lo / 1e3, api_hi / 1e3, p / 1e3, pl_lo / 1e3, pl_hi / 1e3,
	       (double)a / (double)p);
	return 0;
}
