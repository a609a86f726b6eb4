/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device load for the requests-per-kick figures: batches to virtio-rng and virtio-console,
 * and a 32 MiB balloon inflation (256 pages per request), with one kick per batch.
 * Run with --rng --virtio-console --balloon 32 --stats.
 */
#include "virtio.h"

static uint8_t bufs[64][256];

int main(void)
{
	static struct vdev rng;
	static struct vq rq;
	static struct vcons c;
	static struct vballoon b;
	static const char line[] = "devload: console batch line\n";

	TEST_CHECK(vdev_find(VIRTIO_ID_RNG, 0, &rng) == 0);
	TEST_CHECK(vdev_begin(&rng, 1ull << VIRTIO_F_EVENT_IDX) == 0);
	TEST_CHECK(vq_setup(&rng, &rq, 0, 64) == 0);
	vdev_ready(&rng);
	for (int round = 0; round < 16; round++) {
		for (int i = 0; i < 64; i++) {
			struct vbuf v = {bufs[i], sizeof(bufs[i]), true};

			TEST_CHECK(vq_add(&rq, &v, 1, bufs[i]) >= 0);
		}
		vq_kick(&rq);
		for (int i = 0; i < 64; i++)
			TEST_CHECK(vq_wait(&rq, NULL, 0) != NULL);
	}
	TEST_CHECK(vcons_open(&c) == 0);
	for (int round = 0; round < 16; round++) {
		for (int i = 0; i < 16; i++) {
			struct vbuf v = {line, sizeof(line) - 1, false};

			TEST_CHECK(vq_add(&c.tx, &v, 1, (void *)line) >= 0);
		}
		vq_kick(&c.tx);
		for (int i = 0; i < 16; i++)
			TEST_CHECK(vq_wait(&c.tx, NULL, 0) != NULL);
	}
	TEST_CHECK(vballoon_open(&b) == 0);
	TEST_CHECK(vballoon_update(&b) == 32 * 256);
	printf("devload: done\n");
	return 0;
}
