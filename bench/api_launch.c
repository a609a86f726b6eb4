/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Launch with the API socket against launch without it: the same binary, the same guest,
 * fork+exec to the guest's first hypercall (exec_until_stamp, bench/run_capsule.h), three
 * ways interleaved and their order rotated every run, so that noise hits all alike: no API,
 * `--api-sock PATH` (capsule makes the socket and its lock file), and `--api-sock fd=N`
 * (a listening socket made once by the caller and inherited, as capsuled does it). The
 * socket is made before the first guest instruction and the server thread starts with the
 * guest (src/cli/run.c), so whatever either costs the launch is in the figure.
 *
 *   build/bench/api_launch CAPSULE GUEST [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

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
	uint64_t plain[MAX_RUNS], api[MAX_RUNS], pre[MAX_RUNS], pl_lo, pl_hi, api_lo, api_hi,
		pre_lo, pre_hi;
	int runs = argc > 3 ? atoi(argv[3]) : 40;
	char sock[108], lock[120], presock[108], fdspec[16];
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int lfd;

	if (argc < 3 || runs < 5 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: api_launch CAPSULE GUEST [RUNS 5-%d]\n", MAX_RUNS);
		return 2;
	}
	snprintf(sock, sizeof(sock), "/tmp/capsule-bench-launch-%d.sock", (int)getpid());
	snprintf(lock, sizeof(lock), "%s.lock", sock);
	snprintf(presock, sizeof(presock), "/tmp/capsule-bench-prebound-%d.sock", (int)getpid());
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", presock);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0); /* inherited by every capsule: no CLOEXEC */
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 16) < 0)
		bench_die("prebound socket");
	snprintf(fdspec, sizeof(fdspec), "fd=%d", lfd);
	char *plain_argv[] = {argv[1], "run", argv[2], NULL};
	char *api_argv[] = {argv[1], "run", "--api-sock", sock, argv[2], NULL};
	char *pre_argv[] = {argv[1], "run", "--api-sock", fdspec, argv[2], NULL};
	char **ways[3] = {plain_argv, api_argv, pre_argv};
	uint64_t *into[3] = {plain, api, pre};

	/* One of each first, not counted: page cache, and the first socket in /tmp. */
	for (int w = 0; w < 3; w++)
		exec_until_stamp(ways[w], marker);
	for (int i = 0; i < runs; i++)
		for (int k = 0; k < 3; k++) {
			int w = (i + k) % 3;

			into[w][i] = exec_until_stamp(ways[w], marker);
		}
	unlink(sock); /* capsule unlinks it on the way out; the lock file stays */
	unlink(lock);
	close(lfd);
	unlink(presock);
	range(plain, runs, &pl_lo, &pl_hi);
	range(api, runs, &api_lo, &api_hi);
	range(pre, runs, &pre_lo, &pre_hi);
	uint64_t p = median_u64(plain, (size_t)runs), a = median_u64(api, (size_t)runs),
		 b = median_u64(pre, (size_t)runs);
	printf("api launch (median of %d interleaved triples): without the API %.0f us "
	       "(%.0f-%.0f), --api-sock PATH %.0f us (%.0f-%.0f), --api-sock fd=N %.0f us "
	       "(%.0f-%.0f)\n", runs, p / 1e3, pl_lo / 1e3, pl_hi / 1e3, a / 1e3, api_lo / 1e3,
	       api_hi / 1e3, b / 1e3, pre_lo / 1e3, pre_hi / 1e3);
	printf("| launch to first hypercall with --api-sock PATH (median of %d, range) | %.0f us "
	       "(%.0f-%.0f) | same binary without it: %.0f us (%.0f-%.0f) | %.3fx |\n",
	       runs, a / 1e3, api_lo / 1e3, api_hi / 1e3, p / 1e3, pl_lo / 1e3, pl_hi / 1e3,
	       (double)a / (double)p);
	printf("| launch to first hypercall with --api-sock fd=N, pre-bound (median of %d, range) "
	       "| %.0f us (%.0f-%.0f) | same binary without it: %.0f us (%.0f-%.0f) | %.3fx |\n",
	       runs, b / 1e3, pre_lo / 1e3, pre_hi / 1e3, p / 1e3, pl_lo / 1e3, pl_hi / 1e3,
	       (double)b / (double)p);
	return 0;
}
