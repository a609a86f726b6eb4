/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-blk driver: batches of requests, one kick each batch; several queues with MQ. */
#include "virtio.h"

#define VBLK_FEATURES                                                                        \
	((1ull << VIRTIO_F_EVENT_IDX) | (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_RO) | \
	 (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES) |                \
	 (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE))

struct vq *vblk_queue(struct vblk *b, unsigned i)
{
	return i == 0 ? &b->q : &b->more[i - 1];
}

int vblk_open_mq(struct vblk *b, unsigned nth, unsigned queues)
{
	int rc = vdev_find(VIRTIO_ID_BLOCK, nth, &b->dev);
	uint64_t want = VBLK_FEATURES | (queues > 1 ? 1ull << VIRTIO_BLK_F_MQ : 0);

	if (rc)
		return rc;
	rc = vdev_begin(&b->dev, want);
	if (rc)
		return rc;
	b->nqueues = 1;
	if (b->dev.features & (1ull << VIRTIO_BLK_F_MQ)) {
		/* num_queues: the 16 bits at offset 34 of the config space */
		unsigned offered = vdev_read(&b->dev, VIRTIO_MMIO_CONFIG + 32) >> 16;

		b->nqueues = offered < queues ? offered : queues;
		if (b->nqueues > VBLK_MAX_QUEUES)
			b->nqueues = VBLK_MAX_QUEUES;
		if (!b->nqueues)
			b->nqueues = 1;
	}
	for (unsigned i = 0; i < b->nqueues; i++) {
		rc = vq_setup(&b->dev, vblk_queue(b, i), i, 256);
		if (rc)
			return rc;
	}
	b->sectors = vdev_read(&b->dev, VIRTIO_MMIO_CONFIG) |
		     (uint64_t)vdev_read(&b->dev, VIRTIO_MMIO_CONFIG + 4) << 32;
	b->readonly = b->dev.features & (1ull << VIRTIO_BLK_F_RO);
	vdev_ready(&b->dev);
	return 0;
}

int vblk_open(struct vblk *b, unsigned nth)
{
	return vblk_open_mq(b, nth, 1);
}

int vblk_submit_on(struct vblk *b, unsigned i, struct vblk_req *r, uint32_t type,
		   uint64_t sector, void *data, uint32_t len)
{
	bool device_writes = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	struct vbuf bufs[3] = {{&r->hdr, sizeof(r->hdr), false}};
	unsigned n = 1;

	r->hdr = (struct virtio_blk_req_hdr){.type = type, .sector = sector};
	r->data = data;
	r->len = len;
	r->status = 0xff;
	r->done = false;
	if (len)
		bufs[n++] = (struct vbuf){data, len, device_writes};
	bufs[n++] = (struct vbuf){(const void *)&r->status, 1, true};
	return vq_add(vblk_queue(b, i), bufs, n, r) < 0 ? CAP_ENOSPC : 0;
}

int vblk_submit(struct vblk *b, struct vblk_req *r, uint32_t type, uint64_t sector, void *data,
		uint32_t len)
{
	return vblk_submit_on(b, 0, r, type, sector, data, len);
}

void vblk_wait_all(struct vblk *b)
{
	unsigned nq = b->nqueues ? b->nqueues : 1;

	for (unsigned i = 0; i < nq; i++)
		vq_kick(vblk_queue(b, i));
	for (unsigned i = 0; i < nq; i++) {
		struct vq *q = vblk_queue(b, i);

		while (q->num_free != q->size) {
			struct vblk_req *r = b->poll ? vq_poll(q, NULL) : vq_wait(q, NULL, 0);

			if (!r && b->poll)
				__asm__ volatile("pause");
			if (r)
				r->done = true;
		}
	}
}

int vblk_io(struct vblk *b, uint32_t type, uint64_t sector, void *data, uint32_t len)
{
	struct vblk_req r;

	if (vblk_submit(b, &r, type, sector, data, len))
		return -1;
	vblk_wait_all(b);
	return r.status;
}
