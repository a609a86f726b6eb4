/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Malformed rings, written by hand into a virtio-rng queue: each must put the device into
 * DEVICE_NEEDS_RESET, never hurt the VMM; after a reset the device works again, and the
 * block device next to it never notices.
 */
#include "virtio.h"

static struct vdev rng;
static struct vq q;
static uint8_t buf[64];
static struct virtq_desc table[4] __attribute__((aligned(16)));

static void reinit(void)
{
	TEST_CHECK(vdev_begin(&rng, (1ull << VIRTIO_F_EVENT_IDX) |
					    (1ull << VIRTIO_F_INDIRECT_DESC)) == 0);
	TEST_CHECK(vq_setup(&rng, &q, 0, 8) == 0);
	vdev_ready(&rng);
}

/* Put desc 0 (and the avail entry) as given, publish, kick, expect NEEDS_RESET. */
static void expect_broken(const char *what, struct virtq_desc d, uint16_t head, uint16_t bump)
{
	uint64_t deadline = time_ns() + 2000000000ull;

	reinit();
	q.desc[0] = d;
	q.avail->ring[0] = head;
	__atomic_store_n(&q.avail->idx, bump, __ATOMIC_RELEASE);
	vdev_write(&rng, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	while (!vdev_needs_reset(&rng) && time_ns() < deadline)
		block(time_ns() + 1000000);
	printf("vhostile: %s -> %s\n", what, vdev_needs_reset(&rng) ? "needs reset" : "accepted!");
	TEST_CHECK(vdev_needs_reset(&rng));
}

static void wait_broken(struct vdev *d, const char *what)
{
	uint64_t deadline = time_ns() + 2000000000ull;

	while (!vdev_needs_reset(d) && time_ns() < deadline)
		block(time_ns() + 1000000);
	printf("vhostile: %s -> %s\n", what, vdev_needs_reset(d) ? "needs reset" : "accepted!");
	TEST_CHECK(vdev_needs_reset(d));
}

/*
 * The disk's asynchronous paths: a queue past the one a driver without VIRTIO_BLK_F_MQ may
 * use, and a malformed request behind good ones still in flight. Each breaks the device,
 * a reset (waiting for what is in flight) brings it back.
 */
static void blk_hostile(struct vblk *b)
{
	static struct vblk_req good[16];
	static uint8_t data[16][4096];
	static struct virtio_blk_req_hdr hdr;
	static struct vq q1;
	struct vbuf bad = {&hdr, sizeof(hdr), false}; /* no status byte */

	TEST_CHECK(vdev_begin(&b->dev, 1ull << VIRTIO_F_EVENT_IDX) == 0);
	TEST_CHECK(vq_setup(&b->dev, &b->q, 0, 64) == 0);
	TEST_CHECK(vq_setup(&b->dev, &q1, 1, 8) == 0);
	vdev_ready(&b->dev);
	/* A good read, but on queue 1. */
	good[0].hdr = (struct virtio_blk_req_hdr){.type = VIRTIO_BLK_T_IN};
	TEST_CHECK(vq_add(&q1, (struct vbuf[]){{&good[0].hdr, sizeof(good[0].hdr), false},
					       {data[0], 4096, true},
					       {(const void *)&good[0].status, 1, true}},
			  3, &good[0]) >= 0);
	vdev_write(&b->dev, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	wait_broken(&b->dev, "blk queue 1 without MQ");

	TEST_CHECK(vblk_open(b, 0) == 0);
	for (unsigned i = 0; i < 16; i++)
		TEST_CHECK(vblk_submit(b, &good[i], VIRTIO_BLK_T_IN, i * 8, data[i], 4096) == 0);
	TEST_CHECK(vq_add(&b->q, &bad, 1, &hdr) >= 0);
	vq_kick(&b->q);
	wait_broken(&b->dev, "blk malformed request behind 16 in flight");

	TEST_CHECK(vblk_open(b, 0) == 0);
	TEST_CHECK(vblk_io(b, VIRTIO_BLK_T_IN, 0, data[0], 4096) == VIRTIO_BLK_S_OK);
	TEST_CHECK(!vdev_needs_reset(&b->dev));
}

int main(void)
{
	uint64_t ram = start_info->mem_bytes, bufa = (uint64_t)(uintptr_t)buf;
	uint64_t ta = (uint64_t)(uintptr_t)table;
	static struct vblk b;
	static uint8_t sector[512];

	TEST_CHECK(vdev_find(VIRTIO_ID_RNG, 0, &rng) == 0);
	TEST_CHECK(vblk_open(&b, 0) == 0);

	expect_broken("descriptor loop", (struct virtq_desc){bufa, 8, 3, 0}, 0, 1);
	expect_broken("address beyond RAM", (struct virtq_desc){ram + 4096, 8, 2, 0}, 0, 1);
	expect_broken("length past RAM", (struct virtq_desc){bufa, 0xffffffffu, 2, 0}, 0, 1);
	expect_broken("address wraps", (struct virtq_desc){~0ull - 3, 8, 2, 0}, 0, 1);
	expect_broken("head past queue", (struct virtq_desc){bufa, 8, 2, 0}, 200, 1);
	expect_broken("index jump", (struct virtq_desc){bufa, 8, 2, 0}, 0, 1000);
	expect_broken("next past queue", (struct virtq_desc){bufa, 8, 3, 77}, 0, 1);
	expect_broken("indirect bad length", (struct virtq_desc){ta, 17, 4, 0}, 0, 1);
	table[0] = (struct virtq_desc){ta, 64, 4, 0}; /* nested */
	expect_broken("nested indirect", (struct virtq_desc){ta, 16, 4, 0}, 0, 1);
	table[0] = (struct virtq_desc){bufa, 8, 3, 0}; /* loops within its table */
	expect_broken("indirect loop", (struct virtq_desc){ta, 64, 4, 0}, 0, 1);
	table[0] = (struct virtq_desc){bufa, 8, 2 | 1, 1};
	table[1] = (struct virtq_desc){bufa, 8, 0, 0}; /* readable after writable */
	expect_broken("readable after writable", (struct virtq_desc){ta, 32, 4, 0}, 0, 1);

	/* After a reset the device serves a proper request again. */
	reinit();
	TEST_CHECK(vrng_read(&q, buf, sizeof(buf)) == sizeof(buf));
	TEST_CHECK(!vdev_needs_reset(&rng));
	/* The neighbour never noticed. */
	TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_IN, 0, sector, 512) == VIRTIO_BLK_S_OK);
	TEST_CHECK(!vdev_needs_reset(&b.dev));
	blk_hostile(&b);
	printf("vhostile: devices recovered\n");
	test_finish(true);
}
