/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Diff snapshots (docs/snapshot.md): which pages a snapshot holds, and the chain it
 * belongs to. Every live snapshot of a running domain starts KVM's and the VMM's dirty
 * log (include/capsule/dirty.h), or, if it runs already, ends one interval of it: the next
 * diff holds exactly the pages written after this snapshot's pause. The log belongs to
 * the domain's memory, so a reboot (new memory) ends the chain; the id of the snapshot it
 * runs from is kept with it (gmem_dirty.since).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "capsule/dirty.h"
#include "capsule/domain.h"
#include "capsule/pv_abi.h"
#include "capsule/virtio_abi.h"
#include "diff.h"

/*
 * What the VMM writes through pointers it keeps for the domain's life, which the door
 * marked only when it handed them out: the PV pages it shares with the guest (start_info,
 * shared_info, the console rings) and every virtio used ring. Marked again before a fetch.
 */
void snap_mark_kept(struct domain *d)
{
	struct guest_mem *m = &d->vm->mem;

	if (d->kind == DOMAIN_PV)
		gmem_dirty_mark(m, CAP_GPA_GUEST_LOW, CAP_GPA_GUEST_LOW_END - CAP_GPA_GUEST_LOW);
	for (unsigned i = 0; i < d->nr_devices; i++) {
		struct virtio_dev *dev = d->devices[i].dev;

		if (!dev)
			continue;
		pthread_mutex_lock(&dev->lock);
		for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
			if (dev->vq[q].ready)
				gmem_dirty_mark(m, dev->qcfg[q].used, VIRTQ_USED_BYTES(dev->vq[q].size));
		pthread_mutex_unlock(&dev->lock);
	}
}

int snap_diff_begin(struct domain *d, bool diff, bool log, struct snap_diff_ctx *c,
		    char *err, size_t errlen)
{
	struct guest_mem *m = &d->vm->mem;
	uint64_t pages = m->size / DIRTY_PAGE, words = dirty_words(pages);
	bool on = gmem_dirty_on(m);
	int rc;

	memset(c, 0, sizeof(*c));
	c->diff = diff;
	c->log = log;
	if (getrandom(c->chain.id, sizeof(c->chain.id), 0) != sizeof(c->chain.id)) {
		snprintf(err, errlen, "cannot make the snapshot's id: %s", strerror(errno));
		return -EIO;
	}
	if (diff && !on) {
		snprintf(err, errlen, "no snapshot of this boot of the domain to diff against: "
			 "take a full snapshot first (a diff holds the pages written since the "
			 "previous snapshot of the same boot)");
		return -EINVAL;
	}
	if (!on) { /* the first snapshot: a full one, and the log starts here */
		if (log && (rc = vm_dirty_start(d->vm))) {
			snprintf(err, errlen, "cannot start dirty logging: %s", strerror(-rc));
			return rc;
		}
		return 0;
	}
	c->fetched = calloc(words, sizeof(uint64_t));
	if (!c->fetched) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snap_mark_kept(d);
	rc = vm_dirty_fetch(d->vm, c->fetched);
	if (rc) {
		snprintf(err, errlen, "cannot read the dirty log: %s", strerror(-rc));
		free(c->fetched);
		c->fetched = NULL;
		return rc;
	}
	if (diff) {
		c->pages_len = sizeof(*c->pages) + words * sizeof(uint64_t);
		c->pages = malloc(c->pages_len);
		if (!c->pages) {
			snap_diff_end(d, c, false);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		c->pages->nr_pages = pages;
		memcpy(c->pages->bits, c->fetched, words * sizeof(uint64_t));
		c->pages->nr_dirty = dirty_count(c->fetched, pages);
		memcpy(c->chain.parent, m->dirty->since, SNAP_ID_LEN);
		c->chain.depth = m->dirty->since_depth + 1;
	}
	return 0;
}

void snap_diff_records(struct snap_writer *w, const struct snap_diff_ctx *c)
{
	snap_write(w, SNAP_CHAIN, SNAP_OPTIONAL, &c->chain, sizeof(c->chain));
	if (c->pages)
		snap_write(w, SNAP_PAGES, 0, c->pages, c->pages_len);
}

int snap_diff_write_memory(const struct guest_mem *m, const struct snap_diff_ctx *c, int fd,
			   uint64_t *written)
{
	const struct snap_pages *pg = c->pages;
	uint64_t pfn = 0;

	*written = 0;
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)m->size) < 0)
		return -errno;
	while (pfn < pg->nr_pages) {
		uint64_t end;
		int rc;

		if (!pg->bits[pfn / 64]) { /* 64 clean pages at once */
			pfn = (pfn | 63) + 1;
			continue;
		}
		if (!(pg->bits[pfn / 64] >> (pfn % 64) & 1)) {
			pfn++;
			continue;
		}
		for (end = pfn + 1; end < pg->nr_pages && (pg->bits[end / 64] >> (end % 64) & 1);)
			end++;
		rc = snap_write_range(m, fd, pfn * DIRTY_PAGE, end * DIRTY_PAGE, written);
		if (rc)
			return rc;
		pfn = end;
	}
	return fdatasync(fd) < 0 ? -errno : 0;
}

void snap_diff_end(struct domain *d, struct snap_diff_ctx *c, bool ok)
{
	struct guest_mem *m = &d->vm->mem;

	if (ok && c->log && m->dirty) {
		memcpy(m->dirty->since, c->chain.id, SNAP_ID_LEN);
		m->dirty->since_depth = c->chain.depth;
	} else if (!ok && c->fetched) {
		gmem_dirty_unfetch(m, c->fetched);
	}
	free(c->fetched);
	free(c->pages);
	c->fetched = NULL;
	c->pages = NULL;
}
