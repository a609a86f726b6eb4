/* SPDX-License-Identifier: Apache-2.0 */
/* virtio devices of a PV domain: placed in the window after RAM, interrupting by event. */
#include "capsule/log.h"
#include "capsule/pv.h"

uint64_t pv_mmio_base(const struct vm *vm)
{
	return vm->mem.size; /* RAM is a multiple of 2 MiB: the window is one large page */
}

static void raise_event(void *opaque)
{
	struct pv_device *pd = opaque;

	evtchn_send(pd->pv, pd->port);
}

struct virtio_dev *pv_add_device(struct pv_domain *pv, const struct virtio_dev_ops *ops,
				 void *priv)
{
	struct pv_device *pd;
	int64_t port;
	int err;

	if (pv->nr_devices == CAP_MAX_DEVICES) {
		log_err("%s: a domain has at most %u devices", ops->name, CAP_MAX_DEVICES);
		return NULL;
	}
	pd = &pv->devices[pv->nr_devices];
	port = evtchn_alloc(pv, 0, PV_PORT_VCPU);
	if (port <= 0) {
		log_err("%s: no event channel left", ops->name);
		return NULL;
	}
	pd->pv = pv;
	pd->port = (uint32_t)port;
	err = virtio_mmio_add(&pd->dev, pv->vm, ops, priv,
			      pv_mmio_base(pv->vm) + pv->nr_devices * VIRTIO_MMIO_SIZE,
			      (struct irq_sink){raise_event, pd});
	if (err) {
		log_err("%s: cannot create the device (error %d)", ops->name, err);
		evtchn_close(pv, (uint64_t)port);
		return NULL;
	}
	pv->nr_devices++;
	return &pd->dev;
}

void pv_remove_devices(struct pv_domain *pv)
{
	for (unsigned i = 0; i < pv->nr_devices; i++)
		virtio_mmio_remove(&pv->devices[i].dev);
	pv->nr_devices = 0;
}
