/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Launch benchmark: from fork+exec of `capsule run --vcpus N GUEST` to the guest's first
 * hypercall, against raw KVM floors with the same N vCPUs measured in the same run,
 * interleaved (the order rotates each round so that none always follows another):
 *   - the exec'd floor: a static program (as capsule is) that creates the VM, its 64 MiB
 *     memory slot and N vCPUs with their kvm_run mapped, and runs vCPU 0 to its first exit;
 *   - the same with vCPU 0's CPUID (KVM_GET_SUPPORTED_CPUID, KVM_SET_CPUID2 on vCPU 0),
 *     which no VMM can skip: its guest may ask CPUID from its first instruction on;
 *   - the in-process floor (no fork, no exec).
 * Each figure is the median of the runs with its range; ratios are the median of the
 * rounds' own ratios, with their range; the host's load is printed before and after.
 *
 *   build/bench/launch CAPSULE GUEST [RUNS [VCPUS]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_floor.h"
#include "run_capsule.h"

static uint64_t floor_in_process(unsigned nr)
{
	struct floor_vm f;
	uint64_t t0 = bench_now_ns(), t;

	floor_vm_create_n(&f, nr, 0);
	floor_first_exit(&f);
	t = bench_now_ns() - t0;
	floor_vm_destroy(&f);
	return t;
}

/* The exec'd floor: the same KVM sequence, then report the way capsule does. */
static int floor_child(unsigned nr, int cpuid)
{
	struct floor_vm f;
	struct timespec ts;

	floor_vm_create_n(&f, nr, cpuid);
	floor_first_exit(&f);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(stderr, "floor: first exit at monotonic %lld.%09ld\n", (long long)ts.tv_sec,
		ts.tv_nsec);
	return 0;
}

int main(int argc, char **argv)
{
	enum { MAX_RUNS = 200, KINDS = 4 };
	static uint64_t t[KINDS][MAX_RUNS]; /* floor in-process, exec'd, exec'd + CPUID, capsule */
	int runs = argc > 3 ? atoi(argv[3]) : 30;
	unsigned nr = argc > 4 ? (unsigned)atoi(argv[4]) : 1;
	char self[4096], nr_s[16], a[BENCH_FMT_LEN], b[BENCH_FMT_LEN], r[BENCH_FMT_LEN];

	if (argc == 4 && !strcmp(argv[1], "--floor-child"))
		return floor_child((unsigned)atoi(argv[2]), atoi(argv[3]));
	if (argc < 3 || runs < 5 || runs > MAX_RUNS || nr < 1 || nr > FLOOR_MAX_VCPUS) {
		fprintf(stderr, "usage: launch CAPSULE GUEST [RUNS 5-%d [VCPUS 1-%d]]\n", MAX_RUNS,
			FLOOR_MAX_VCPUS);
		return 2;
	}
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		bench_die("readlink");
	self[n] = 0;
	snprintf(nr_s, sizeof(nr_s), "%u", nr);
	char *floor_argv[] = {self, "--floor-child", nr_s, "0", NULL};
	char *cpuid_argv[] = {self, "--floor-child", nr_s, "1", NULL};
	char *cap_argv[] = {argv[1], "run", "--vcpus", nr_s, argv[2], NULL};

	bench_print_load("before");
	for (int i = 0; i < runs; i++)
		for (int k = 0; k < KINDS; k++)
			switch ((i + k) % KINDS) {
			case 0:
				t[0][i] = floor_in_process(nr);
				break;
			case 1:
				t[1][i] = exec_until_stamp(floor_argv, "first exit at monotonic");
				break;
			case 2:
				t[2][i] = exec_until_stamp(cpuid_argv, "first exit at monotonic");
				break;
			default:
				t[3][i] = exec_until_stamp(cap_argv, "first hypercall at monotonic");
			}
	bench_print_load("after");
	struct bench_stat cap = bench_stat_u64(t[3], (size_t)runs);
	static const char *const peer[] = {
		"in-process raw KVM floor", "exec'd raw KVM floor", "exec'd raw KVM floor + vCPU 0's CPUID"};
	static const char *const against[] = {", against the in-process floor", "",
					       ", against the floor that sets vCPU 0's CPUID"};
	static const int order[] = {1, 2, 0}; /* the exec'd floor is the row's peer */

	printf("launch, %u vCPU(s), median of %d interleaved runs (min-max); ratios: the median "
	       "of the runs' own\n", nr, runs);
	for (int j = 0; j < 3; j++) {
		int k = order[j];

		bench_fmt(a, cap, 1e3, 0, "us");
		bench_fmt(b, bench_stat_u64(t[k], (size_t)runs), 1e3, 0, "us");
		bench_fmt_ratio(r, t[3], t[k], (size_t)runs);
		printf("| launch to first hypercall, %u vCPU%s%s | %s | %s %s | %s |\n", nr,
		       nr > 1 ? "s" : "", against[k], a, peer[k], b, r);
	}
	return 0;
}
