/* SPDX-License-Identifier: Apache-2.0 */
/* Parts of /metrics (src/api/vm.c): per vCPU, CPU time and exits by reason; the balloon. */
#include <stdio.h>

#include "capsule/devices.h"
#include "capsule/domain.h"
#include "capsule/vmm_api.h"

void vm_metrics_vcpus(FILE *f, struct domain *d)
{
	struct vm *vm = d->vm;

	if (d->balloon) {
		uint64_t target, actual;

		balloon_sizes(d->balloon, &target, &actual);
		fprintf(f, "# HELP capsule_balloon_target_bytes Memory the balloon is asked to hold.\n"
			   "# TYPE capsule_balloon_target_bytes gauge\n"
			   "capsule_balloon_target_bytes{domain=\"%s\"} %llu\n"
			   "# HELP capsule_balloon_actual_bytes Memory the guest's balloon holds.\n"
			   "# TYPE capsule_balloon_actual_bytes gauge\n"
			   "capsule_balloon_actual_bytes{domain=\"%s\"} %llu\n", d->cfg.name,
			(unsigned long long)target, d->cfg.name, (unsigned long long)actual);
	}

	fprintf(f, "# HELP capsule_vcpu_cpu_seconds_total CPU time of each vCPU's thread.\n"
		   "# TYPE capsule_vcpu_cpu_seconds_total counter\n");
	for (unsigned i = 0; vm && i < vm->nr_vcpus; i++)
		fprintf(f, "capsule_vcpu_cpu_seconds_total{domain=\"%s\",vcpu=\"%u\"} %.6f\n",
			d->cfg.name, i, vcpu_cpu_ns(&vm->vcpus[i]) / 1e9);
	fprintf(f, "# HELP capsule_vcpu_exits_by_reason_total Exits to the VMM per vCPU, by KVM's "
		   "exit reason.\n# TYPE capsule_vcpu_exits_by_reason_total counter\n");
	for (unsigned i = 0; vm && i < vm->nr_vcpus; i++)
		for (unsigned r = 0; r < VCPU_EXIT_REASONS; r++) {
			uint64_t n = __atomic_load_n(&vm->vcpus[i].exits_by_reason[r], __ATOMIC_RELAXED);
			const char *name = vcpu_exit_reason_name(r);

			char unnamed[16];

			if (!n)
				continue;
			snprintf(unnamed, sizeof(unnamed), "kvm_%u", r);
			fprintf(f, "capsule_vcpu_exits_by_reason_total{domain=\"%s\",vcpu=\"%u\","
				   "reason=\"%s\"} %llu\n", d->cfg.name, i, name ? name : unnamed,
				(unsigned long long)n);
		}
}
