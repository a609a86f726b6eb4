/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The console ring file (capsule run --console-log PATH): the console's history mirrored
 * into a shared mapping of a file, so that it survives the VMM (a crash, a kill -9) and a
 * manager (capsuled) can read it without asking the VMM. The writer is the VMM alone:
 * data first, then total with a release store; a reader loads total (acquire), copies, and
 * trusts only bytes the writer cannot have overwritten meanwhile. Everything in the file
 * is checked by the reader: it may be stale, truncated or written by someone else.
 */
#ifndef CAPSULE_CONSOLE_RING_H
#define CAPSULE_CONSOLE_RING_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#define CONSOLE_RING_MAGIC "CAPCONS1"
#define CONSOLE_RING_DATA (64u << 10) /* the same as CONSOLE_LOG_SIZE */

struct console_ring_head {
	char magic[8];
	uint64_t size;  /* CONSOLE_RING_DATA */
	uint64_t total; /* bytes ever written; byte i is at data[i % size] */
	uint64_t reserved;
};
static_assert(sizeof(struct console_ring_head) == 32, "the file format");

#define CONSOLE_RING_FILE_SIZE (sizeof(struct console_ring_head) + CONSOLE_RING_DATA)

/*
 * From a mapping of the file (len bytes): copy the last min(cap, kept) bytes written after
 * byte `from` (bytes ever written, as a position) into out, oldest first; how many, with
 * *total set to the writer's count. A bad header: -1.
 */
static inline long console_ring_read(const void *map, size_t len, uint64_t from, char *out,
				     size_t cap, uint64_t *total)
{
	const struct console_ring_head *h = map;
	const char *data = (const char *)map + sizeof(*h);
	uint64_t t, start, n;

	if (len < CONSOLE_RING_FILE_SIZE || __builtin_memcmp(h->magic, CONSOLE_RING_MAGIC, 8) ||
	    h->size != CONSOLE_RING_DATA)
		return -1;
	t = __atomic_load_n(&h->total, __ATOMIC_ACQUIRE);
	start = t > CONSOLE_RING_DATA ? t - CONSOLE_RING_DATA : 0;
	if (from > start && from <= t)
		start = from;
	n = t - start;
	if (n > cap) {
		start += n - cap;
		n = cap;
	}
	for (uint64_t i = 0; i < n; i++)
		out[i] = data[(start + i) % CONSOLE_RING_DATA];
	*total = t;
	return (long)n;
}

#endif
