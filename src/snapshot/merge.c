/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Folding a chain of diff snapshots into a full one (docs/snapshot.md): the base's memory,
 * then each diff's pages in order, and the state of the last diff without its page list.
 * Every link is checked first (each diff names the one before it as its parent, same
 * domain kind and memory size), so a merge of the wrong chain writes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capsule/snapshot.h"

#define PAGE 4096u
#define CHUNK (2u << 20)

struct link {
	const char *dir;
	void *buf;
	size_t len;
	struct snap_parsed p;
	int mem_fd;
};

static int load(struct link *l, char *err, size_t errlen)
{
	char path[4200], why[400];
	struct stat st;
	size_t done = 0;
	int fd;

	l->mem_fd = -1;
	snprintf(path, sizeof(path), "%s/state", l->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > SNAP_MAX_STATE) {
		snprintf(err, errlen, "%s: %s", path, fd < 0 ? strerror(errno) : "not a state file");
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	l->buf = malloc((size_t)st.st_size + 8);
	while (l->buf && done < (size_t)st.st_size) {
		ssize_t n = read(fd, (char *)l->buf + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	if (!l->buf || done != (size_t)st.st_size) {
		snprintf(err, errlen, "%s: cannot read it", path);
		return -EIO;
	}
	l->len = done;
	if (snap_parse(l->buf, l->len, &l->p, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s", path, why);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/memory", l->dir);
	l->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (l->mem_fd < 0 || fstat(l->mem_fd, &st) < 0 ||
	    (uint64_t)st.st_size != l->p.header.mem_bytes) {
		snprintf(err, errlen, "%s: %s", path, l->mem_fd < 0 ? strerror(errno)
			 : "its size is not the memory size the state gives");
		return -EINVAL;
	}
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	return !p[0] && !memcmp(p, p + 1, n - 1);
}

static int pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	for (size_t done = 0; done < n;) {
		ssize_t k = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		done += (size_t)k;
	}
	return 0;
}

/* [off, off + n) of src onto out at the same offsets: zero pages become holes. */
static int copy_pages(int src, int out, uint64_t off, uint64_t n, uint8_t *buf)
{
	while (n) {
		uint64_t run = n < CHUNK ? n : CHUNK;
		int rc = pread_all(src, buf, run, off);

		if (rc)
			return rc;
		for (uint64_t p = 0; p < run; p += PAGE) {
			if (all_zero(buf + p, PAGE)) {
				if (fallocate(out, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					      (off_t)(off + p), PAGE) < 0)
					return -errno;
			} else if (pwrite(out, buf + p, PAGE, (off_t)(off + p)) != PAGE) {
				return -EIO;
			}
		}
		off += run;
		n -= run;
	}
	return 0;
}

/* The base's memory where it has data (SEEK_DATA), the rest holes. */
static int copy_base(int src, int out, uint64_t size, uint8_t *buf)
{
	uint64_t off = 0;

	while (off < size) {
		off_t data = lseek(src, (off_t)off, SEEK_DATA), hole;
		int rc;

		if (data < 0)
			return errno == ENXIO ? 0 : -errno;
		hole = lseek(src, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		data &= ~(off_t)(PAGE - 1);
		if ((uint64_t)hole > size)
			hole = (off_t)size;
		hole = (hole + PAGE - 1) & ~(off_t)(PAGE - 1);
		rc = copy_pages(src, out, (uint64_t)data, (uint64_t)(hole - data), buf);
		if (rc)
			return rc;
		off = (uint64_t)hole;
	}
	return 0;
}

static int apply_diff(const struct link *l, int out, uint8_t *buf)
{
	const struct snap_pages *pg = l->p.pages;

	for (uint64_t pfn = 0; pfn < pg->nr_pages;) {
		uint64_t end;
		int rc;

		if (!(pg->bits[pfn / 64] >> (pfn % 64) & 1)) {
			pfn++;
			continue;
		}
		for (end = pfn + 1; end < pg->nr_pages && (pg->bits[end / 64] >> (end % 64) & 1);)
			end++;
		rc = copy_pages(l->mem_fd, out, pfn * PAGE, (end - pfn) * PAGE, buf);
		if (rc)
			return rc;
		pfn = end;
	}
	return 0;
}

struct rec_head {
	uint32_t type, flags;
	uint64_t len;
};

/* The last diff's records (checked by snap_parse), as a full snapshot's: no page list, a
 * chain record with its id and no parent. */
static int write_state(const struct link *l, int fd)
{
	struct snap_chain chain = *l->p.chain;
	const uint8_t *b = l->buf;
	struct snap_writer w;
	size_t off = sizeof(struct snap_header);

	memset(chain.parent, 0, sizeof(chain.parent));
	chain.depth = 0;
	snap_writer_init(&w, fd, &l->p.header);
	for (;;) {
		struct rec_head h;

		memcpy(&h, b + off, sizeof(h));
		if (h.type == SNAP_END)
			break;
		if (h.type == SNAP_CHAIN)
			snap_write(&w, SNAP_CHAIN, h.flags, &chain, sizeof(chain));
		else if (h.type != SNAP_PAGES)
			snap_write(&w, h.type, h.flags, b + off + sizeof(h), (size_t)h.len);
		off += sizeof(h) + (size_t)((h.len + 7) & ~7ull);
	}
	return snap_writer_finish(&w);
}

static void hex(char *out, const uint8_t *id)
{
	for (unsigned i = 0; i < SNAP_ID_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

int snapshot_merge(const char *base, const char *const *diffs, unsigned n, const char *out,
		   char *err, size_t errlen)
{
	struct link *l = calloc(n + 1, sizeof(*l));
	uint8_t *buf = malloc(CHUNK);
	int fds[2] = {-1, -1}, rc = -EINVAL;
	char a[2 * SNAP_ID_LEN + 1], b[2 * SNAP_ID_LEN + 1];

	if (!l || !buf || !n) {
		snprintf(err, errlen, !n ? "no diff to merge" : "out of memory");
		goto out;
	}
	for (unsigned i = 0; i <= n; i++) {
		l[i].dir = i ? diffs[i - 1] : base;
		if ((rc = load(&l[i], err, errlen)))
			goto out;
	}
	rc = -EINVAL;
	if (l[0].p.pages) {
		snprintf(err, errlen, "%s is a diff snapshot: the chain starts at a full one", base);
		goto out;
	}
	for (unsigned i = 1; i <= n; i++) {
		const struct snap_parsed *p = &l[i].p, *q = &l[i - 1].p;

		if (!p->pages) {
			snprintf(err, errlen, "%s is a full snapshot, not a diff", l[i].dir);
			goto out;
		}
		if (!q->chain || memcmp(p->chain->parent, q->chain->id, SNAP_ID_LEN)) {
			hex(a, p->chain->parent);
			if (q->chain)
				hex(b, q->chain->id);
			snprintf(err, errlen, "%s follows snapshot %s, but %s is %s", l[i].dir, a,
				 l[i - 1].dir, q->chain ? b : "a snapshot without an id");
			goto out;
		}
		if (p->header.mem_bytes != q->header.mem_bytes || p->header.kind != q->header.kind) {
			snprintf(err, errlen, "%s is not of the same domain as %s (memory size or "
				 "kind)", l[i].dir, l[i - 1].dir);
			goto out;
		}
	}
	if ((rc = snapdir_begin(out, fds, err, errlen)))
		goto out;
	if (ftruncate(fds[1], (off_t)l[0].p.header.mem_bytes) < 0)
		rc = -errno;
	if (!rc)
		rc = copy_base(l[0].mem_fd, fds[1], l[0].p.header.mem_bytes, buf);
	for (unsigned i = 1; !rc && i <= n; i++)
		rc = apply_diff(&l[i], fds[1], buf);
	if (!rc)
		rc = write_state(&l[n], fds[0]);
	if (!rc && (fdatasync(fds[0]) < 0 || fdatasync(fds[1]) < 0))
		rc = -errno;
	if (rc)
		snprintf(err, errlen, "cannot write %s: %s", out, strerror(-rc));
	if (snapdir_end(out, fds, rc == 0) && !rc) {
		rc = -EIO;
		snprintf(err, errlen, "cannot put the merged snapshot in place in %s", out);
	}
out:
	for (unsigned i = 0; l && i <= n; i++) { /* calloc: an entry not reached has fd 0 */
		if (l[i].mem_fd > 0)
			close(l[i].mem_fd);
		free(l[i].buf);
	}
	free(l);
	free(buf);
	return rc;
}
