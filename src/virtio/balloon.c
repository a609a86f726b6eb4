/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-balloon. The host sets a target (config num_pages); the driver inflates by handing
 * page frame numbers back, and Capsule punches those pages out of the memfd, so the VMM's
 * resident memory really falls. Deflated pages need nothing: they fault back in, zeroed.
 * The statistics queue keeps the driver's buffer until the host asks for fresh numbers.
 * Free page reporting (VIRTIO_BALLOON_F_PAGE_REPORTING): the driver lends ranges of pages it
 * freed on the reporting queue; they are punched out like inflated pages and given back at
 * once, the guest keeping them (they read zero when next touched).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsule/devices.h"
#include "capsule/log.h"

#define INFLATEQ 0
#define DEFLATEQ 1
#define STATSQ 2
#define REPORTQ 3 /* index 3: Capsule offers no free page hints (whose queue would be 3) */
#define PFNS_MAX 1024
#define BALLOON_MIN_PFN (0x100000u / VIRTIO_BALLOON_PAGE_SIZE) /* docs/pv-abi.md, R-DEV-4 */

static const char *const stat_names[VIRTIO_BALLOON_S_NR] = {
	"swap_in", "swap_out", "major_faults", "minor_faults", "free",
	"total", "available", "caches", "hugetlb_allocs", "hugetlb_failures",
};

struct balloon_backend {
	uint64_t target_pages;
	uint64_t stats[VIRTIO_BALLOON_S_NR];
	bool have_stats;
	bool stats_held; /* the driver's stats buffer, kept until we want new numbers */
	uint16_t stats_head;
	uint64_t inflated, deflated; /* pages, over the domain's life */
	uint64_t reported;           /* pages reported free and released */
};

unsigned balloon_parse_pfns(const struct vq_chain *c, uint32_t *pfns, unsigned max)
{
	uint64_t n = c->out_bytes / 4;

	if (n > max)
		n = max;
	vq_copy_from(c, 0, pfns, n * 4);
	return (unsigned)n;
}

static void punch(struct virtio_dev *d, uint64_t first, uint64_t count)
{
	gmem_discard(d->mem, first * VIRTIO_BALLOON_PAGE_SIZE,
		     count * VIRTIO_BALLOON_PAGE_SIZE);
}

static int64_t inflate(struct virtio_dev *d, unsigned q, const struct vq_chain *c)
{
	struct balloon_backend *b = d->priv;
	uint32_t pfns[PFNS_MAX];
	unsigned n = balloon_parse_pfns(c, pfns, PFNS_MAX);
	uint64_t run_start = 0, run_len = 0;

	(void)q;
	for (unsigned i = 0; i < n; i++) {
		uint64_t pfn = pfns[i];

		/* Frames below 1 MiB (a PV domain's VMM-owned pages and start_info, shared_info
		 * and console, which the VMM keeps pointers into) and frames gmem_ptr refuses
		 * are ignored: the guest only fools itself. */
		if (pfn < BALLOON_MIN_PFN ||
		    !gmem_ptr(d->mem, pfn * VIRTIO_BALLOON_PAGE_SIZE, VIRTIO_BALLOON_PAGE_SIZE))
			continue;
		b->inflated++;
		if (run_len && pfn == run_start + run_len) {
			run_len++; /* contiguous frames: one fallocate */
			continue;
		}
		if (run_len)
			punch(d, run_start, run_len);
		run_start = pfn;
		run_len = 1;
	}
	if (run_len)
		punch(d, run_start, run_len);
	return 0;
}

/*
 * A report: device-writable buffers, each a run of free guest pages. Only whole pages at or
 * above 1 MiB are released (as for inflation); the rest of a buffer is ignored. vq_pop has
 * checked every segment against guest RAM and the VMM's own ranges.
 */
static int64_t report(struct virtio_dev *d, unsigned q, const struct vq_chain *c)
{
	struct balloon_backend *b = d->priv;
	const uint64_t page = VIRTIO_BALLOON_PAGE_SIZE;

	(void)q;
	for (unsigned i = 0; i < c->nseg; i++) {
		uint64_t gpa = (uint64_t)(c->seg[i].ptr - d->mem->host);
		uint64_t start = (gpa + page - 1) & ~(page - 1), end = (gpa + c->seg[i].len) & ~(page - 1);

		if (start < BALLOON_MIN_PFN * page)
			start = BALLOON_MIN_PFN * page;
		if (!c->seg[i].write || end <= start ||
		    !gmem_ptr(d->mem, start, end - start))
			continue;
		gmem_discard(d->mem, start, end - start);
		b->reported += (end - start) / page;
	}
	return 0;
}

static int64_t deflate(struct virtio_dev *d, unsigned q, const struct vq_chain *c)
{
	struct balloon_backend *b = d->priv;

	(void)q;
	b->deflated += c->out_bytes / 4;
	return 0;
}

static void take_stats(struct virtio_dev *d)
{
	struct balloon_backend *b = d->priv;
	static __thread struct vq_chain c;
	struct virtio_balloon_stat st;
	const char *why = NULL;
	int r;

	while (!b->stats_held && (r = vq_pop(&d->vq[STATSQ], d->mem, &c, &why)) != 0) {
		if (r < 0) {
			virtio_fail(d, "stats queue: %s", why);
			return;
		}
		for (uint64_t off = 0; off + sizeof(st) <= c.out_bytes; off += sizeof(st)) {
			vq_copy_from(&c, off, &st, sizeof(st));
			if (st.tag < VIRTIO_BALLOON_S_NR)
				b->stats[st.tag] = st.val;
		}
		b->have_stats = true;
		b->stats_held = true;
		b->stats_head = c.head;
	}
	vq_enable_notify(&d->vq[STATSQ]); /* the driver kicks when it adds the next buffer */
}

static void balloon_notify(struct virtio_dev *d, unsigned q)
{
	if (q == STATSQ)
		take_stats(d);
	else if (q == REPORTQ)
		virtio_serve(d, q, report);
	else
		virtio_serve(d, q, q == INFLATEQ ? inflate : deflate);
}

static void balloon_reset(struct virtio_dev *d)
{
	struct balloon_backend *b = d->priv;

	b->stats_held = false;
}

/* The extras of a saved balloon: plain little-endian data, checked on the way back. */
struct balloon_saved {
	uint64_t target_pages, inflated, deflated;
	uint16_t stats_head;
	uint8_t stats_held, pad[5];
};

static size_t balloon_save(struct virtio_dev *d, uint8_t *buf, size_t cap)
{
	struct balloon_backend *b = d->priv;
	struct balloon_saved s = {b->target_pages, b->inflated, b->deflated, b->stats_head,
				  b->stats_held, {0}};

	if (cap < sizeof(s))
		return 0;
	memcpy(buf, &s, sizeof(s));
	return sizeof(s);
}

static int balloon_restore(struct virtio_dev *d, const uint8_t *buf, size_t len,
			   const char **why)
{
	struct balloon_backend *b = d->priv;
	struct balloon_saved s;

	if (len != sizeof(s)) {
		*why = "the balloon's own state has the wrong size";
		return -EINVAL;
	}
	memcpy(&s, buf, sizeof(s));
	if (s.target_pages > d->mem->size / VIRTIO_BALLOON_PAGE_SIZE || s.stats_held > 1 ||
	    s.stats_head >= VQ_MAX_SIZE) {
		*why = "the balloon's own state is out of range";
		return -EINVAL;
	}
	b->target_pages = s.target_pages;
	b->inflated = s.inflated;
	b->deflated = s.deflated;
	b->stats_head = s.stats_head;
	b->stats_held = s.stats_held;
	return 0;
}

const struct virtio_dev_ops virtio_balloon_ops = {
	.name = "virtio-balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.num_queues = 4,
	.features = 1ull << VIRTIO_BALLOON_F_STATS_VQ | 1ull << VIRTIO_BALLOON_F_PAGE_REPORTING,
	.config_size = sizeof(struct virtio_balloon_config),
	.queue_notify = balloon_notify,
	.reset = balloon_reset,
	.save = balloon_save,
	.restore = balloon_restore,
};

struct balloon_backend *balloon_open(uint64_t target_mib)
{
	struct balloon_backend *b = calloc(1, sizeof(*b));

	if (b) {
		b->target_pages = (target_mib << 20) / VIRTIO_BALLOON_PAGE_SIZE;
	}
	return b;
}

void balloon_start(struct balloon_backend *b, struct virtio_dev *d)
{
	struct virtio_balloon_config c = {.num_pages = (uint32_t)b->target_pages};

	b->stats_held = false;
	memcpy(d->config, &c, sizeof(c));
}

void balloon_set_target(struct virtio_dev *d, uint64_t mib)
{
	struct balloon_backend *b = d->priv;
	uint64_t max = d->mem->size / VIRTIO_BALLOON_PAGE_SIZE;
	struct virtio_balloon_config c;

	pthread_mutex_lock(&d->lock);
	b->target_pages = (mib << 20) / VIRTIO_BALLOON_PAGE_SIZE;
	if (b->target_pages > max)
		b->target_pages = max;
	memcpy(&c, d->config, sizeof(c));
	c.num_pages = (uint32_t)b->target_pages;
	memcpy(d->config, &c, sizeof(c));
	virtio_config_changed(d);
	pthread_mutex_unlock(&d->lock);
}

void balloon_sizes(struct virtio_dev *d, uint64_t *target_bytes, uint64_t *actual_bytes)
{
	struct balloon_backend *b = d->priv;
	struct virtio_balloon_config c;

	pthread_mutex_lock(&d->lock);
	memcpy(&c, d->config, sizeof(c));
	*target_bytes = b->target_pages * VIRTIO_BALLOON_PAGE_SIZE;
	*actual_bytes = (uint64_t)c.actual * VIRTIO_BALLOON_PAGE_SIZE;
	pthread_mutex_unlock(&d->lock);
}

void balloon_describe(struct virtio_dev *d, char *buf, size_t len)
{
	struct balloon_backend *b = d->priv;
	struct virtio_balloon_config c;
	size_t off;

	pthread_mutex_lock(&d->lock);
	memcpy(&c, d->config, sizeof(c));
	off = (size_t)snprintf(buf, len, "target_mib=%llu actual_mib=%llu inflated_pages=%llu "
			       "reported_pages=%llu",
			       (unsigned long long)(b->target_pages * VIRTIO_BALLOON_PAGE_SIZE >> 20),
			       (unsigned long long)((uint64_t)c.actual * VIRTIO_BALLOON_PAGE_SIZE >> 20),
			       (unsigned long long)b->inflated, (unsigned long long)b->reported);
	for (unsigned i = 0; b->have_stats && i < VIRTIO_BALLOON_S_NR && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, " %s=%llu", stat_names[i],
					(unsigned long long)b->stats[i]);
	/* Hand the stats buffer back: the driver refills it with fresh numbers. */
	if (b->stats_held && virtio_queue_usable(d, STATSQ)) {
		b->stats_held = false;
		virtio_complete(d, STATSQ, b->stats_head, 0);
		virtio_flush_interrupt(d, STATSQ);
	}
	pthread_mutex_unlock(&d->lock);
}

void balloon_close(struct balloon_backend *b)
{
	free(b);
}
