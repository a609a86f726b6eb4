/* virtio-rng: every device-writable buffer is filled from getrandom(). */
#include <errno.h>
#include <sys/random.h>

#include "capsule/devices.h"

static int64_t rng_chain(struct virtio_dev *d, unsigned q, const struct vq_chain *c)
{
	uint64_t written = 0;

	(void)d, (void)q;
	for (unsigned i = 0; i < c->nseg; i++) {
		const struct vq_seg *s = &c->seg[i];
		uint32_t off = 0;

		if (!s->write)
			continue;
		while (off < s->len) {
			ssize_t n = getrandom(s->ptr + off, s->len - off, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return (int64_t)(written + off);
			off += (uint32_t)n;
		}
		written += s->len;
	}
	return (int64_t)written;
}

static void rng_notify(struct virtio_dev *d, unsigned q)
{
	virtio_serve(d, q, rng_chain);
}

const struct virtio_dev_ops virtio_rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.num_queues = 1,
	.queue_notify = rng_notify,
};
