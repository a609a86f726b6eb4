/* SPDX-License-Identifier: Apache-2.0 */
/* The HVM kind of domain (struct domain_ops): an unmodified kernel on a small PC. */
#include "capsule/domain.h"

static int hvm_init(struct domain *d)
{
	bool virtio_console = false;

	/* The serial port reads the console's input unless a virtio console does. */
	for (unsigned i = 0; i < d->nr_devices; i++)
		virtio_console |= d->devices[i].kind == device_kind_by_name("virtio-console");
	struct hvm_options opt = {
		.acpi = d->cfg.acpi_full ? HVM_ACPI_FULL : HVM_ACPI_REDUCED,
		.virtio_pci = d->cfg.virtio_pci,
		.cpu = d->cfg.cpu,
	};

	return hvm_domain_init(&d->k.hvm, d->vm, &opt, d->cfg.console,
			       virtio_console ? -1 : d->cfg.console_in);
}

static struct virtio_dev *hvm_add(struct domain *d, const struct virtio_dev_ops *ops, void *priv)
{
	return hvm_add_device(&d->k.hvm, ops, priv);
}

static int hvm_build(struct domain *d)
{
	struct hvm_config cfg = {
		.kernel = d->cfg.image,
		.initrd = d->cfg.initrd,
		.kernel_fd = d->image_fd,
		.kernel_image = d->image,
		.kernel_size = d->image_size,
		.initrd_fd = d->initrd_fd,
		.cmdline = d->cfg.cmdline,
		.no_pvh = d->cfg.no_pvh,
		.measurement = d->measure.value,
	};

	return hvm_domain_build(&d->k.hvm, &cfg);
}

static int hvm_start(struct domain *d)
{
	return hvm_domain_start(&d->k.hvm);
}

static void hvm_destroy(struct domain *d)
{
	hvm_domain_destroy(&d->k.hvm);
}

const struct domain_ops hvm_domain_ops = {
	.name = "hvm",
	.platform = true,
	.mem_align = 4096,
	.hole_start = HVM_HOLE_START, /* the PCI hole: RAM past 3 GiB goes above 4 GiB */
	.hole_end = HVM_HOLE_END,
	.init = hvm_init,
	.add_device = hvm_add,
	.build = hvm_build,
	.start = hvm_start,
	.destroy = hvm_destroy,
};
