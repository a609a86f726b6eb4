/* SPDX-License-Identifier: Apache-2.0 */
/* The driver side of virtio-mmio and split virtqueues, for every guest flavour. */
#include "virtio.h"

uint32_t vdev_read(struct vdev *d, uint32_t off)
{
	return *(volatile uint32_t *)(d->base + off);
}

void vdev_write(struct vdev *d, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(d->base + off) = v;
}

int vdev_at(struct vdev *d, uint64_t base, int port, uint32_t type)
{
	d->base = (volatile uint8_t *)(uintptr_t)base;
	d->type = type;
	d->port = port;
	return vdev_read(d, VIRTIO_MMIO_MAGIC_VALUE) == VIRTIO_MMIO_MAGIC &&
			       vdev_read(d, VIRTIO_MMIO_VERSION) == 2 &&
			       vdev_read(d, VIRTIO_MMIO_DEVICE_ID) == type
		       ? 0
		       : CAP_EINVAL;
}

int vdev_begin(struct vdev *d, uint64_t wanted)
{
	uint64_t offered;

	vdev_write(d, VIRTIO_MMIO_STATUS, 0);
	vdev_write(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	vdev_write(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vdev_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	offered = (uint64_t)vdev_read(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	vdev_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	offered |= vdev_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
	d->features = offered & (wanted | (1ull << VIRTIO_F_VERSION_1));
	vdev_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vdev_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(d->features >> 32));
	vdev_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vdev_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)d->features);
	vdev_write(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
						  VIRTIO_STATUS_FEATURES_OK);
	if (!(vdev_read(d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK))
		return CAP_EINVAL;
	return 0;
}

int vq_setup(struct vdev *d, struct vq *q, unsigned index, uint16_t size)
{
	uint32_t max;
	uint8_t *mem;
	uint64_t da, aa, ua;

	vdev_write(d, VIRTIO_MMIO_QUEUE_SEL, index);
	max = vdev_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (max == 0)
		return CAP_ENOENT;
	if (size > max)
		size = (uint16_t)max;
	mem = memalign(4096, 2 * 4096 + VIRTQ_DESC_BYTES(size) + VIRTQ_AVAIL_BYTES(size) +
				     VIRTQ_USED_BYTES(size));
	q->cookie = calloc(size, sizeof(void *));
	q->chain_len = calloc(size, sizeof(uint16_t));
	if (!mem || !q->cookie || !q->chain_len)
		return CAP_ENOSPC;
	da = (uint64_t)(uintptr_t)mem;
	aa = da + VIRTQ_DESC_BYTES(size);
	ua = (aa + VIRTQ_AVAIL_BYTES(size) + 4095) & ~4095ull;
	memset(mem, 0, ua + VIRTQ_USED_BYTES(size) - da);
	q->dev = d;
	q->index = index;
	q->size = size;
	q->desc = (struct virtq_desc *)(uintptr_t)da;
	q->avail = (struct virtq_avail *)(uintptr_t)aa;
	q->used = (struct virtq_used *)(uintptr_t)ua;
	q->event_idx = d->features & (1ull << VIRTIO_F_EVENT_IDX);
	q->free_head = 0;
	q->num_free = size;
	q->last_used = q->avail_idx = q->kicked_idx = 0;
	for (uint16_t i = 0; i < size; i++)
		q->desc[i].next = (uint16_t)(i + 1);
	vdev_write(d, VIRTIO_MMIO_QUEUE_NUM, size);
	vdev_write(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)da);
	vdev_write(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(da >> 32));
	vdev_write(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)aa);
	vdev_write(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(aa >> 32));
	vdev_write(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)ua);
	vdev_write(d, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(ua >> 32));
	vdev_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	return vdev_read(d, VIRTIO_MMIO_QUEUE_READY) ? 0 : CAP_EINVAL;
}

void vdev_ready(struct vdev *d)
{
	vdev_write(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
						  VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

bool vdev_needs_reset(struct vdev *d)
{
	return vdev_read(d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET;
}

int vq_add(struct vq *q, const struct vbuf *bufs, unsigned n, void *cookie)
{
	uint16_t head = q->free_head, i = head, prev = 0;

	if (n == 0 || n > q->num_free)
		return CAP_ENOSPC;
	for (unsigned k = 0; k < n; k++) {
		struct virtq_desc *d = &q->desc[i];

		d->addr = (uint64_t)(uintptr_t)bufs[k].addr;
		d->len = bufs[k].len;
		d->flags = (uint16_t)((bufs[k].write ? VIRTQ_DESC_F_WRITE : 0) |
				      (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		prev = i;
		i = d->next;
	}
	q->free_head = q->desc[prev].next;
	q->num_free = (uint16_t)(q->num_free - n);
	q->cookie[head] = cookie;
	q->chain_len[head] = (uint16_t)n;
	q->avail->ring[q->avail_idx % q->size] = head;
	q->avail_idx++;
	/* Descriptors and ring entry before the index that publishes them. */
	__atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_RELEASE);
	return head;
}

void vq_kick(struct vq *q)
{
	uint16_t old = q->kicked_idx, now = q->avail_idx;
	bool notify;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (q->event_idx)
		notify = virtq_need_event(*virtq_avail_event(q->used, q->size), now, old);
	else
		notify = !(__atomic_load_n(&q->used->flags, __ATOMIC_RELAXED) &
			   VIRTQ_USED_F_NO_NOTIFY);
	q->kicked_idx = now;
	if (notify && old != now)
		vdev_write(q->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

void *vq_poll(struct vq *q, uint32_t *len)
{
	struct virtq_used_elem e;
	uint16_t head, n;
	void *cookie;

	if (__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE) == q->last_used)
		return NULL;
	e = q->used->ring[q->last_used % q->size];
	q->last_used++;
	if (q->event_idx && !q->no_irq) /* interrupt me at the next completion */
		*virtq_used_event(q->avail, q->size) = q->last_used;
	head = (uint16_t)(e.id % q->size);
	cookie = q->cookie[head];
	n = q->chain_len[head];
	/* Return the chain's descriptors to the free list. */
	uint16_t last = head;
	for (uint16_t k = 1; k < n; k++)
		last = q->desc[last].next;
	q->desc[last].next = q->free_head;
	q->free_head = head;
	q->num_free = (uint16_t)(q->num_free + n);
	if (len)
		*len = e.len;
	return cookie;
}

void *vq_wait(struct vq *q, uint32_t *len, uint64_t deadline_ns)
{
	for (;;) {
		void *c = vq_poll(q, len);

		if (c)
			return c;
		if (q->event_idx)
			*virtq_used_event(q->avail, q->size) = q->last_used;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		c = vq_poll(q, len); /* the device may have finished meanwhile */
		if (c)
			return c;
		if (!vdev_wait(q->dev, deadline_ns)) /* the flavour's way to sleep */
			return NULL;
	}
}

/* virtio-rng: one buffer filled by the device. */
int vrng_read(struct vq *q, void *buf, uint32_t len)
{
	struct vbuf b = {buf, len, true};
	uint32_t got = 0;

	if (vq_add(q, &b, 1, buf) < 0)
		return CAP_ENOSPC;
	vq_kick(q);
	if (!vq_wait(q, &got, time_ns() + 5000000000ull))
		return CAP_EBUSY;
	return (int)got;
}
