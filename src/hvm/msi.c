/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MSI and MSI-X of an HVM domain's PCI functions, through KVM's GSI routing: each vector
 * is a GSI above the IOAPIC's (HVM_MSI_GSI + i) with an irqfd, so a device thread raises it
 * with one write, and KVM delivers the message the guest programmed. KVM_SET_GSI_ROUTING
 * replaces the whole table, so it is rebuilt from KVM's default routes (the PICs and the
 * IOAPIC's 24 pins) and every vector that is on, whenever one changes (the guest
 * programming its table: rare, and never on the I/O path).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "capsule/hvm.h"
#include "capsule/log.h"

#define IOAPIC_PINS 24
#define ROUTES (16 * 2 + (IOAPIC_PINS - 16) + HVM_MSI_MAX)

int hvm_msi_alloc(struct hvm_domain *h, unsigned count, unsigned *first)
{
	struct hvm_msi *m = &h->msi;

	if (m->nr + count > HVM_MSI_MAX) {
		log_err("out of MSI vectors (%u in all)", HVM_MSI_MAX);
		return -ENOSPC;
	}
	for (unsigned i = m->nr; i < m->nr + count; i++) {
		struct kvm_irqfd irqfd;

		m->v[i].fd = eventfd(0, EFD_CLOEXEC);
		irqfd = (struct kvm_irqfd){.fd = (uint32_t)m->v[i].fd, .gsi = HVM_MSI_GSI + i};
		if (m->v[i].fd < 0 || (h->vm->fd >= 0 && ioctl(h->vm->fd, KVM_IRQFD, &irqfd) < 0)) {
			int err = -errno;

			log_err("cannot wire an MSI vector (irqfd): %s", strerror(-err));
			if (m->v[i].fd >= 0)
				close(m->v[i].fd);
			m->v[i].fd = -1;
			return err;
		}
	}
	*first = m->nr;
	m->nr += count;
	return 0;
}

static void route_irqchip(struct kvm_irq_routing_entry *e, uint32_t gsi, uint32_t chip,
			  uint32_t pin)
{
	*e = (struct kvm_irq_routing_entry){.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP};
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

/* The table KVM had from KVM_CREATE_IRQCHIP, plus the vectors that are on. */
static int commit(struct hvm_domain *h)
{
	struct hvm_msi *m = &h->msi;
	struct kvm_irq_routing *r;
	unsigned n = 0;
	int err = 0;

	r = calloc(1, sizeof(*r) + ROUTES * sizeof(r->entries[0]));
	if (!r)
		return -ENOMEM;
	for (uint32_t gsi = 0; gsi < IOAPIC_PINS; gsi++) {
		if (gsi < 16)
			route_irqchip(&r->entries[n++], gsi,
				      gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, gsi % 8);
		route_irqchip(&r->entries[n++], gsi, KVM_IRQCHIP_IOAPIC, gsi);
	}
	for (unsigned i = 0; i < m->nr; i++) {
		struct kvm_irq_routing_entry *e = &r->entries[n];

		if (!m->v[i].on)
			continue;
		*e = (struct kvm_irq_routing_entry){.gsi = HVM_MSI_GSI + i, .type = KVM_IRQ_ROUTING_MSI};
		e->u.msi.address_lo = (uint32_t)m->v[i].addr;
		e->u.msi.address_hi = (uint32_t)(m->v[i].addr >> 32);
		e->u.msi.data = m->v[i].data;
		n++;
	}
	r->nr = n;
	if (h->vm->fd >= 0 && ioctl(h->vm->fd, KVM_SET_GSI_ROUTING, r) < 0) {
		err = -errno;
		log_warn("cannot set the interrupt routing (%u routes): %s", n, strerror(-err));
	}
	free(r);
	return err;
}

int hvm_msi_route(struct hvm_domain *h, unsigned i, uint64_t addr, uint32_t data, bool on)
{
	struct hvm_msi *m = &h->msi;
	int err = 0;

	pthread_mutex_lock(&m->lock);
	if (i < m->nr && (m->v[i].on != on || m->v[i].addr != addr || m->v[i].data != data)) {
		m->v[i].on = on, m->v[i].addr = addr, m->v[i].data = data;
		err = commit(h);
	}
	pthread_mutex_unlock(&m->lock);
	return err;
}

void hvm_msi_fire(struct hvm_domain *h, unsigned i)
{
	uint64_t one = 1;

	if (i < h->msi.nr && write(h->msi.v[i].fd, &one, sizeof(one)) < 0)
		log_debug("MSI vector %u: irqfd write failed", i);
}

void hvm_msi_init(struct hvm_domain *h)
{
	memset(&h->msi, 0, sizeof(h->msi));
	pthread_mutex_init(&h->msi.lock, NULL);
}

void hvm_msi_destroy(struct hvm_domain *h)
{
	for (unsigned i = 0; i < h->msi.nr; i++)
		if (h->msi.v[i].fd >= 0)
			close(h->msi.v[i].fd);
	h->msi.nr = 0;
	pthread_mutex_destroy(&h->msi.lock);
}
