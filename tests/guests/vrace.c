/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reads that must not be acknowledged before their data is there: rounds of two maximal
 * reads (126 x 128 KiB) from random places of a pattern image (every 8-byte word holds its
 * own byte offset / 8), each buffer first filled with a sentinel, each checked after its
 * completion. The host keeps the image out of its page cache and stops and continues the
 * VMM all the while (SIGSTOP/SIGCONT interrupt io_uring's waits). Runs for --cmdline SEC.
 */
#include "virtio.h"

#define SEG (128u << 10)
#define NSEG 126u
#define REQ ((uint64_t)SEG * NSEG)
#define SENTINEL 0xeeeeeeeeeeeeeeeeull

static struct vblk b;
static struct virtio_blk_req_hdr hdr[2];
static volatile uint8_t status[2];
static struct vbuf bufs[2][NSEG + 2];
static uint64_t rnd = 88172645463325252ull;

static uint64_t next(void)
{
	rnd ^= rnd << 13;
	rnd ^= rnd >> 7;
	rnd ^= rnd << 17;
	return rnd;
}

static void queue_read(int r, uint64_t *data, uint64_t off)
{
	for (uint64_t w = 0; w < REQ / 8; w += 512)
		data[w] = SENTINEL;
	hdr[r] = (struct virtio_blk_req_hdr){.type = VIRTIO_BLK_T_IN, .sector = off / 512};
	status[r] = 0xff;
	bufs[r][0] = (struct vbuf){&hdr[r], sizeof(hdr[r]), false};
	for (unsigned s = 0; s < NSEG; s++)
		bufs[r][1 + s] = (struct vbuf){(uint8_t *)data + (uint64_t)s * SEG, SEG, true};
	bufs[r][NSEG + 1] = (struct vbuf){(const void *)&status[r], 1, true};
	TEST_CHECK(vq_add(&b.q, bufs[r], NSEG + 2, &hdr[r]) >= 0);
}

int main(void)
{
	uint64_t rounds = 0, early = 0, failed = 0, slots, off[2], *data[2];
	uint64_t end = time_ns() + strtoul(start_info->cmdline, NULL, 10) * 1000000000ull;

	TEST_CHECK(vblk_open(&b, 0) == 0);
	for (int r = 0; r < 2; r++)
		TEST_CHECK((data[r] = memalign(4096, REQ)) != NULL);
	slots = b.sectors * 512 / REQ;
	TEST_CHECK(slots >= 2);
	printf("vrace: reading\n");
	while (time_ns() < end) {
		for (int r = 0; r < 2; r++)
			queue_read(r, data[r], off[r] = (next() % slots) * REQ);
		vq_kick(&b.q);
		for (int got = 0; got < 2;)
			if (vq_wait(&b.q, NULL, time_ns() + 30000000000ull))
				got++;
		for (int r = 0; r < 2; r++) {
			uint64_t wrong = 0;

			for (uint64_t w = 0; w < REQ / 8; w += 512)
				wrong += data[r][w] != off[r] / 8 + w;
			if (status[r] != VIRTIO_BLK_S_OK)
				failed++;
			else if (wrong)
				early++;
		}
		rounds++;
	}
	printf("vrace: %llu rounds, %llu reads acknowledged before their data, %llu failed\n",
	       (unsigned long long)rounds, (unsigned long long)early, (unsigned long long)failed);
	TEST_CHECK(early == 0 && failed == 0 && rounds > 0);
	test_finish(true);
}
