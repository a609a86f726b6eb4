/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Block benchmark guest: `--cmdline "MODE BS_KIB TOTAL_MIB DEPTH"`, MODE one of seqread,
 * randread, seqwrite, randwrite. Keeps DEPTH requests per batch, one kick per batch, and
 * polls for completions. Prints bytes and ns.
 */
#include "virtio.h"

#include "../blk_pattern.h"

#define MAX_DEPTH 128

static struct vblk b;
static struct vblk_req reqs[MAX_DEPTH];

int main(void)
{
	char *p = (char *)start_info->cmdline;
	int is_random = !strncmp(p, "rand", 4), is_write = strstr(p, "write") != NULL;
	uint64_t bs, total, depth, size, ops, t0, t1;
	uint8_t *buf;

	p = strchr(p, ' ');
	TEST_CHECK(p != NULL);
	bs = strtoul(p + 1, &p, 10) * 1024;
	total = strtoul(p + 1, &p, 10) << 20;
	depth = strtoul(p + 1, &p, 10);
	TEST_CHECK(bs && total && depth && depth <= MAX_DEPTH);
	TEST_CHECK(vblk_open(&b, 0) == 0);
	b.poll = true;
	size = b.sectors * 512;
	ops = total / bs;
	buf = memalign(4096, bs * depth);
	TEST_CHECK(buf != NULL);
	memset(buf, 0x3c, bs * depth);
	t0 = time_ns();
	for (uint64_t i = 0; i < ops;) {
		unsigned n = 0;

		for (; n < depth && i < ops; n++, i++)
			TEST_CHECK(vblk_submit(&b, &reqs[n], is_write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
					       blk_pattern_offset(is_random, i, size, bs) / 512,
					       buf + n * bs, (uint32_t)bs) == 0);
		vblk_wait_all(&b);
		for (unsigned k = 0; k < n; k++)
			TEST_CHECK(reqs[k].status == VIRTIO_BLK_S_OK);
	}
	t1 = time_ns();
	printf("blkbench: bytes=%llu ns=%llu\n", (unsigned long long)(ops * bs),
	       (unsigned long long)(t1 - t0));
	return 0;
}
