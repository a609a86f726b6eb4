/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Launch benchmark: from fork+exec of `capsule run` to the guest's first hypercall, against
 * a raw KVM floor (create VM + 64 MiB memory + vCPU + first exit) measured in the same run,
 * both in-process and as an exec'd process (so both sides pay for exec).
 *
 *   build/bench/launch CAPSULE GUEST [RUNS [CAPSULE-RUN-OPTIONS...]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_floor.h"
#include "run_capsule.h"

static uint64_t floor_in_process(void)
{
	struct floor_vm f;
	uint64_t t0 = bench_now_ns(), t;

	floor_vm_create(&f);
	floor_first_exit(&f);
	t = bench_now_ns() - t0;
	floor_vm_destroy(&f);
	return t;
}

int main(int argc, char **argv)
{
	enum { MAX_RUNS = 200 };
	uint64_t floor_ip[MAX_RUNS], floor_ex[MAX_RUNS], capsule[MAX_RUNS];
	int runs = argc > 3 ? atoi(argv[3]) : 50;
	char self[4096];

	if (argc == 2 && !strcmp(argv[1], "--floor-child")) {
		/* The exec'd floor: the same KVM sequence, then report like capsule does. */
		struct floor_vm f;
		struct timespec ts;

		floor_vm_create(&f);
		floor_first_exit(&f);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		fprintf(stderr, "floor: first exit at monotonic %lld.%09ld\n", (long long)ts.tv_sec,
			ts.tv_nsec);
		return 0;
	}
	if (argc < 3 || runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: launch CAPSULE GUEST [RUNS 1-%d]\n", MAX_RUNS);
		return 2;
	}
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		bench_die("readlink");
	self[n] = 0;
	char *floor_argv[] = {self, "--floor-child", NULL};
	char *cap_argv[16] = {argv[1], "run"};
	int k = 2;

	for (int i = 4; i < argc && k < 14; i++)
		cap_argv[k++] = argv[i];
	cap_argv[k++] = argv[2];
	cap_argv[k] = NULL;

	/* Interleave the three so that machine noise hits them alike. */
	for (int i = 0; i < runs; i++) {
		floor_ip[i] = floor_in_process();
		floor_ex[i] = exec_until_stamp(floor_argv, "first exit at monotonic");
		capsule[i] = exec_until_stamp(cap_argv, "first hypercall at monotonic");
	}
	uint64_t fi = median_u64(floor_ip, (size_t)runs), fe = median_u64(floor_ex, (size_t)runs);
	uint64_t c = median_u64(capsule, (size_t)runs);
	printf("launch (median of %d): raw KVM floor in-process %.0f us, exec'd floor %.0f us, "
	       "capsule run to first hypercall %.0f us\n",
	       runs, fi / 1e3, fe / 1e3, c / 1e3);
	printf("| launch to first hypercall | %.0f us | exec'd raw KVM floor %.0f us | %.2fx |\n",
	       c / 1e3, fe / 1e3, (double)c / (double)fe);
	printf("| launch, against the in-process floor | %.0f us | in-process raw KVM floor %.0f us "
	       "| %.2fx |\n", c / 1e3, fi / 1e3, (double)c / (double)fi);
	return 0;
}
