/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk: the host filled sector s of the first half with (s*31 + i) & 0xff; read and
 * check it all in batches, write our own pattern (s*17 + i + 5) over the second half, flush,
 * get the id, discard and zero ranges, and check errors. `--cmdline ro` for a read-only disk.
 */
#include "virtio.h"

#define BATCH 64
#define SECTORS_PER_REQ 8

static struct vblk b;
static struct vblk_req reqs[BATCH];
static uint8_t bufs[BATCH][SECTORS_PER_REQ * 512];

static bool check_read(uint64_t sector, const uint8_t *p, uint32_t n)
{
	for (uint32_t s = 0; s < n; s++)
		for (uint32_t i = 0; i < 512; i++)
			if (p[s * 512 + i] != (uint8_t)((sector + s) * 31 + i))
				return false;
	return true;
}

static void fill(uint64_t sector, uint8_t *p, uint32_t n)
{
	for (uint32_t s = 0; s < n; s++)
		for (uint32_t i = 0; i < 512; i++)
			p[s * 512 + i] = (uint8_t)((sector + s) * 17 + i + 5);
}

/* Run one pass over [from, to) with batches of BATCH requests, one kick per batch. */
static bool pass(uint32_t type, uint64_t from, uint64_t to)
{
	for (uint64_t s = from; s < to; s += BATCH * SECTORS_PER_REQ) {
		unsigned n = 0;

		for (; n < BATCH && s + n * SECTORS_PER_REQ < to; n++) {
			uint64_t sec = s + n * SECTORS_PER_REQ;

			if (type == VIRTIO_BLK_T_OUT)
				fill(sec, bufs[n], SECTORS_PER_REQ);
			TEST_CHECK(vblk_submit(&b, &reqs[n], type, sec, bufs[n], sizeof(bufs[n])) == 0);
		}
		vblk_wait_all(&b);
		for (unsigned i = 0; i < n; i++) {
			if (reqs[i].status != VIRTIO_BLK_S_OK)
				return false;
			if (type == VIRTIO_BLK_T_IN &&
			    !check_read(s + i * SECTORS_PER_REQ, bufs[i], SECTORS_PER_REQ))
				return false;
		}
	}
	return true;
}

static bool all_zero(uint64_t sector, uint32_t n)
{
	static uint8_t z[512];

	for (uint32_t s = 0; s < n; s++) {
		TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_IN, sector + s, z, 512) == VIRTIO_BLK_S_OK);
		for (int i = 0; i < 512; i++)
			if (z[i])
				return false;
	}
	return true;
}

int main(void)
{
	bool ro = !strcmp(start_info->cmdline, "ro");
	char id[21] = {0};
	uint64_t half;

	TEST_CHECK(vblk_open(&b, 0) == 0);
	TEST_CHECK(b.sectors == 8192);
	TEST_CHECK(b.readonly == ro);
	half = b.sectors / 2;
	TEST_CHECK(pass(VIRTIO_BLK_T_IN, 0, half));
	printf("vblk: read and checked %llu sectors\n", (unsigned long long)half);
	TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_GET_ID, 0, id, 20) == VIRTIO_BLK_S_OK);
	TEST_CHECK(!strcmp(id, "capsule-test"));

	/* Errors: past the end, not a sector multiple, unknown type. */
	TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_IN, b.sectors, bufs[0], 512) == VIRTIO_BLK_S_IOERR);
	TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_IN, b.sectors - 1, bufs[0], 1024) == VIRTIO_BLK_S_IOERR);
	TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_IN, ~0ull, bufs[0], 512) == VIRTIO_BLK_S_IOERR);
	TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_IN, 0, bufs[0], 100) == VIRTIO_BLK_S_IOERR);
	TEST_CHECK(vblk_io(&b, 99, 0, bufs[0], 512) == VIRTIO_BLK_S_UNSUPP);

	if (ro) {
		TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_OUT, half, bufs[0], 512) == VIRTIO_BLK_S_IOERR);
		printf("vblk: read-only disk refused a write\n");
		test_finish(true);
	}
	TEST_CHECK(pass(VIRTIO_BLK_T_OUT, half, b.sectors));
	TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_FLUSH, 0, NULL, 0) == VIRTIO_BLK_S_OK);
	printf("vblk: wrote and flushed %llu sectors\n", (unsigned long long)half);
	if (!strcmp(start_info->cmdline, "flushkill")) /* the host kills us now */
		for (;;)
			block(0);

	struct virtio_blk_discard_write_zeroes range = {.sector = 100, .num_sectors = 100};
	TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_DISCARD, 0, &range, sizeof(range)) == VIRTIO_BLK_S_OK);
	TEST_CHECK(all_zero(100, 100));
	range = (struct virtio_blk_discard_write_zeroes){.sector = 300, .num_sectors = 10};
	TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_WRITE_ZEROES, 0, &range, sizeof(range)) ==
		   VIRTIO_BLK_S_OK);
	TEST_CHECK(all_zero(300, 10));
	range = (struct virtio_blk_discard_write_zeroes){.sector = b.sectors, .num_sectors = 1};
	TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_DISCARD, 0, &range, sizeof(range)) ==
		   VIRTIO_BLK_S_IOERR);
	TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_FLUSH, 0, NULL, 0) == VIRTIO_BLK_S_OK);
	printf("vblk: discard and write-zeroes ok\n");
	test_finish(true);
}
