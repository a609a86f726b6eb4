/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-rng: the device-writable buffers are filled from getrandom(), at most
 * RNG_MAX_REQUEST bytes a chain: the used length tells the driver how much it got (virtio
 * 1.2, 5.4.6), and a guest cannot make the device thread work for seconds on one request.
 */
#include <errno.h>
#include <sys/random.h>

#include "capsule/devices.h"

#define RNG_MAX_REQUEST (64u << 10)

static int64_t rng_chain(struct virtio_dev *d, unsigned q, const struct vq_chain *c)
{
	uint64_t written = 0;

	(void)d, (void)q;
	for (unsigned i = 0; i < c->nseg && written < RNG_MAX_REQUEST; i++) {
		const struct vq_seg *s = &c->seg[i];
		uint32_t want = s->len, off = 0;

		if (!s->write)
			continue;
		if (want > RNG_MAX_REQUEST - written)
			want = (uint32_t)(RNG_MAX_REQUEST - written);
		while (off < want) {
			ssize_t n = getrandom(s->ptr + off, want - off, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return (int64_t)(written + off);
			off += (uint32_t)n;
		}
		written += want;
		if (want < s->len)
			break;
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
