/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-balloon driver: pages come from (and go back to) the kit's allocator. */
#include "virtio.h"

#define PAGE 4096u
#define BATCH 256
#define REPORT_BATCH 16 /* pages per report: one chain of this many buffers */

int vballoon_open(struct vballoon *b)
{
	struct vbuf s;
	int rc = vdev_find(VIRTIO_ID_BALLOON, 0, &b->dev);

	if (!rc)
		rc = vdev_begin(&b->dev, (1ull << VIRTIO_F_EVENT_IDX) |
						 (1ull << VIRTIO_BALLOON_F_STATS_VQ) |
						 (1ull << VIRTIO_BALLOON_F_PAGE_REPORTING));
	if (!rc)
		rc = vq_setup(&b->dev, &b->inflate, 0, 16);
	if (!rc)
		rc = vq_setup(&b->dev, &b->deflate, 1, 16);
	if (!rc)
		rc = vq_setup(&b->dev, &b->stats, 2, 4);
	b->reporting = !rc && (b->dev.features & (1ull << VIRTIO_BALLOON_F_PAGE_REPORTING));
	if (b->reporting) /* queue 3: no free page hinting before it */
		rc = vq_setup(&b->dev, &b->report, 3, REPORT_BATCH);
	if (rc)
		return rc;
	b->cap = (uint32_t)(start_info->mem_bytes / PAGE);
	b->pfns = malloc(b->cap * sizeof(uint32_t));
	b->held = 0;
	if (!b->pfns)
		return CAP_ENOSPC;
	vdev_ready(&b->dev);
	/* The statistics buffer: the device returns it when it wants fresh numbers. */
	memset(b->stat, 0, sizeof(b->stat));
	s = (struct vbuf){b->stat, sizeof(b->stat), false};
	vq_add(&b->stats, &s, 1, b->stat);
	vq_kick(&b->stats);
	return 0;
}

uint32_t vballoon_target(struct vballoon *b)
{
	return vdev_read(&b->dev, VIRTIO_MMIO_CONFIG);
}

/* Send pfns[from, from + n) on a queue and wait for the device to take them. */
static void transfer(struct vballoon *b, struct vq *q, uint32_t from, uint32_t n)
{
	struct vbuf v = {&b->pfns[from], n * 4, false};

	vq_add(q, &v, 1, &b->pfns[from]);
	vq_kick(q);
	vq_wait(q, NULL, 0);
}

uint32_t vballoon_update(struct vballoon *b)
{
	uint32_t target = vballoon_target(b);

	while (b->held < target && b->held < b->cap) {
		uint32_t n = 0, from = b->held;

		while (n < BATCH && b->held < target) {
			void *p = page_alloc();

			if (!p)
				break;
			b->pfns[b->held++] = (uint32_t)((uintptr_t)p / PAGE);
			n++;
		}
		if (!n)
			break;
		transfer(b, &b->inflate, from, n);
	}
	while (b->held > target) {
		uint32_t n = b->held - target < BATCH ? b->held - target : BATCH;

		b->held -= n;
		transfer(b, &b->deflate, b->held, n);
		for (uint32_t i = 0; i < n; i++) /* back to the allocator, zeroed by the host */
			page_free((void *)(uintptr_t)((uint64_t)b->pfns[b->held + i] * PAGE));
	}
	vdev_write(&b->dev, VIRTIO_MMIO_CONFIG + 4, b->held);
	return b->held;
}

void vballoon_stats(struct vballoon *b, uint64_t free_bytes, uint64_t total_bytes)
{
	struct vbuf s = {b->stat, 3 * sizeof(b->stat[0]), false};

	if (!vq_poll(&b->stats, NULL))
		return;
	b->stat[0] = (struct virtio_balloon_stat){VIRTIO_BALLOON_S_MEMFREE, free_bytes};
	b->stat[1] = (struct virtio_balloon_stat){VIRTIO_BALLOON_S_MEMTOT, total_bytes};
	b->stat[2] = (struct virtio_balloon_stat){VIRTIO_BALLOON_S_AVAIL, free_bytes};
	vq_add(&b->stats, &s, 1, b->stat);
	vq_kick(&b->stats);
}

int vballoon_report(struct vballoon *b, void *const *pages, unsigned n)
{
	struct vbuf v[REPORT_BATCH];

	if (!b->reporting)
		return CAP_EINVAL;
	for (unsigned i = 0; i < n;) {
		unsigned k = 0;

		for (; k < REPORT_BATCH && i < n; k++, i++)
			v[k] = (struct vbuf){pages[i], PAGE, true};
		vq_add(&b->report, v, k, v);
		vq_kick(&b->report);
		vq_wait(&b->report, NULL, 0);
	}
	return 0;
}
