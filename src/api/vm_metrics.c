/* SPDX-License-Identifier: Apache-2.0 */
/* Parts of /metrics (src/api/vm.c): per vCPU, CPU time and exits by reason; the balloon. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "capsule/devices.h"
#include "capsule/domain.h"
#include "capsule/vmm_api.h"

void vm_io_totals(struct domain *d, struct dev_io *blk, struct dev_io *net)
{
	memset(blk, 0, sizeof(*blk));
	memset(net, 0, sizeof(*net));
	for (unsigned i = 0; i < d->nr_devices; i++) {
		const struct device_kind *k = d->devices[i].kind;
		struct dev_io *sum = !strcmp(k->name, "disk") ? blk : net, one;

		if (!k->io || !d->devices[i].backend)
			continue;
		k->io(d->devices[i].backend, &one);
		sum->rd_bytes += one.rd_bytes;
		sum->wr_bytes += one.wr_bytes;
		sum->rd_reqs += one.rd_reqs;
		sum->wr_reqs += one.wr_reqs;
	}
}

static void io_metrics(FILE *f, const char *dom, const struct dev_io *blk,
		       const struct dev_io *net)
{
	static const struct {
		const char *name, *help;
		size_t off;
		bool net;
	} m[] = {
		{"capsule_block_read_bytes_total", "Bytes the domain's disks read.",
		 offsetof(struct dev_io, rd_bytes), false},
		{"capsule_block_write_bytes_total", "Bytes the domain's disks wrote.",
		 offsetof(struct dev_io, wr_bytes), false},
		{"capsule_block_read_requests_total", "Reads the domain's disks completed.",
		 offsetof(struct dev_io, rd_reqs), false},
		{"capsule_block_write_requests_total", "Writes the domain's disks completed.",
		 offsetof(struct dev_io, wr_reqs), false},
		{"capsule_net_receive_bytes_total", "Frame bytes delivered to the domain.",
		 offsetof(struct dev_io, rd_bytes), true},
		{"capsule_net_transmit_bytes_total", "Frame bytes the domain sent.",
		 offsetof(struct dev_io, wr_bytes), true},
		{"capsule_net_receive_packets_total", "Frames delivered to the domain.",
		 offsetof(struct dev_io, rd_reqs), true},
		{"capsule_net_transmit_packets_total", "Frames the domain sent.",
		 offsetof(struct dev_io, wr_reqs), true},
	};

	for (unsigned i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		const struct dev_io *io = m[i].net ? net : blk;

		fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s{domain=\"%s\"} %llu\n", m[i].name,
			m[i].help, m[i].name, m[i].name, dom,
			(unsigned long long)*(const uint64_t *)((const char *)io + m[i].off));
	}
}

void vm_metrics_vcpus(FILE *f, struct domain *d)
{
	struct dev_io blk, net;

	vm_io_totals(d, &blk, &net);
	io_metrics(f, d->cfg.name, &blk, &net);
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
