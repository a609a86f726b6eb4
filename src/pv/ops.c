/* SPDX-License-Identifier: Apache-2.0 */
/* The PV kind of domain (struct domain_ops): a Capsule PV image at CPL 3. */
#include <stdlib.h>

#include "capsule/domain.h"
#include "capsule/snapshot.h"

static int pv_init(struct domain *d)
{
	int rc = pv_domain_init(&d->k.pv, d->vm);

	d->k.pv.restoring = d->restore && !d->restore->used;
	return rc;
}

static struct virtio_dev *pv_add(struct domain *d, const struct virtio_dev_ops *ops, void *priv)
{
	return pv_add_device(&d->k.pv, ops, priv);
}

static int pv_build(struct domain *d)
{
	bool virtio_console = false;
	struct pv_config cfg = {
		.image_path = d->cfg.image,
		.image_fd = d->image_fd,
		.image = d->image,
		.image_size = d->image_size,
		.cmdline = d->cfg.cmdline,
		.stamp_first_hypercall = d->cfg.stamp_first_hypercall,
		.measurement = d->measure.value,
	};

	/* The console input ring reads the console's input unless a virtio console does. */
	for (unsigned i = 0; i < d->nr_devices; i++)
		virtio_console |= d->devices[i].kind == device_kind_by_name("virtio-console");
	cfg.console_in_fd = virtio_console ? -1 : d->cfg.console_in;

	return pv_domain_build(&d->k.pv, &cfg);
}

static int pv_start(struct domain *d)
{
	return pv_domain_start(&d->k.pv);
}

static void pv_destroy(struct domain *d)
{
	pv_domain_destroy(&d->k.pv);
}

static void pv_print_stats(struct domain *d, FILE *out)
{
	static const char *const names[CAP_HC_COUNT] = {
		"console_write", "yield", "block", "shutdown", "set_timer", "vcpu_up",
		"vcpu_down", "evtchn_alloc", "evtchn_bind_timer", "evtchn_send", "evtchn_mask",
		"evtchn_unmask", "evtchn_close", "time",
	};

	fprintf(out, "; hypercalls:");
	for (unsigned i = 0; i < CAP_HC_COUNT; i++)
		if (d->k.pv.hypercalls[i])
			fprintf(out, " %s=%llu", names[i], (unsigned long long)d->k.pv.hypercalls[i]);
}

const struct domain_ops pv_domain_ops = {
	.name = "pv",
	.mem_align = 2ull << 20, /* the page tables map RAM in 2 MiB pages */
	.init = pv_init,
	.add_device = pv_add,
	.build = pv_build,
	.start = pv_start,
	.destroy = pv_destroy,
	.print_stats = pv_print_stats,
};
