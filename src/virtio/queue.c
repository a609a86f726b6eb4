/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The split virtqueue, device side. The guest owns the rings and may rewrite them at any
 * moment, so every descriptor is copied once before it is used, every address goes through
 * gmem_ptr, a chain is capped at the queue size (which also catches loops), and indirect
 * tables are checked the same way and may not nest.
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "capsule/virtio.h"

int vq_init(struct virtq *q, const struct guest_mem *m, uint16_t size, gpa_t desc, gpa_t avail,
	    gpa_t used, bool event_idx, bool indirect, const char **why)
{
	memset(q, 0, sizeof(*q));
	if (size == 0 || size > VQ_MAX_SIZE || (size & (size - 1))) {
		*why = "queue size is not a power of two up to the maximum";
		return -EINVAL;
	}
	if (desc % 16 || avail % 2 || used % 4) {
		*why = "queue rings are misaligned";
		return -EINVAL;
	}
	q->desc = gmem_ptr(m, desc, VIRTQ_DESC_BYTES(size));
	q->avail = gmem_ptr(m, avail, VIRTQ_AVAIL_BYTES(size));
	q->used = gmem_ptr(m, used, VIRTQ_USED_BYTES(size));
	if (!q->desc || !q->avail || !q->used) {
		*why = "queue rings lie outside guest memory (or in VMM-owned pages)";
		return -EINVAL;
	}
	q->size = size;
	q->event_idx = event_idx;
	q->indirect = indirect;
	q->ready = true;
	return 0;
}


bool vq_has_avail(const struct virtq *q)
{
	return __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE) != q->last_avail;
}

static int add_seg(struct vq_chain *c, const struct guest_mem *m, const struct virtq_desc *d,
		   bool *seen_write, const char **why)
{
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	struct vq_seg *s;

	if (c->nseg == VQ_MAX_SEGS) {
		*why = "descriptor chain has too many segments";
		return -EINVAL;
	}
	if (!write && *seen_write) {
		*why = "device-readable descriptor after a writable one";
		return -EINVAL;
	}
	*seen_write |= write;
	s = &c->seg[c->nseg];
	s->ptr = gmem_ptr(m, d->addr, d->len);
	if (!s->ptr) {
		*why = "descriptor points outside guest memory (or at VMM-owned pages)";
		return -EINVAL;
	}
	s->len = d->len;
	s->write = write;
	if (write)
		c->in_bytes += d->len;
	else
		c->out_bytes += d->len;
	c->nseg++;
	return 0;
}

static int walk_indirect(struct vq_chain *c, const struct guest_mem *m,
			 const struct virtq_desc *d, bool *seen_write, const char **why)
{
	const struct virtq_desc *table;
	unsigned n = d->len / 16, i = 0, count = 0;

	if (d->len == 0 || d->len % 16 || n > VQ_MAX_INDIRECT) {
		*why = "indirect table has a bad length";
		return -EINVAL;
	}
	table = gmem_ptr(m, d->addr, d->len);
	if (!table || d->addr % 8) {
		*why = "indirect table lies outside guest memory (or in VMM-owned pages)";
		return -EINVAL;
	}
	for (;;) {
		struct virtq_desc e;

		memcpy(&e, &table[i], sizeof(e)); /* once: the guest may rewrite it */
		if (e.flags & VIRTQ_DESC_F_INDIRECT) {
			*why = "nested indirect table";
			return -EINVAL;
		}
		if (add_seg(c, m, &e, seen_write, why))
			return -EINVAL;
		if (!(e.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = e.next;
		if (i >= n || ++count >= n) {
			*why = i >= n ? "indirect chain points past its table"
				      : "indirect chain loops";
			return -EINVAL;
		}
	}
}

int vq_pop(struct virtq *q, const struct guest_mem *m, struct vq_chain *c, const char **why)
{
	uint16_t avail_idx = __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);
	unsigned i, count = 0;
	bool seen_write = false;

	if (avail_idx == q->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail) > q->size) {
		*why = "available index moved by more than the queue size";
		return -EINVAL;
	}
	i = __atomic_load_n(&q->avail->ring[q->last_avail % q->size], __ATOMIC_RELAXED);
	if (i >= q->size) {
		*why = "available ring names a descriptor past the queue";
		return -EINVAL;
	}
	c->head = (uint16_t)i;
	c->nseg = 0;
	c->in_bytes = c->out_bytes = 0;
	for (;;) {
		struct virtq_desc d;

		memcpy(&d, &q->desc[i], sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!q->indirect || (d.flags & VIRTQ_DESC_F_NEXT)) {
				*why = "indirect descriptor not negotiated or chained";
				return -EINVAL;
			}
			if (walk_indirect(c, m, &d, &seen_write, why))
				return -EINVAL;
			break;
		}
		if (add_seg(c, m, &d, &seen_write, why))
			return -EINVAL;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		i = d.next;
		if (i >= q->size) {
			*why = "descriptor chain points past the queue";
			return -EINVAL;
		}
		if (++count >= q->size) { /* a chain longer than the queue has a loop */
			*why = "descriptor chain loops";
			return -EINVAL;
		}
	}
	q->last_avail++;
	return 1;
}

void vq_unpop(struct virtq *q, uint16_t n)
{
	q->last_avail -= n;
}

void vq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	struct virtq_used_elem *e = &q->used->ring[q->used_idx % q->size];

	e->id = head;
	e->len = len;
	q->used_idx++;
	/* The element must be visible before the index that publishes it. */
	__atomic_store_n(&q->used->idx, q->used_idx, __ATOMIC_RELEASE);
}

bool vq_need_interrupt(struct virtq *q)
{
	uint16_t old = q->signalled, now = q->used_idx;

	/* Order our used->idx store before reading the driver's suppression fields. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (old == now)
		return false;
	q->signalled = now;
	if (q->event_idx)
		return virtq_need_event(*virtq_used_event(q->avail, q->size), now, old);
	return !(__atomic_load_n(&q->avail->flags, __ATOMIC_RELAXED) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

bool vq_enable_notify(struct virtq *q)
{
	if (q->event_idx)
		*virtq_avail_event(q->used, q->size) = q->last_avail;
	else
		__atomic_store_n(&q->used->flags, 0, __ATOMIC_RELAXED);
	/* Publish before re-checking, or a buffer added meanwhile could go unnoticed. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_has_avail(q);
}

void vq_disable_notify(struct virtq *q)
{
	/* An event one behind what the driver has published: its next add does not pass it. */
	if (q->event_idx)
		*virtq_avail_event(q->used, q->size) = (uint16_t)(q->last_avail - 1);
	else
		__atomic_store_n(&q->used->flags, VIRTQ_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
}

bool vq_notify_on_add(struct virtq *q)
{
	uint16_t seen = __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);

	if (!q->event_idx) { /* such a driver notifies on every add while flags allow it */
		__atomic_store_n(&q->used->flags, 0, __ATOMIC_RELAXED);
		return false;
	}
	*virtq_avail_event(q->used, q->size) = seen;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE) != seen;
}

unsigned vq_iovecs(const struct vq_chain *c, bool write, uint64_t off, uint64_t len,
		   struct iovec *iov)
{
	unsigned n = 0;

	for (unsigned i = 0; i < c->nseg && len; i++) {
		const struct vq_seg *s = &c->seg[i];
		uint64_t take;

		if (s->write != write)
			continue;
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		take = s->len - off < len ? s->len - off : len;
		iov[n++] = (struct iovec){s->ptr + off, take};
		len -= take;
		off = 0;
	}
	return n;
}

static uint64_t copy(const struct vq_chain *c, bool write, uint64_t off, uint8_t *buf,
		     uint64_t len, bool to_chain)
{
	static __thread struct iovec iov[VQ_MAX_SEGS];
	unsigned n = vq_iovecs(c, write, off, len, iov);
	uint64_t done = 0;

	for (unsigned i = 0; i < n; i++) {
		if (to_chain)
			memcpy(iov[i].iov_base, buf + done, iov[i].iov_len);
		else
			memcpy(buf + done, iov[i].iov_base, iov[i].iov_len);
		done += iov[i].iov_len;
	}
	return done;
}

uint64_t vq_copy_from(const struct vq_chain *c, uint64_t off, void *dst, uint64_t len)
{
	return copy(c, false, off, dst, len, false);
}

uint64_t vq_copy_to(const struct vq_chain *c, uint64_t off, const void *src, uint64_t len)
{
	return copy(c, true, off, (uint8_t *)src, len, true);
}
