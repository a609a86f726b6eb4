/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-pci transport, modern only (virtio 1.x, 4.1): the device core (device.c)
 * behind a PCI function. Its configuration space has the virtio capabilities (common,
 * notify, ISR, device) and MSI-X, all in BAR 4 (VIRTIO_PCI_* offsets). Queue kicks land on
 * eventfds that KVM signals itself (KVM_IOEVENTFD at the notification area, moved with the
 * BAR), so a kick costs no exit to user space. Interrupts: with MSI-X on, each queue's and
 * the configuration's vector (routed by the platform through KVM's GSI routing, fired by
 * irqfd), masked vectors kept pending in the PBA; with it off, INTx, a level held while
 * the ISR has bits and dropped when the driver reads it.
 */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "capsule/log.h"
#include "capsule/virtio.h"
#include "capsule/vm.h"
#include "transport.h"

#define CAP_VENDOR 0x09
#define CAP_MSIX 0x11
#define CAP_COMMON 0x40
#define CAP_NOTIFY 0x50
#define CAP_ISR 0x64
#define CAP_DEVICE 0x74
#define CAP_MSIX_AT 0x84
#define MSIX_ENABLE 0x8000u
#define MSIX_MASKALL 0x4000u
#define CMD_INTX_OFF 0x0400u
#define NOTIFY_MULTIPLIER 4u

static void put(uint8_t *p, unsigned off, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const uint8_t *p, unsigned off, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[off + i] << (8 * i);
	return v;
}

/* PCI class of each device type, as QEMU has them. */
static uint32_t class_of(uint32_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_NET: return 0x020000;     /* Ethernet */
	case VIRTIO_ID_BLOCK: return 0x010000;   /* SCSI storage */
	case VIRTIO_ID_CONSOLE: return 0x078000; /* other communication */
	default: return 0x00ff00;
	}
}

static unsigned nr_vectors(const struct virtio_pci *vp)
{
	return vp->d->ops->num_queues + 1;
}

/* ---- interrupts ---- */

static void fire(struct virtio_pci *vp, unsigned v)
{
	if (v >= nr_vectors(vp))
		return;
	if (vp->msix_masked || (vp->msix[v].ctrl & 1))
		vp->pba |= 1u << v;
	else
		vp->irq.msi_fire(vp->irq.opaque, v);
}

static void update_intx(struct virtio_pci *vp)
{
	bool level = !vp->msix_on && !vp->intx_off && vp->d->int_status;

	if (level != vp->intx_level) {
		vp->intx_level = level;
		vp->irq.intx(vp->irq.opaque, vp->fn.slot, level);
	}
}

/* d->lock held: the device core raised an interrupt (d->irq_why, d->irq_queue). */
static void pci_raise(void *opaque)
{
	struct virtio_pci *vp = opaque;
	struct virtio_dev *d = vp->d;

	if (!vp->msix_on) {
		update_intx(vp);
		return;
	}
	if (d->irq_why & VIRTIO_MMIO_INT_VRING && d->irq_queue < d->ops->num_queues)
		fire(vp, vp->queue_vector[d->irq_queue]);
	if (d->irq_why & VIRTIO_MMIO_INT_CONFIG)
		fire(vp, vp->config_vector);
}

static void route(struct virtio_pci *vp, unsigned v)
{
	uint64_t addr = (uint64_t)vp->msix[v].addr_hi << 32 | vp->msix[v].addr_lo;

	vp->irq.msi_route(vp->irq.opaque, v, addr, vp->msix[v].data, vp->msix_on);
}

/* ---- BAR 4 ---- */

static void common_read(struct virtio_pci *vp, unsigned off, uint8_t *data, uint32_t len)
{
	struct virtio_dev *d = vp->d;
	unsigned q = d->queue_sel;
	bool qok = q < d->ops->num_queues;
	uint8_t r[0x40] = {0};

	put(r, 0x00, d->dev_features_sel, 4);
	put(r, 0x04, d->dev_features_sel > 1 ? 0 : virtio_offered(d) >> (32 * d->dev_features_sel), 4);
	put(r, 0x08, d->drv_features_sel, 4);
	put(r, 0x0c, d->drv_features_sel > 1 ? 0 : d->driver_features >> (32 * d->drv_features_sel), 4);
	put(r, 0x10, vp->config_vector, 2);
	put(r, 0x12, d->ops->num_queues, 2);
	r[0x14] = (uint8_t)d->status;
	r[0x15] = (uint8_t)d->config_gen;
	put(r, 0x16, q, 2);
	if (qok) {
		put(r, 0x18, d->qcfg[q].num ? d->qcfg[q].num : VQ_MAX_SIZE, 2);
		put(r, 0x1a, vp->queue_vector[q], 2);
		put(r, 0x1c, d->vq[q].ready, 2);
		put(r, 0x1e, q, 2); /* queue_notify_off: queue q at NOTIFY + q * multiplier */
		put(r, 0x20, d->qcfg[q].desc, 8);
		put(r, 0x28, d->qcfg[q].avail, 8);
		put(r, 0x30, d->qcfg[q].used, 8);
	}
	if (off + len <= sizeof(r))
		memcpy(data, r + off, len);
	else
		memset(data, 0, len);
}

static void set_part(uint64_t *v, unsigned off, unsigned len, uint64_t val)
{
	uint64_t mask = len == 8 ? ~0ull : ((1ull << (8 * len)) - 1) << (8 * off);

	*v = (*v & ~mask) | ((val << (8 * off)) & mask);
}

static void common_write(struct virtio_pci *vp, unsigned off, const uint8_t *data, uint32_t len)
{
	struct virtio_dev *d = vp->d;
	unsigned q = d->queue_sel;
	bool qok = q < d->ops->num_queues, qcfg_ok = qok && !d->vq[q].ready;
	uint64_t v = get(data, 0, len);

	if (off >= 0x20 && off + len <= 0x38 && (len == 4 || len == 8) && off % len == 0) {
		uint64_t *field = off < 0x28 ? &d->qcfg[q].desc : off < 0x30 ? &d->qcfg[q].avail
									   : &d->qcfg[q].used;
		if (qcfg_ok)
			set_part(field, off % 8, len, v);
		return;
	}
	switch (off << 4 | len) {
	case 0x00 << 4 | 4: d->dev_features_sel = (uint32_t)v; break;
	case 0x08 << 4 | 4: d->drv_features_sel = (uint32_t)v; break;
	case 0x0c << 4 | 4:
		if (d->drv_features_sel <= 1 && !(d->status & VIRTIO_STATUS_FEATURES_OK))
			set_part(&d->driver_features, 4 * d->drv_features_sel, 4, v);
		break;
	case 0x10 << 4 | 2:
		vp->config_vector = v < nr_vectors(vp) ? (uint16_t)v : VIRTIO_PCI_NO_VECTOR;
		break;
	case 0x14 << 4 | 1:
		virtio_set_status(d, (uint32_t)v);
		if (v == 0) { /* a reset: no vectors, no interrupt */
			vp->config_vector = VIRTIO_PCI_NO_VECTOR;
			for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
				vp->queue_vector[i] = VIRTIO_PCI_NO_VECTOR;
			update_intx(vp);
		}
		break;
	case 0x16 << 4 | 2: d->queue_sel = (uint32_t)v; break;
	case 0x18 << 4 | 2:
		if (qcfg_ok)
			d->qcfg[q].num = (uint16_t)v; /* vq_init checks it */
		break;
	case 0x1a << 4 | 2:
		if (qok)
			vp->queue_vector[q] = v < nr_vectors(vp) ? (uint16_t)v : VIRTIO_PCI_NO_VECTOR;
		break;
	case 0x1c << 4 | 2:
		if (qok && v == 1 && !d->vq[q].ready) {
			if (!d->qcfg[q].num)
				d->qcfg[q].num = VQ_MAX_SIZE;
			virtio_queue_ready(d, q, true);
		}
		break;
	default: /* read-only or unknown: ignored */
		break;
	}
}

static void msix_access(struct virtio_pci *vp, unsigned off, uint8_t *data, uint32_t len,
			bool is_write)
{
	unsigned v = off / 16, field = off % 16 / 4;
	uint32_t *word;

	if (len != 4 || off % 4 || v >= nr_vectors(vp)) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	word = field == 0 ? &vp->msix[v].addr_lo : field == 1 ? &vp->msix[v].addr_hi
			   : field == 2 ? &vp->msix[v].data : &vp->msix[v].ctrl;
	if (!is_write) {
		memcpy(data, word, 4);
		return;
	}
	memcpy(word, data, 4);
	if (field == 3) {
		vp->msix[v].ctrl &= 1; /* only the mask bit */
		if (!(vp->msix[v].ctrl & 1) && (vp->pba & (1u << v)) && !vp->msix_masked) {
			vp->pba &= ~(1u << v);
			vp->irq.msi_fire(vp->irq.opaque, v);
		}
	} else if (vp->msix_on) {
		route(vp, v);
	}
}

static void bar_io(struct pci_function *f, unsigned bar, uint64_t off, uint8_t *data,
		   uint32_t len, bool is_write)
{
	struct virtio_pci *vp = f->opaque;
	struct virtio_dev *d = vp->d;
	unsigned o = (unsigned)off;

	if (bar != VIRTIO_PCI_BAR)
		return;
	pthread_mutex_lock(&d->lock);
	if (o < VIRTIO_PCI_ISR) {
		if (is_write)
			common_write(vp, o, data, len);
		else
			common_read(vp, o, data, len);
	} else if (o < VIRTIO_PCI_DEVICE) {
		if (!is_write) { /* reading the ISR clears it (and drops INTx) */
			memset(data, 0, len);
			data[0] = o == VIRTIO_PCI_ISR ? (uint8_t)d->int_status : 0;
			if (o == VIRTIO_PCI_ISR)
				d->int_status = 0;
			update_intx(vp);
		}
	} else if (o < VIRTIO_PCI_NOTIFY) {
		uint32_t c = o - VIRTIO_PCI_DEVICE;
		bool inside = c < d->ops->config_size && len <= d->ops->config_size - c;

		if (is_write && inside) {
			memcpy(d->config + c, data, len);
			if (d->ops->config_write)
				d->ops->config_write(d, c, len);
		} else if (!is_write) {
			if (inside)
				memcpy(data, d->config + c, len);
			else
				memset(data, 0, len);
		}
	} else if (o < VIRTIO_PCI_MSIX_TABLE) {
		unsigned q = (o - VIRTIO_PCI_NOTIFY) / NOTIFY_MULTIPLIER;
		uint64_t one = 1;

		/* Only without an ioeventfd there (or another width): KVM signals it otherwise. */
		if (is_write && q < d->ops->num_queues && write(d->kick_fd[q], &one, 8) < 0)
			log_warn("%s: cannot kick queue %u", d->ops->name, q);
		else if (!is_write)
			memset(data, 0, len);
	} else if (o < VIRTIO_PCI_MSIX_PBA) {
		msix_access(vp, o - VIRTIO_PCI_MSIX_TABLE, data, len, is_write);
	} else if (!is_write) {
		memset(data, 0, len);
		if (o == VIRTIO_PCI_MSIX_PBA && len >= 4)
			memcpy(data, &vp->pba, 4);
	}
	pthread_mutex_unlock(&d->lock);
}

/* ---- configuration space ---- */

/* Host lock held: the MSI-X enable and mask bits, and INTx disable, as the driver sets them. */
static void config_write(struct pci_function *f, unsigned off, unsigned len)
{
	struct virtio_pci *vp = f->opaque;
	struct virtio_dev *d = vp->d;
	uint16_t ctrl = (uint16_t)get(f->cfg, CAP_MSIX_AT + 2, 2);
	bool on = ctrl & MSIX_ENABLE;

	(void)off, (void)len;
	pthread_mutex_lock(&d->lock);
	vp->intx_off = get(f->cfg, 0x04, 2) & CMD_INTX_OFF;
	vp->msix_masked = ctrl & MSIX_MASKALL;
	if (on != vp->msix_on) {
		vp->msix_on = on;
		for (unsigned v = 0; v < nr_vectors(vp); v++)
			route(vp, v);
	}
	for (unsigned v = 0; v < nr_vectors(vp) && !vp->msix_masked; v++)
		if ((vp->pba & (1u << v)) && !(vp->msix[v].ctrl & 1)) {
			vp->pba &= ~(1u << v);
			vp->irq.msi_fire(vp->irq.opaque, v);
		}
	update_intx(vp);
	pthread_mutex_unlock(&d->lock);
}

/* Wire (or unwire) queue q's notification address to its kick eventfd. */
static int ioeventfd(struct virtio_pci *vp, unsigned q, uint64_t base, uint32_t flags)
{
	struct kvm_ioeventfd io = {
		.addr = base + VIRTIO_PCI_NOTIFY + q * NOTIFY_MULTIPLIER,
		.len = 2, /* the driver writes the queue's index, 16 bits */
		.fd = vp->d->kick_fd[q],
		.flags = flags,
	};

	return ioctl(vp->d->vm->fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

static void wire(struct virtio_pci *vp, uint64_t base, uint32_t flags)
{
	for (unsigned q = 0; base && vp->d->vm->fd >= 0 && q < vp->d->ops->num_queues; q++) {
		int err = ioeventfd(vp, q, base, flags);

		if (err && !flags)
			log_info("%s: no ioeventfd for queue %u (%s); its kicks go through the VMM",
				 vp->d->ops->name, q, strerror(-err));
	}
}

static void bar_moved(struct pci_function *f, unsigned bar, uint64_t addr)
{
	struct virtio_pci *vp = f->opaque;

	if (bar != VIRTIO_PCI_BAR)
		return;
	wire(vp, vp->notify_base, KVM_IOEVENTFD_FLAG_DEASSIGN);
	vp->notify_base = addr;
	vp->d->base = addr;
	wire(vp, addr, 0);
}

static const struct pci_function_ops virtio_pci_fn_ops = {
	.bar_io = bar_io,
	.config_write = config_write,
	.bar_moved = bar_moved,
};

/* A virtio capability: type, BAR 4, offset, length (16 bytes, the notify one 20). */
static void vcap(uint8_t *cfg, unsigned at, unsigned next, uint8_t type, uint32_t offset,
		 uint32_t length)
{
	cfg[at] = CAP_VENDOR;
	cfg[at + 1] = (uint8_t)next;
	cfg[at + 2] = type == 2 ? 20 : 16;
	cfg[at + 3] = type;
	cfg[at + 4] = VIRTIO_PCI_BAR;
	put(cfg, at + 8, offset, 4);
	put(cfg, at + 12, length, 4);
}

static void build_config(struct virtio_pci *vp)
{
	const struct virtio_dev_ops *ops = vp->d->ops;
	struct pci_function *f = &vp->fn;

	/* Non-transitional: device 0x1040 + type, revision 1, a subsystem ID of 0x40 or more. */
	pci_function_init(f, 0x1af4, (uint16_t)(0x1040 + ops->device_id),
			  class_of(ops->device_id) << 8 | 1, 0x1af4, 0x1100);
	pci_function_bar(f, VIRTIO_PCI_BAR, VIRTIO_PCI_BAR_SIZE, true);
	f->cfg[0x06] |= 0x10; /* a capability list */
	f->cfg[0x34] = CAP_COMMON;
	vcap(f->cfg, CAP_COMMON, CAP_NOTIFY, 1, VIRTIO_PCI_COMMON, 0x38);
	vcap(f->cfg, CAP_NOTIFY, CAP_ISR, 2, VIRTIO_PCI_NOTIFY, NOTIFY_MULTIPLIER * ops->num_queues);
	put(f->cfg, CAP_NOTIFY + 16, NOTIFY_MULTIPLIER, 4);
	vcap(f->cfg, CAP_ISR, CAP_DEVICE, 3, VIRTIO_PCI_ISR, 1);
	vcap(f->cfg, CAP_DEVICE, CAP_MSIX_AT, 4, VIRTIO_PCI_DEVICE,
	     ops->config_size ? ops->config_size : 4);
	f->cfg[CAP_MSIX_AT] = CAP_MSIX;
	put(f->cfg, CAP_MSIX_AT + 2, nr_vectors(vp) - 1, 2);
	put(f->cfg, CAP_MSIX_AT + 4, VIRTIO_PCI_MSIX_TABLE | VIRTIO_PCI_BAR, 4);
	put(f->cfg, CAP_MSIX_AT + 8, VIRTIO_PCI_MSIX_PBA | VIRTIO_PCI_BAR, 4);
	f->wmask[CAP_MSIX_AT + 3] = (MSIX_ENABLE | MSIX_MASKALL) >> 8;
	f->ops = &virtio_pci_fn_ops;
	f->opaque = vp;
}

int virtio_pci_add(struct virtio_pci *vp, struct virtio_dev *d, struct vm *vm,
		   struct pci_host *host, const struct virtio_dev_ops *ops, void *priv,
		   struct virtio_pci_irq irq)
{
	int err, slot;

	memset(vp, 0, sizeof(*vp));
	memset(d, 0, sizeof(*d));
	vp->d = d;
	vp->host = host;
	vp->irq = irq;
	vp->config_vector = VIRTIO_PCI_NO_VECTOR;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vp->queue_vector[i] = VIRTIO_PCI_NO_VECTOR;
	for (unsigned v = 0; v < VIRTIO_PCI_VECTORS; v++)
		vp->msix[v].ctrl = 1; /* masked until the driver says */
	d->ops = ops;
	d->priv = priv;
	d->vm = vm;
	d->mem = &vm->mem;
	d->irq = (struct irq_sink){pci_raise, vp};
	d->loop.epoll_fd = d->loop.stop_fd = -1;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		d->kick_fd[i] = -1;
	if (ops->num_queues == 0 || ops->num_queues > VIRTIO_MAX_QUEUES ||
	    ops->config_size > VIRTIO_CONFIG_MAX)
		return -EINVAL;
	pthread_mutex_init(&d->lock, NULL);
	for (unsigned i = 0; i < ops->num_queues; i++) {
		d->kick_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->kick_fd[i] < 0) {
			err = -errno;
			goto fail;
		}
	}
	err = virtio_loop_setup(d);
	if (err)
		goto fail;
	build_config(vp);
	slot = pci_add(host, &vp->fn); /* assigns BAR 4: bar_moved wires the kicks */
	if (slot < 0) {
		err = slot;
		goto fail;
	}
	vp->added = true;
	err = -pthread_create(&d->thread, NULL, virtio_device_thread, d);
	if (err)
		goto fail;
	d->thread_started = true;
	return 0;
fail:
	virtio_pci_remove(vp);
	return err;
}

void virtio_pci_remove(struct virtio_pci *vp)
{
	struct virtio_dev *d = vp->d;

	if (!d)
		return;
	if (d->thread_started) {
		loop_stop(&d->loop);
		pthread_join(d->thread, NULL);
		d->thread_started = false;
	}
	if (d->ops && d->ops->reset) {
		pthread_mutex_lock(&d->lock);
		d->ops->reset(d);
		pthread_mutex_unlock(&d->lock);
	}
	if (vp->added) {
		pci_remove(vp->host, &vp->fn);
		wire(vp, vp->notify_base, KVM_IOEVENTFD_FLAG_DEASSIGN);
		vp->notify_base = 0;
		vp->added = false;
	}
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		if (d->kick_fd[i] >= 0)
			close(d->kick_fd[i]);
		d->kick_fd[i] = -1;
	}
	loop_destroy(&d->loop);
}

/* ---- snapshots ---- */

void virtio_pci_save(struct virtio_pci *vp, struct virtio_pci_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&vp->host->lock);
	memcpy(st->cfg, vp->fn.cfg, sizeof(st->cfg));
	pthread_mutex_unlock(&vp->host->lock);
	st->slot = vp->fn.slot;
	pthread_mutex_lock(&vp->d->lock);
	st->config_vector = vp->config_vector;
	memcpy(st->queue_vector, vp->queue_vector, sizeof(st->queue_vector));
	memcpy(st->msix, vp->msix, sizeof(st->msix));
	st->pba = vp->pba;
	pthread_mutex_unlock(&vp->d->lock);
}

static bool vector_ok(const struct virtio_pci *vp, uint16_t v)
{
	return v == VIRTIO_PCI_NO_VECTOR || v < nr_vectors(vp);
}

static const char *check_state(const struct virtio_pci *vp, const struct virtio_pci_state *st)
{
	unsigned nr = nr_vectors(vp);

	if (st->slot != vp->fn.slot)
		return "the state is of a device in another PCI slot";
	if (!vector_ok(vp, st->config_vector))
		return "the state's configuration vector is not one of the device's";
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (q < vp->d->ops->num_queues ? !vector_ok(vp, st->queue_vector[q])
					       : st->queue_vector[q] != VIRTIO_PCI_NO_VECTOR)
			return "the state has a queue vector that is not one of the device's";
	for (unsigned v = 0; v < VIRTIO_PCI_VECTORS; v++)
		if (v < nr ? st->msix[v].ctrl & ~1u
			   : st->msix[v].addr_lo || st->msix[v].addr_hi || st->msix[v].data ||
				     st->msix[v].ctrl != 1)
			return "the state's MSI-X table has entries the device does not have";
	if (st->pba & ~((1u << nr) - 1))
		return "the state has pending bits for vectors the device does not have";
	return NULL;
}

int virtio_pci_restore(struct virtio_pci *vp, const struct virtio_pci_state *st,
		       const char **why)
{
	struct virtio_dev *d = vp->d;
	const char *bad = check_state(vp, st);
	uint16_t ctrl;
	int rc;

	if (bad) {
		*why = bad;
		return -EINVAL;
	}
	/* The last check; then the BARs move (bar_moved wires the kicks where they are). */
	rc = pci_function_load(vp->host, &vp->fn, st->cfg, why);
	if (rc)
		return rc;
	ctrl = (uint16_t)get(st->cfg, CAP_MSIX_AT + 2, 2);
	pthread_mutex_lock(&d->lock);
	vp->config_vector = st->config_vector;
	memcpy(vp->queue_vector, st->queue_vector, sizeof(vp->queue_vector));
	memcpy(vp->msix, st->msix, sizeof(vp->msix));
	vp->pba = st->pba;
	vp->msix_on = ctrl & MSIX_ENABLE;
	vp->msix_masked = ctrl & MSIX_MASKALL;
	vp->intx_off = get(st->cfg, 0x04, 2) & CMD_INTX_OFF;
	for (unsigned v = 0; v < nr_vectors(vp); v++)
		route(vp, v);
	vp->intx_level = false;
	update_intx(vp); /* up again if the restored ISR has bits and INTx is in use */
	pthread_mutex_unlock(&d->lock);
	return 0;
}
