/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk's asynchronous paths, on a disk of 128 MiB whose sector s holds the word s
 * (tests/integration/stamp_disk.py: not in the host's page cache), given as
 * `--disk IMG,queues=4[,direct=on]`:
 *   - the driver takes VIRTIO_BLK_F_MQ and uses every queue (`--cmdline` starts with how
 *     many the device must give);
 *   - a large read of data the host has not cached, followed by small reads of data it
 *     has, on one queue: the small ones complete first (completions in the order the I/O
 *     finished), every byte right. `direct` in the command line (O_DIRECT: nothing is
 *     cached) only reports the order;
 *   - a buffer O_DIRECT cannot take (not sector-aligned) is still read;
 *   - a reset with requests in flight returns only once nothing will touch their buffers,
 *     their status bytes or the used ring again; the device works after it.
 */
#include "virtio.h"

#define SMALL 32
#define BIG_SEGS 16
#define SEG (128u << 10) /* the device's size_max */
#define BIG (BIG_SEGS * SEG)
#define MIB (1ull << 20)
#define SMALL_AT (2 * MIB) /* the small reads' region, cached first */
#define ORDER_AT (4 * MIB) /* a fresh 2 MiB for each round of the order test */
#define RESET_AT (64 * MIB) /* and a fresh 3 MiB for each reset */
#define KEY 0x5a5a0000ull   /* what the multiqueue test writes: s ^ KEY */

static struct vblk b;
static struct vblk_req reqs[64];
static uint8_t *big, *small, *buf;

static void stamp(uint8_t *p, uint64_t off, uint64_t len, uint64_t key)
{
	for (uint64_t i = 0; i < len; i += 8)
		*(uint64_t *)(p + i) = ((off + i) / 512) ^ key;
}

/* [p, p + len) holds the stamps of the disk's bytes from off (a multiple of 8). */
static bool stamped(const uint8_t *p, uint64_t off, uint64_t len, uint64_t key)
{
	for (uint64_t i = 0; i < len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if (w != (((off + i) / 512) ^ key))
			return false;
	}
	return true;
}

/* A request of BIG bytes in BIG_SEGS descriptors (each within size_max). */
static void submit_big(struct vq *q, struct vblk_req *r, uint64_t off, uint8_t *data)
{
	struct vbuf v[BIG_SEGS + 2];

	r->hdr = (struct virtio_blk_req_hdr){.type = VIRTIO_BLK_T_IN, .sector = off / 512};
	r->status = 0xff;
	v[0] = (struct vbuf){&r->hdr, sizeof(r->hdr), false};
	for (unsigned i = 0; i < BIG_SEGS; i++)
		v[1 + i] = (struct vbuf){data + i * SEG, SEG, true};
	v[BIG_SEGS + 1] = (struct vbuf){(const void *)&r->status, 1, true};
	TEST_CHECK(vq_add(q, v, BIG_SEGS + 2, r) >= 0);
}

/* The BIG/SEG requests over the first BIG bytes, request k on queue (k + shift) % nqueues. */
static void spread(uint32_t type, unsigned shift)
{
	unsigned n = BIG / SEG;

	for (unsigned k = 0; k < n; k++)
		TEST_CHECK(vblk_submit_on(&b, (k + shift) % b.nqueues, &reqs[k], type,
					  k * (SEG / 512), buf + k * SEG, SEG) == 0);
	vblk_wait_all(&b);
	for (unsigned k = 0; k < n; k++)
		TEST_CHECK(reqs[k].status == VIRTIO_BLK_S_OK);
}

/* Every queue writes its own requests; they are read back through other queues. */
static void multiqueue(unsigned want)
{
	TEST_CHECK(b.nqueues == want);
	stamp(buf, 0, BIG, KEY);
	spread(VIRTIO_BLK_T_OUT, 0);
	TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_FLUSH, 0, NULL, 0) == VIRTIO_BLK_S_OK);
	memset(buf, 0, BIG);
	spread(VIRTIO_BLK_T_IN, 1);
	TEST_CHECK(stamped(buf, 0, BIG, KEY));
	printf("vblkasync: %u queues, each wrote and read its part\n", b.nqueues);
}

/* Round r: the big read of fresh data first, then SMALL 4 KiB reads of cached data; how
 * many small ones completed before the big one. Every byte is checked. */
static unsigned one_round(unsigned r)
{
	uint64_t at = ORDER_AT + r * BIG;
	unsigned before = 0, seen = 0;
	bool big_done = false;

	memset(big, 0, BIG);
	memset(small, 0, SMALL * 4096);
	submit_big(&b.q, &reqs[0], at, big);
	for (unsigned i = 0; i < SMALL; i++)
		TEST_CHECK(vblk_submit(&b, &reqs[1 + i], VIRTIO_BLK_T_IN,
				       (SMALL_AT + i * 4096ull) / 512, small + i * 4096, 4096) == 0);
	vq_kick(&b.q);
	while (seen < SMALL + 1) {
		struct vblk_req *q = vq_wait(&b.q, NULL, time_ns() + 10000000000ull);

		TEST_CHECK(q != NULL);
		TEST_CHECK(q->status == VIRTIO_BLK_S_OK);
		seen++;
		if (q == &reqs[0])
			big_done = true;
		else if (!big_done)
			before++;
	}
	TEST_CHECK(stamped(big, at, BIG, 0));
	TEST_CHECK(stamped(small, SMALL_AT, SMALL * 4096, 0));
	return before;
}

static void completion_order(bool must)
{
	unsigned rounds = 0, before = 0;

	/* The small reads' data into the host's page cache first. */
	for (unsigned i = 0; i < SMALL; i++)
		TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_IN, (SMALL_AT + i * 4096ull) / 512,
				   small + i * 4096, 4096) == VIRTIO_BLK_S_OK);
	while (rounds < 20 && !before)
		before = one_round(rounds++);
	printf("vblkasync: %u of %u small reads completed before the big one (round %u)\n",
	       before, SMALL, rounds);
	TEST_CHECK(before > 0 || !must);
}

/* O_DIRECT refuses a buffer that is not sector-aligned: the device reads it anyway. */
static void misaligned(void)
{
	TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_IN, 8, buf + 3, 4096) == VIRTIO_BLK_S_OK);
	TEST_CHECK(stamped(buf + 3, 8 * 512, 4096, KEY));
	printf("vblkasync: a misaligned buffer was read\n");
}

/*
 * 24 reads of 128 KiB of fresh data, kicked, then a reset at once. Once the reset returns,
 * nothing may write their buffers, their status bytes or the used ring: they are the
 * driver's again. Some must have been in flight (their status still unset) for a round to
 * count.
 */
static void reset_in_flight(void)
{
	const unsigned n = 24;
	unsigned in_flight = 0, rounds = 0;

	while (!in_flight && rounds < 10) {
		uint64_t at = RESET_AT + rounds++ * n * SEG;
		uint16_t used;

		for (unsigned i = 0; i < n; i++)
			TEST_CHECK(vblk_submit(&b, &reqs[i], VIRTIO_BLK_T_IN, (at + i * SEG) / 512,
					       buf + i * SEG, SEG) == 0);
		vq_kick(&b.q);
		vdev_write(&b.dev, VIRTIO_MMIO_STATUS, 0);
		for (unsigned i = 0; i < n; i++)
			in_flight += reqs[i].status == 0xff;
		memset(buf, 0xee, n * SEG);
		for (unsigned i = 0; i < n; i++)
			reqs[i].status = 0xee;
		used = __atomic_load_n(&b.q.used->idx, __ATOMIC_ACQUIRE);
		for (uint64_t until = time_ns() + 200000000ull; time_ns() < until;)
			block(time_ns() + 10000000ull);
		TEST_CHECK(__atomic_load_n(&b.q.used->idx, __ATOMIC_ACQUIRE) == used);
		for (unsigned i = 0; i < n; i++)
			TEST_CHECK(reqs[i].status == 0xee);
		for (uint64_t i = 0; i < n * SEG; i++)
			TEST_CHECK(buf[i] == 0xee);
		TEST_CHECK(vblk_open_mq(&b, 0, b.nqueues) == 0);
	}
	printf("vblkasync: reset with %u of %u reads in flight; nothing touched after it\n",
	       in_flight, n);
	TEST_CHECK(in_flight > 0);
	TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_IN, 0, buf, 4096) == VIRTIO_BLK_S_OK);
	TEST_CHECK(stamped(buf, 0, 4096, KEY));
	TEST_CHECK(!vdev_needs_reset(&b.dev));
	printf("vblkasync: the device works after the reset\n");
}

/*
 * `soak`: 32 reads of 128 KiB always in flight, spread over every queue, each checked and
 * replaced as it completes, over the image's fresh data; a line each 256 completions. A
 * snapshot taken meanwhile must hold none of them half done (tests/integration/
 * snapshot.py): the restored copy goes on from its round, every byte right.
 */
_Noreturn static void soak(void)
{
	static uint64_t at[32], since[32];
	uint64_t next = 0, done = 0, round = 0;

	for (unsigned k = 0; k < 32; k++, next++) {
		at[k] = ORDER_AT + (next * SEG) % (120 * MIB);
		since[k] = time_ns();
		TEST_CHECK(vblk_submit_on(&b, k % b.nqueues, &reqs[k], VIRTIO_BLK_T_IN, at[k] / 512,
					  buf + k * SEG, SEG) == 0);
	}
	for (unsigned i = 0; i < b.nqueues; i++)
		vq_kick(vblk_queue(&b, i));
	for (;;)
		for (unsigned i = 0; i < b.nqueues; i++) {
			struct vq *q = vblk_queue(&b, i);
			struct vblk_req *r = vq_wait(q, NULL, time_ns() + 1000000ull);
			unsigned k;

			if (!r)
				continue;
			k = (unsigned)(r - reqs);
			TEST_CHECK(r->status == VIRTIO_BLK_S_OK);
			TEST_CHECK(stamped(buf + k * SEG, at[k], SEG, 0));
			at[k] = ORDER_AT + (next++ * SEG) % (120 * MIB);
			since[k] = time_ns();
			TEST_CHECK(vblk_submit_on(&b, i, r, VIRTIO_BLK_T_IN, at[k] / 512, buf + k * SEG,
						  SEG) == 0);
			vq_kick(q);
			if (++done % 256)
				continue;
			/* A request lost (taken, never completed: a save that did not wait for it)
			 * would be outstanding while the others go round. */
			for (unsigned j = 0; j < 32; j++)
				TEST_CHECK(time_ns() - since[j] < 2000000000ull);
			printf("vblkasync: soak round %llu ok\n", (unsigned long long)++round);
		}
}

int main(void)
{
	const char *cmd = start_info->cmdline;
	unsigned queues = *cmd ? (unsigned)strtoul(cmd, NULL, 10) : 4;

	big = memalign(4096, BIG);
	small = memalign(4096, SMALL * 4096);
	buf = memalign(4096, 64 * SEG);
	TEST_CHECK(big && small && buf);
	TEST_CHECK(vblk_open_mq(&b, 0, VBLK_MAX_QUEUES) == 0);
	TEST_CHECK(b.sectors * 512 >= 128 * MIB);
	if (strstr(cmd, "soak"))
		soak();
	multiqueue(queues);
	completion_order(!strstr(cmd, "direct"));
	misaligned();
	reset_in_flight();
	test_finish(true);
}
