/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Block benchmark guest: `--cmdline "MODE BS_KIB TOTAL_MIB DEPTH [poll|block]"`, MODE one of
 * seqread, randread, seqwrite, randwrite. Keeps DEPTH requests in flight: each completion
 * is replaced at once, and the queue is kicked only when the device asks (event index).
 * poll (the default) spins on the used ring for completions; block sleeps on the device's
 * event channel until half of what is in flight has completed. Prints bytes and ns.
 */
#include "virtio.h"

#include "../blk_pattern.h"

#define MAX_DEPTH 128

static struct vblk b;
static struct vblk_req reqs[MAX_DEPTH];

/*
 * Blocking: sleep until half of what is in flight has completed (the used event index set
 * that far ahead), so that each wake-up (an exit here) refills a batch, not one request.
 */
static void wait_for_half(uint64_t outstanding)
{
	struct vq *q = &b.q;
	uint16_t want = (uint16_t)(outstanding > 1 ? outstanding / 2 : 1);

	*virtq_used_event(q->avail, q->size) = (uint16_t)(q->last_used + want - 1);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if ((uint16_t)(__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE) - q->last_used) < want)
		vdev_wait(&b.dev, 0);
}

int main(void)
{
	char *p = (char *)start_info->cmdline;
	int is_random = !strncmp(p, "rand", 4), is_write = strstr(p, "write") != NULL;
	uint32_t type = is_write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	uint64_t bs, total, depth, size, ops, next = 0, done = 0, t0, t1;
	uint8_t *buf;

	p = strchr(p, ' ');
	TEST_CHECK(p != NULL);
	bs = strtoul(p + 1, &p, 10) * 1024;
	total = strtoul(p + 1, &p, 10) << 20;
	depth = strtoul(p + 1, &p, 10);
	TEST_CHECK(bs && total && depth && depth <= MAX_DEPTH);
	TEST_CHECK(vblk_open(&b, 0) == 0);
	b.poll = !strstr(p, "block");
	size = b.sectors * 512;
	ops = total / bs;
	buf = memalign(4096, bs * depth);
	TEST_CHECK(buf != NULL);
	memset(buf, 0x3c, bs * depth);
	t0 = time_ns();
	for (; next < depth && next < ops; next++)
		TEST_CHECK(vblk_submit(&b, &reqs[next], type,
				       blk_pattern_offset(is_random, next, size, bs) / 512,
				       buf + next * bs, (uint32_t)bs) == 0);
	vq_kick(&b.q);
	while (done < ops) {
		struct vblk_req *r = vq_poll(&b.q, NULL);
		bool refilled = false;

		if (!r && b.poll) {
			__asm__ volatile("pause");
			continue;
		}
		if (!r) {
			wait_for_half(next - done);
			continue;
		}
		/* Every completion there is, each slot refilled with the next request. */
		for (; r; r = vq_poll(&b.q, NULL)) {
			unsigned k = (unsigned)(r - reqs);

			TEST_CHECK(r->status == VIRTIO_BLK_S_OK);
			done++;
			if (next < ops) {
				TEST_CHECK(vblk_submit(&b, r, type,
						       blk_pattern_offset(is_random, next, size, bs) / 512,
						       buf + k * bs, (uint32_t)bs) == 0);
				next++;
				refilled = true;
			}
		}
		if (refilled)
			vq_kick(&b.q); /* an exit only if the device stopped polling and asked */
	}
	t1 = time_ns();
	printf("blkbench: bytes=%llu ns=%llu\n", (unsigned long long)(ops * bs),
	       (unsigned long long)(t1 - t0));
	return 0;
}
