/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-mmio transport, version 2: registers onto the device core (device.c). Register
 * accesses arrive from vCPU threads as MMIO exits; queue notifications arrive on eventfds
 * that KVM signals itself (KVM_IOEVENTFD), so a kick costs the guest no exit to user space,
 * and the device thread serves them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "capsule/log.h"
#include "capsule/sandbox.h"
#include "capsule/virtio.h"
#include "capsule/vm.h"
#include "transport.h"

#define VENDOR_ID 0x53504143u /* "CAPS" */

static uint32_t reg_read(struct virtio_dev *d, uint64_t off)
{
	unsigned q = d->queue_sel;
	bool qok = q < d->ops->num_queues;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return d->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VENDOR_ID;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return d->dev_features_sel > 1 ? 0
					       : (uint32_t)(virtio_offered(d) >> (32 * d->dev_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return qok ? VQ_MAX_SIZE : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return qok && d->vq[q].ready;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return d->int_status;
	case VIRTIO_MMIO_STATUS:
		return d->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return d->config_gen;
	default:
		return 0;
	}
}

static void set_half(uint64_t *v, bool high, uint32_t val)
{
	*v = high ? (*v & 0xffffffffull) | ((uint64_t)val << 32)
		  : (*v & ~0xffffffffull) | val;
}

static void reg_write(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	unsigned q = d->queue_sel;
	bool qok = q < d->ops->num_queues;
	/* Queue layout may only change while the queue is not live. */
	bool qcfg_ok = qok && !d->vq[q].ready;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		d->dev_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (d->drv_features_sel <= 1 && !(d->status & VIRTIO_STATUS_FEATURES_OK))
			set_half(&d->driver_features, d->drv_features_sel == 1, v);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		d->drv_features_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		d->queue_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (qcfg_ok)
			d->qcfg[q].num = v > 0xffff ? 0 : (uint16_t)v; /* vq_init checks it */
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (qok)
			virtio_queue_ready(d, q, v != 0);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* Only reached without ioeventfd; otherwise KVM signals the eventfd itself. */
		if (v < d->ops->num_queues) {
			uint64_t one = 1;

			if (write(d->kick_fd[v], &one, sizeof(one)) < 0)
				log_warn("%s: cannot kick queue %u", d->ops->name, v);
		}
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		d->int_status &= ~v;
		break;
	case VIRTIO_MMIO_STATUS:
		virtio_set_status(d, v);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (qcfg_ok)
			set_half(&d->qcfg[q].desc, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		if (qcfg_ok)
			set_half(&d->qcfg[q].avail, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		if (qcfg_ok)
			set_half(&d->qcfg[q].used, off == VIRTIO_MMIO_QUEUE_USED_HIGH, v);
		break;
	default: /* read-only or unknown registers: ignored, as the spec asks */
		break;
	}
}

void virtio_mmio_access(struct virtio_dev *d, uint64_t off, uint8_t *data, uint32_t len,
			bool is_write)
{
	pthread_mutex_lock(&d->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		uint64_t c = off - VIRTIO_MMIO_CONFIG;
		bool inside = c < d->ops->config_size && len <= d->ops->config_size - c;

		if (is_write && inside) {
			memcpy(d->config + c, data, len);
			if (d->ops->config_write)
				d->ops->config_write(d, (uint32_t)c, len);
		} else if (!is_write) {
			if (inside)
				memcpy(data, d->config + c, len);
			else
				memset(data, 0, len);
		}
	} else if (len != 4 || off % 4) {
		/* Registers are 32-bit: other widths read as zero and do nothing. */
		if (!is_write)
			memset(data, 0, len);
	} else if (is_write) {
		uint32_t v;

		memcpy(&v, data, 4);
		reg_write(d, off, v);
	} else {
		uint32_t v = reg_read(d, off);

		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&d->lock);
}

static enum exit_action mmio_handler(struct vcpu *v, void *opaque, uint64_t addr, uint8_t *data,
				     uint32_t len, bool is_write)
{
	struct virtio_dev *d = opaque;

	(void)v;
	virtio_mmio_access(d, addr - d->base, data, len, is_write);
	return EXIT_CONTINUE;
}

/* Wire (or, with KVM_IOEVENTFD_FLAG_DEASSIGN, unwire) queue q's QueueNotify to its fd. */
static int ioeventfd(struct virtio_dev *d, unsigned q, uint32_t flags)
{
	struct kvm_ioeventfd io = {
		.datamatch = q,
		.addr = d->base + VIRTIO_MMIO_QUEUE_NOTIFY,
		.len = 4,
		.fd = d->kick_fd[q],
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH | flags,
	};

	return ioctl(d->vm->fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

static void wire_ioeventfds(struct virtio_dev *d)
{
	d->ioeventfd = d->vm->fd >= 0;
	for (unsigned i = 0; i < d->ops->num_queues && d->ioeventfd; i++) {
		int err = ioeventfd(d, i, 0);

		if (err) {
			log_info("%s: no ioeventfd (%s); kicks go through the VMM",
				 d->ops->name, strerror(-err));
			while (i-- > 0) /* all queues one way or the other */
				ioeventfd(d, i, KVM_IOEVENTFD_FLAG_DEASSIGN);
			d->ioeventfd = false;
		}
	}
}

int virtio_mmio_add(struct virtio_dev *d, struct vm *vm, const struct virtio_dev_ops *ops,
		    void *priv, uint64_t base, struct irq_sink irq)
{
	int err;

	memset(d, 0, sizeof(*d));
	d->ops = ops;
	d->priv = priv;
	d->vm = vm;
	d->mem = &vm->mem;
	d->base = base;
	d->irq = irq;
	d->loop.epoll_fd = d->loop.stop_fd = -1;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		d->kick_fd[i] = -1;
	if (ops->num_queues == 0 || ops->num_queues > VIRTIO_MAX_QUEUES ||
	    ops->config_size > VIRTIO_CONFIG_MAX)
		return -EINVAL;
	pthread_mutex_init(&d->lock, NULL);
	for (unsigned i = 0; i < ops->num_queues; i++) {
		d->kick_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->kick_fd[i] < 0)
			goto fail_errno;
	}
	err = virtio_loop_setup(d);
	if (err)
		goto fail;
	err = bus_register(&vm->mmio, base, VIRTIO_MMIO_SIZE, mmio_handler, d, ops->name);
	if (err)
		goto fail;
	d->on_bus = true;
	wire_ioeventfds(d);
	err = -pthread_create(&d->thread, NULL, virtio_device_thread, d);
	if (err)
		goto fail;
	d->thread_started = true;
	return 0;
fail_errno:
	err = -errno;
fail:
	virtio_mmio_remove(d);
	return err;
}

/*
 * Take the device off the VM: no thread, no kick wiring, no bus range, no fds; its queues
 * are forgotten. Only while no vCPU can reach it (the domain paused or its vCPUs joined):
 * the bus is read without a lock on the exit path.
 */
void virtio_mmio_remove(struct virtio_dev *d)
{
	if (d->thread_started) {
		loop_stop(&d->loop);
		pthread_join(d->thread, NULL);
		d->thread_started = false;
	}
	if (d->ops) {
		pthread_mutex_lock(&d->lock);
		if (d->ops->reset)
			d->ops->reset(d);
		pthread_mutex_unlock(&d->lock);
	}
	for (unsigned i = 0; d->ioeventfd && i < d->ops->num_queues; i++)
		ioeventfd(d, i, KVM_IOEVENTFD_FLAG_DEASSIGN);
	d->ioeventfd = false;
	if (d->on_bus)
		bus_unregister(&d->vm->mmio, d->base);
	d->on_bus = false;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		if (d->kick_fd[i] >= 0)
			close(d->kick_fd[i]);
		d->kick_fd[i] = -1;
	}
	loop_destroy(&d->loop);
}
