/* SPDX-License-Identifier: Apache-2.0 */
/* The virtio console driver (PV: found through start_info). */
#include "virtio.h"

int vcons_open(struct vcons *c)
{
	int rc = vdev_find(VIRTIO_ID_CONSOLE, 0, &c->dev);

	if (!rc)
		rc = vdev_begin(&c->dev, 1ull << VIRTIO_F_EVENT_IDX);
	if (!rc)
		rc = vq_setup(&c->dev, &c->rx, 0, 16);
	if (!rc)
		rc = vq_setup(&c->dev, &c->tx, 1, 16);
	if (rc)
		return rc;
	vdev_ready(&c->dev);
	for (unsigned i = 0; i < 8; i++) {
		struct vbuf b = {c->rxbuf[i], sizeof(c->rxbuf[i]), true};

		vq_add(&c->rx, &b, 1, c->rxbuf[i]);
	}
	vq_kick(&c->rx);
	return 0;
}

void vcons_write(struct vcons *c, const void *buf, uint32_t len)
{
	struct vbuf b = {buf, len, false};

	if (vq_add(&c->tx, &b, 1, (void *)buf) < 0)
		return;
	vq_kick(&c->tx);
	vq_wait(&c->tx, NULL, 0);
}

uint32_t vcons_read(struct vcons *c, void *buf, uint32_t cap, uint64_t deadline_ns)
{
	uint32_t len = 0;
	uint8_t *rb = vq_wait(&c->rx, &len, deadline_ns);
	struct vbuf b;

	if (!rb)
		return 0;
	if (len > cap)
		len = cap;
	memcpy(buf, rb, len);
	b = (struct vbuf){rb, sizeof(c->rxbuf[0]), true};
	vq_add(&c->rx, &b, 1, rb); /* give the buffer back */
	vq_kick(&c->rx);
	return len;
}
