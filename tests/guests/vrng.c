/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-rng: two reads differ and look random (about half the bits set). */
#include "virtio.h"

static uint8_t a[4096], b2[4096];

int main(void)
{
	struct vdev d;
	struct vq q;
	unsigned ones = 0;

	TEST_CHECK(vdev_find(VIRTIO_ID_RNG, 0, &d) == 0);
	TEST_CHECK(vdev_begin(&d, 1ull << VIRTIO_F_EVENT_IDX) == 0);
	TEST_CHECK(vq_setup(&d, &q, 0, 8) == 0);
	vdev_ready(&d);
	TEST_CHECK(vrng_read(&q, a, sizeof(a)) == sizeof(a));
	TEST_CHECK(vrng_read(&q, b2, sizeof(b2)) == sizeof(b2));
	TEST_CHECK(memcmp(a, b2, sizeof(a)) != 0);
	for (unsigned i = 0; i < sizeof(a); i++)
		ones += (unsigned)__builtin_popcount(a[i]);
	printf("vrng: %u of %u bits set\n", ones, (unsigned)sizeof(a) * 8);
	TEST_CHECK(ones > sizeof(a) * 8 * 45 / 100 && ones < sizeof(a) * 8 * 55 / 100);
	test_finish(true);
}
