/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A restored domain's working set (docs/snapshot.md, "Working-set prefetch"): the pages it
 * touched some time after a restore, recorded into DIR/workingset, and read back into the
 * page tables before the vCPUs start on the next restore from DIR (REAP, ASPLOS 2021).
 *
 * The file, little-endian: a 32-byte header (magic "CAPSWSET", u32 version 1, u32 page
 * size 4096, u64 memory bytes, u64 number of ranges), then per range u64 first page and
 * u64 pages, sorted, not overlapping, inside memory. Anything else is refused whole.
 */
#ifndef CAPSULE_WORKINGSET_H
#define CAPSULE_WORKINGSET_H

#include <stddef.h>
#include <stdint.h>

struct guest_mem;

#define WS_MAGIC "CAPSWSET"
#define WS_VERSION 1u
#define WS_PAGE 4096u
#define WS_HEADER 32u
#define WS_MAX_BYTES (64u << 20) /* a file larger than this is not one of ours */

struct ws_range {
	uint64_t first, pages;
};

struct workingset {
	struct ws_range *r;
	uint64_t nr, pages; /* ranges, and pages in them */
};

/* Check a whole file against a memory of mem_bytes: 0 and *ws (free with ws_free), or
 * -EINVAL with what is wrong in err. */
int ws_parse(const void *buf, size_t len, uint64_t mem_bytes, struct workingset *ws,
	     char *err, size_t errlen);
/* Read and check DIR/workingset: 0, -ENOENT (none), or -EINVAL / -errno with err. */
int ws_load(const char *dir, uint64_t mem_bytes, struct workingset *ws, char *err,
	    size_t errlen);
void ws_free(struct workingset *ws);
/* Populate every range of m's mapping (MADV_POPULATE_READ, else MADV_WILLNEED): the
 * pages populated, or -errno. */
int64_t ws_prefetch(const struct guest_mem *m, const struct workingset *ws);
/* The pages of m present in this process's page tables, read through pagemap_fd (an open
 * /proc/self/pagemap), written as a working-set file to out_fd: 0 and the counts, or
 * -errno with err. */
int ws_record(const struct guest_mem *m, int pagemap_fd, int out_fd, uint64_t *pages,
	      uint64_t *ranges, char *err, size_t errlen);

#endif
