/* SPDX-License-Identifier: Apache-2.0 */
/* An HVM domain: the virtual PC around an unmodified kernel. */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "capsule/hvm.h"
#include "capsule/log.h"

int hvm_acpi_parse(const char *name, enum hvm_acpi *acpi)
{
	if (!strcmp(name, "reduced"))
		*acpi = HVM_ACPI_REDUCED;
	else if (!strcmp(name, "full"))
		*acpi = HVM_ACPI_FULL;
	else
		return -1;
	return 0;
}

/* The guest-physical address width KVM offers (CPUID 0x80000008 EAX[7:0]); 36 if unsaid. */
static unsigned phys_bits(struct vm *vm)
{
	const struct kvm_cpuid2 *c = vm_supported_cpuid(vm);

	for (unsigned i = 0; c && i < c->nent; i++)
		if (c->entries[i].function == 0x80000008 && (c->entries[i].eax & 0xff) >= 32 &&
		    (c->entries[i].eax & 0xff) <= 52)
			return c->entries[i].eax & 0xff;
	return 36;
}

int hvm_domain_init(struct hvm_domain *h, struct vm *vm, const struct hvm_options *opt,
		    FILE *out, int in_fd)
{
	int err;

	memset(h, 0, sizeof(*h));
	h->vm = vm;
	h->acpi = opt->acpi;
	char why[160];

	const struct kvm_cpuid2 *sup = vm_supported_cpuid(vm);

	if (hvm_cpu_model_parse(opt->cpu, &h->cpu, why, sizeof(why)) ||
	    (sup && hvm_cpu_model_check(&h->cpu, sup, vm->nr_vcpus, why, sizeof(why)))) {
		log_err("%s", why);
		return -EINVAL;
	}
	vm->strict_io = false; /* kernels probe for hardware: absent ports read as all ones */
	if (vm->mem.size < (16ull << 20)) {
		log_err("an HVM domain needs at least 16 MiB of --mem");
		return -EINVAL;
	}
	if (vm->mem.size > (1ull << phys_bits(vm))) {
		log_err("--mem %llu puts RAM up to %llu MiB (past 3 GiB it is above the PCI hole, "
			"from 4 GiB), beyond the %u-bit guest-physical addresses of this host "
			"(%llu MiB)",
			(unsigned long long)((vm->mem.size - (vm->mem.hole_end - vm->mem.hole_start)) >> 20),
			(unsigned long long)(vm->mem.size >> 20), phys_bits(vm),
			(unsigned long long)((1ull << phys_bits(vm)) >> 20));
		return -EINVAL;
	}
	err = uart_init(&h->uart, vm, out, in_fd);
	rtc_init(&h->cmos);
	ged_init(&h->ged, vm);
	acpi_pm_init(&h->pm, vm, &h->cmos);
	pci_host_init(&h->pci, vm);
	h->pci.enabled = opt->virtio_pci;
	hvm_msi_init(h);
	/* The PC, one row a device: its descriptor and its state. */
	const struct {
		const struct platform_dev_ops *ops;
		void *dev;
	} pc[HVM_PLATFORM_DEVICES] = {
		{&uart_ops, &h->uart}, {&rtc_ops, &h->cmos}, {&i8042_ops, NULL},
		{&debug_exit_ops, NULL}, {&ged_ops, &h->ged}, {&acpi_sleep_ops, NULL},
		{&acpi_pm_ops, &h->pm}, {&pci_host_ops, &h->pci},
	};
	for (unsigned i = 0; !err && i < HVM_PLATFORM_DEVICES; i++)
		err = platform_add(&h->platform[i], vm, pc[i].ops, pc[i].dev);
	if (err)
		log_err("cannot set up the platform devices: %s", strerror(-err));
	return err;
}

/* Reduced: the DSDT's GED0._EVT reads the event and notifies PWRB (Linux's button driver).
 * Full: the fixed power button's status and the SCI (Linux's LNXPWRBN). */
int hvm_power_button(struct hvm_domain *h)
{
	if (h->acpi == HVM_ACPI_FULL)
		return acpi_pm_power_button(&h->pm);
	return ged_raise(&h->ged, GED_EVENT_POWER_BUTTON);
}

/* Completions arrive as an irqfd write: KVM pulses the GSI (edge-triggered). */
static void raise_irqfd(void *opaque)
{
	struct hvm_device *hd = opaque;
	uint64_t one = 1;

	if (write(hd->irqfd, &one, sizeof(one)) < 0)
		log_debug("irqfd write failed");
}

/* virtio-pci's interrupts: INTx as a level on the slot's GSI, MSI-X by the domain's routes. */
static void pci_intx(void *opaque, unsigned slot, bool level)
{
	struct hvm_device *hd = opaque;

	if (vm_irq_line(hd->h->vm, pci_intx_gsi(slot), level))
		log_debug("%s: cannot set INTx", hd->dev.ops->name);
}

static void pci_msi_route(void *opaque, unsigned v, uint64_t addr, uint32_t data, bool on)
{
	struct hvm_device *hd = opaque;

	hvm_msi_route(hd->h, hd->msi + v, addr, data, on);
}

static void pci_msi_fire(void *opaque, unsigned v)
{
	struct hvm_device *hd = opaque;

	hvm_msi_fire(hd->h, hd->msi + v);
}

static struct virtio_dev *add_pci_device(struct hvm_domain *h, struct hvm_device *hd,
					 const struct virtio_dev_ops *ops, void *priv)
{
	struct virtio_pci_irq irq = {hd, pci_intx, pci_msi_route, pci_msi_fire};
	int err;

	hd->pci = true;
	hd->h = h;
	hd->irqfd = -1;
	err = hvm_msi_alloc(h, VIRTIO_PCI_VECTORS, &hd->msi);
	if (!err)
		err = virtio_pci_add(&hd->vp, &hd->dev, h->vm, &h->pci, ops, priv, irq);
	if (err) {
		log_err("%s: cannot create the PCI device: %s", ops->name, strerror(-err));
		return NULL;
	}
	hd->gsi = pci_intx_gsi(hd->vp.fn.slot);
	h->nr_devices++;
	return &hd->dev;
}

struct virtio_pci *hvm_virtio_pci(struct hvm_domain *h, const struct virtio_dev *d)
{
	for (unsigned i = 0; i < h->nr_devices; i++)
		if (&h->devices[i].dev == d)
			return h->devices[i].pci ? &h->devices[i].vp : NULL;
	return NULL;
}

struct virtio_dev *hvm_add_device(struct hvm_domain *h, const struct virtio_dev_ops *ops,
				  void *priv)
{
	struct hvm_device *hd;
	struct kvm_irqfd irqfd;

	if (h->nr_devices == HVM_MAX_DEVICES) {
		log_err("%s: an HVM domain has at most %d devices", ops->name, HVM_MAX_DEVICES);
		return NULL;
	}
	hd = &h->devices[h->nr_devices];
	if (h->pci.enabled)
		return add_pci_device(h, hd, ops, priv);
	hd->gsi = hvm_device_gsi(h->acpi, h->nr_devices);
	hd->irqfd = eventfd(0, EFD_CLOEXEC);
	irqfd = (struct kvm_irqfd){.fd = (uint32_t)hd->irqfd, .gsi = hd->gsi};
	if (hd->irqfd < 0 || ioctl(h->vm->fd, KVM_IRQFD, &irqfd) < 0) {
		log_err("%s: cannot wire its interrupt (irqfd): %s", ops->name, strerror(errno));
		if (hd->irqfd >= 0)
			close(hd->irqfd);
		return NULL;
	}
	if (virtio_mmio_add(&hd->dev, h->vm, ops, priv,
			    HVM_VIRTIO_BASE + h->nr_devices * VIRTIO_MMIO_SIZE,
			    (struct irq_sink){raise_irqfd, hd})) {
		log_err("%s: cannot create the device", ops->name);
		close(hd->irqfd);
		return NULL;
	}
	h->nr_devices++;
	return &hd->dev;
}

int hvm_domain_build(struct hvm_domain *h, const struct hvm_config *cfg)
{
	int rc;

	hvm_build_e820(h);
	h->measurement = cfg->measurement;
	rc = acpi_build(h);
	if (rc)
		return rc;
	rc = hvm_kernel_load(h, cfg);
	if (rc)
		return rc;
	rc = hvm_cpu_model_load(h);
	if (rc)
		return rc;
	/* The other vCPUs start from reset and wait, inside KVM, for INIT and SIPI. */
	for (unsigned i = 1; i < h->vm->nr_vcpus; i++) {
		struct vcpu *v = &h->vm->vcpus[i];

		if (ioctl(v->fd, KVM_GET_SREGS, &v->init_sregs) < 0 ||
		    ioctl(v->fd, KVM_GET_REGS, &v->init_regs) < 0)
			return -errno;
	}
	return 0;
}

int hvm_domain_start(struct hvm_domain *h)
{
	for (unsigned i = 0; i < h->vm->nr_vcpus; i++) {
		int rc = vcpu_start(&h->vm->vcpus[i], NULL);

		if (rc) {
			log_err("cannot start vCPU %u: %s", i, strerror(-rc));
			return rc;
		}
	}
	for (unsigned i = 0; i < HVM_PLATFORM_DEVICES; i++) {
		int rc = platform_start(&h->platform[i]);

		if (rc)
			log_warn("%s: cannot start: %s", h->platform[i].ops->name, strerror(-rc));
	}
	return 0;
}

void hvm_domain_destroy(struct hvm_domain *h)
{
	if (!h->vm)
		return;
	vm_join_vcpus(h->vm);
	for (unsigned i = 0; i < h->nr_devices; i++) {
		if (h->devices[i].pci) {
			virtio_pci_remove(&h->devices[i].vp);
			continue;
		}
		virtio_mmio_remove(&h->devices[i].dev);
		close(h->devices[i].irqfd);
	}
	h->nr_devices = 0;
	for (unsigned i = 0; i < HVM_PLATFORM_DEVICES; i++)
		platform_remove(&h->platform[i], h->vm);
	uart_destroy(&h->uart);
	acpi_pm_destroy(&h->pm);
	pci_host_destroy(&h->pci);
	hvm_msi_destroy(h);
	h->vm = NULL;
}
