/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-blk driver: batches of requests, one kick each batch. */
#include "virtio.h"

int vblk_open(struct vblk *b, unsigned nth)
{
	int rc = vdev_find(VIRTIO_ID_BLOCK, nth, &b->dev);

	if (rc)
		return rc;
	rc = vdev_begin(&b->dev, (1ull << VIRTIO_F_EVENT_IDX) | (1ull << VIRTIO_BLK_F_FLUSH) |
					 (1ull << VIRTIO_BLK_F_RO) | (1ull << VIRTIO_BLK_F_DISCARD) |
					 (1ull << VIRTIO_BLK_F_WRITE_ZEROES) |
					 (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE));
	if (rc)
		return rc;
	rc = vq_setup(&b->dev, &b->q, 0, 256);
	if (rc)
		return rc;
	b->sectors = vdev_read(&b->dev, VIRTIO_MMIO_CONFIG) |
		     (uint64_t)vdev_read(&b->dev, VIRTIO_MMIO_CONFIG + 4) << 32;
	b->readonly = b->dev.features & (1ull << VIRTIO_BLK_F_RO);
	vdev_ready(&b->dev);
	return 0;
}

int vblk_submit(struct vblk *b, struct vblk_req *r, uint32_t type, uint64_t sector, void *data,
		uint32_t len)
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
	return vq_add(&b->q, bufs, n, r) < 0 ? CAP_ENOSPC : 0;
}

void vblk_wait_all(struct vblk *b)
{
	vq_kick(&b->q);
	while (b->q.num_free != b->q.size) {
		struct vblk_req *r = b->poll ? vq_poll(&b->q, NULL) : vq_wait(&b->q, NULL, 0);

		if (!r && b->poll)
			__asm__ volatile("pause");

		if (r)
			r->done = true;
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
