/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Between save.c and diff.c (src/snapshot/): the chain and dirty-page part of taking a
 * snapshot. Not a public interface.
 */
#ifndef CAPSULE_SNAPSHOT_DIFF_H
#define CAPSULE_SNAPSHOT_DIFF_H

#include "capsule/snapshot.h"

struct snap_diff_ctx {
	bool diff;               /* a diff snapshot: only the pages in `pages` */
	bool log;                /* a live snapshot: the dirty log runs on from this one */
	struct snap_chain chain; /* this snapshot's chain record */
	struct snap_pages *pages; /* a diff's page list, or NULL */
	size_t pages_len;
	uint64_t *fetched;       /* pages taken from the log (put back if the snapshot fails) */
};

/* With the domain paused: the chain record and, for a diff, the pages written since the
 * previous snapshot. 0, or -errno with a message (-EINVAL: no snapshot to diff against). */
int snap_diff_begin(struct domain *d, bool diff, bool log, struct snap_diff_ctx *c,
		    char *err, size_t errlen);
/* The chain record and, for a diff, the page list. */
void snap_diff_records(struct snap_writer *w, const struct snap_diff_ctx *c);
/* A diff's memory: its pages at their offsets, the rest (and zero pages) holes. */
int snap_diff_write_memory(const struct guest_mem *m, const struct snap_diff_ctx *c, int fd,
			   uint64_t *written);
/* The snapshot is written (ok: the next diff follows it) or failed (the log is as it was).
 * Frees what begin allocated. */
void snap_diff_end(struct domain *d, struct snap_diff_ctx *c, bool ok);

/* Mark again what the VMM writes through pointers it keeps (before a fetch). */
void snap_mark_kept(struct domain *d);
/* save.c: the state records of a paused domain into fd (a file, or a migration's socket). */
int snap_write_state(struct domain *d, int fd, uint32_t generation,
		     const struct snap_diff_ctx *dc, char *err, size_t len);

/* save.c: [off, end) of guest memory to fd at the same offsets, zero pages left as holes. */
int snap_write_range(const struct guest_mem *m, int fd, uint64_t off, uint64_t end,
		     uint64_t *written);

#endif
