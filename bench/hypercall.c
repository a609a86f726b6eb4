/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hypercall round trip in a PV domain against a bare `out` exit from CPL 3 to user space
 * on a raw KVM VM, measured in the same run (interleaved; medians).
 *
 *   build/bench/hypercall CAPSULE HCBENCH_GUEST [CALLS]
 */
#include "kvm_floor.h"
#include "run_capsule.h"

int main(int argc, char **argv)
{
	enum { ROUNDS = 5 };
	uint64_t floor[ROUNDS], hc[ROUNDS];
	unsigned long long calls = argc > 3 ? strtoull(argv[3], NULL, 10) : 20000;
	char cmd[1024];

	if (argc < 3 || calls == 0) {
		fprintf(stderr, "usage: hypercall CAPSULE HCBENCH_GUEST [CALLS]\n");
		return 2;
	}
	snprintf(cmd, sizeof(cmd), "%s run --cmdline %llu %s", argv[1], calls, argv[2]);
	for (int r = 0; r < ROUNDS; r++) {
		struct floor_vm f;

		floor_vm_create(&f);
		floor[r] = (uint64_t)floor_out_exits(&f, calls);
		floor_vm_destroy(&f);
		hc[r] = capsule_number(cmd, "ns_per_call");
	}
	uint64_t fm = median_u64(floor, ROUNDS), hm = median_u64(hc, ROUNDS);
	printf("hypercall (median of %d x %llu calls): bare out exit %.2f us, "
	       "capsule hypercall %.2f us\n", ROUNDS, calls, fm / 1e3, hm / 1e3);
	printf("| hypercall round trip (CAP_HC_TIME) | %.2f us | bare `out` exit from CPL 3 "
	       "%.2f us | %.2fx |\n", hm / 1e3, fm / 1e3, (double)hm / (double)fm);
	return 0;
}
