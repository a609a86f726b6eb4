/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The working set of a restored domain (include/capsule/workingset.h, docs/snapshot.md):
 * recorded from /proc/self/pagemap (the present bit over the guest mapping: a snapshot's
 * memory is a private file mapping, where userfaultfd's missing mode does not reach), and
 * prefetched on the next restore with MADV_POPULATE_READ before the vCPUs start.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capsule/sysfile.h"
#include "capsule/mem.h"
#include "capsule/workingset.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

#define BAD(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void ws_free(struct workingset *ws)
{
	free(ws->r);
	memset(ws, 0, sizeof(*ws));
}

int ws_parse(const void *buf, size_t len, uint64_t mem_bytes, struct workingset *ws,
	     char *err, size_t errlen)
{
	const uint8_t *b = buf;
	uint64_t nr, mem_pages = mem_bytes / WS_PAGE, next = 0, total = 0;
	uint32_t version, page;

	memset(ws, 0, sizeof(*ws));
	if (len < WS_HEADER)
		return BAD("%zu bytes: shorter than its %u-byte header", len, WS_HEADER);
	if (memcmp(b, WS_MAGIC, 8))
		return BAD("not a working-set file (bad magic)");
	version = (uint32_t)get64(b + 8);
	page = (uint32_t)(get64(b + 8) >> 32);
	if (version != WS_VERSION)
		return BAD("format version %u; this build reads version %u", version, WS_VERSION);
	if (page != WS_PAGE)
		return BAD("page size %u; this host's is %u", page, WS_PAGE);
	if (get64(b + 16) != mem_bytes)
		return BAD("recorded for %llu bytes of memory; the snapshot has %llu",
			   (unsigned long long)get64(b + 16), (unsigned long long)mem_bytes);
	nr = get64(b + 24);
	/* Ranges do not touch one another, so there are at most half the pages, plus one. */
	if (nr > mem_pages / 2 + 1 || (len - WS_HEADER) / 16 != nr || (len - WS_HEADER) % 16)
		return BAD("%llu ranges in %zu bytes: truncated or absurd",
			   (unsigned long long)nr, len);
	ws->r = calloc(nr ? nr : 1, sizeof(*ws->r));
	if (!ws->r)
		return BAD("out of memory");
	for (uint64_t i = 0; i < nr; i++) {
		uint64_t first = get64(b + WS_HEADER + 16 * i), pages = get64(b + WS_HEADER + 16 * i + 8);

		const char *why = pages == 0 ? "is empty"
				  : first < next ? "overlaps or precedes the one before"
				  : first > mem_pages || pages > mem_pages - first ? "lies past memory"
				  : NULL;

		if (why) {
			ws_free(ws);
			return BAD("range %llu (page %llu, %llu pages) %s (%llu pages)",
				   (unsigned long long)i, (unsigned long long)first,
				   (unsigned long long)pages, why, (unsigned long long)mem_pages);
		}
		ws->r[i] = (struct ws_range){first, pages};
		next = first + pages;
		total += pages;
	}
	ws->nr = nr;
	ws->pages = total;
	return 0;
}

int ws_load(const char *dir, uint64_t mem_bytes, struct workingset *ws, char *err,
	    size_t errlen)
{
	char path[4200];
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd, rc;

	memset(ws, 0, sizeof(*ws));
	snprintf(path, sizeof(path), "%s/workingset", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return -ENOENT;
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > WS_MAX_BYTES) {
		close(fd);
		return BAD("%s: not a regular file of at most %u bytes", path, WS_MAX_BYTES);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return BAD("out of memory");
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	rc = ws_parse(buf, got, mem_bytes, ws, err, errlen);
	free(buf);
	return rc;
}

int64_t ws_prefetch(const struct guest_mem *m, const struct workingset *ws)
{
	int64_t done = 0;

	for (uint64_t i = 0; i < ws->nr; i++) {
		uint64_t off = ws->r[i].first * WS_PAGE, len = ws->r[i].pages * WS_PAGE;

		if (off > m->size || len > m->size - off)
			return -EINVAL; /* ws_parse checked it against the snapshot's size */
		if (madvise(m->host + off, len, MADV_POPULATE_READ) < 0) {
			if (errno != EINVAL && errno != ENOSYS)
				return -errno;
			madvise(m->host + off, len, MADV_WILLNEED); /* a kernel before 5.14 */
		}
		done += (int64_t)ws->r[i].pages;
	}
	return done;
}

#define PAGEMAP_PRESENT (1ull << 63)
#define PAGEMAP_SWAPPED (1ull << 62)
#define CHUNK 512

int ws_record(const struct guest_mem *m, int pagemap_fd, int out_fd, uint64_t *pages,
	      uint64_t *ranges, char *err, size_t errlen)
{
	uint64_t npages = m->size / WS_PAGE, base = (uintptr_t)m->host / WS_PAGE;
	uint64_t ent[CHUNK], nr = 0, total = 0, start = 0;
	uint8_t out[CHUNK * 16], hdr[WS_HEADER];
	size_t fill = 0;
	off_t off = WS_HEADER;
	int in = 0, rc;

	for (uint64_t p = 0; p < npages; p += CHUNK) {
		size_t want = (size_t)(npages - p < CHUNK ? npages - p : CHUNK);
		ssize_t n = pread(pagemap_fd, ent, want * 8, (off_t)((base + p) * 8));

		if (n != (ssize_t)(want * 8)) {
			snprintf(err, errlen, "cannot read the page map: %s",
				 n < 0 ? strerror(errno) : "short read");
			return n < 0 ? -errno : -EIO;
		}
		for (size_t i = 0; i <= want; i++) {
			uint64_t page = p + i;
			int here = i < want && (ent[i] & (PAGEMAP_PRESENT | PAGEMAP_SWAPPED));

			if (i == want && page < npages)
				break; /* the next chunk goes on */
			if (here && !in) {
				start = page;
				in = 1;
			} else if (!here && in) {
				put64(out + fill, start);
				put64(out + fill + 8, page - start);
				fill += 16;
				nr++;
				total += page - start;
				in = 0;
				if (fill == sizeof(out)) {
					if ((rc = pwrite_all(out_fd, out, fill, off)))
						goto wfail;
					off += (off_t)fill;
					fill = 0;
				}
			}
		}
	}
	if (fill && (rc = pwrite_all(out_fd, out, fill, off)))
		goto wfail;
	off += (off_t)fill;
	memcpy(hdr, WS_MAGIC, 8);
	put64(hdr + 8, (uint64_t)WS_PAGE << 32 | WS_VERSION);
	put64(hdr + 16, m->size);
	put64(hdr + 24, nr);
	if ((rc = pwrite_all(out_fd, hdr, sizeof(hdr), 0)) ||
	    (ftruncate(out_fd, off) < 0 && (rc = -errno)) || (fdatasync(out_fd) < 0 && (rc = -errno)))
		goto wfail;
	*pages = total;
	*ranges = nr;
	return 0;
wfail:
	snprintf(err, errlen, "cannot write the working set: %s", strerror(-rc));
	return rc;
}
