/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Data safety: write numbered 4 KiB blocks in batches, flush each batch, and only then say
 * "acked G N" (blocks 0..N-1 of generation G are on stable storage). The host kills the
 * VMM at a random moment and checks every acknowledged block (tests/integration/vseq.py).
 * At the end of the disk the generation goes up and the blocks are written again.
 */
#include "virtio.h"

#define BLOCK 4096u
#define BATCH 16u

static struct vblk b;
static struct vblk_req reqs[BATCH];
static uint64_t bufs[BATCH][BLOCK / 8];

int main(void)
{
	uint64_t blocks;

	TEST_CHECK(vblk_open(&b, 0) == 0);
	blocks = b.sectors / (BLOCK / 512);
	TEST_CHECK(blocks >= BATCH);
	for (uint64_t gen = 1;; gen++) {
		for (uint64_t blk = 0; blk + BATCH <= blocks; blk += BATCH) {
			for (unsigned i = 0; i < BATCH; i++) {
				for (unsigned w = 0; w < BLOCK / 8; w++)
					bufs[i][w] = gen << 32 | (blk + i);
				TEST_CHECK(vblk_submit(&b, &reqs[i], VIRTIO_BLK_T_OUT,
						       (blk + i) * (BLOCK / 512), bufs[i], BLOCK) == 0);
			}
			vblk_wait_all(&b);
			for (unsigned i = 0; i < BATCH; i++)
				TEST_CHECK(reqs[i].status == VIRTIO_BLK_S_OK);
			TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_FLUSH, 0, NULL, 0) == VIRTIO_BLK_S_OK);
			printf("acked %llu %llu\n", (unsigned long long)gen,
			       (unsigned long long)(blk + BATCH));
		}
	}
}
