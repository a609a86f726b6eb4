/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM's dirty bitmap (include/capsule/dirty.h): marked by the guest-memory door while
 * logging is on, with atomic word operations, because device threads, vCPU threads and
 * the API thread hand out pointers at the same time as a fetch clears the words.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capsule/dirty.h"

int gmem_dirty_start(struct guest_mem *m)
{
	struct gmem_dirty *d = m->dirty;

	if (!d) {
		uint64_t pages = m->size / DIRTY_PAGE;

		d = calloc(1, sizeof(*d));
		if (!d)
			return -ENOMEM;
		d->nr_pages = pages;
		d->bits = calloc(dirty_words(pages), sizeof(uint64_t));
		d->kvm_bits = calloc(dirty_words(pages), sizeof(uint64_t));
		if (!d->bits || !d->kvm_bits) {
			free(d->bits);
			free(d->kvm_bits);
			free(d);
			return -ENOMEM;
		}
		/* Published once and freed only by gmem_destroy: a thread that loaded the
		 * pointer may go on marking through it after a stop. */
		__atomic_store_n(&m->dirty, d, __ATOMIC_RELEASE);
	}
	for (uint64_t i = 0; i < dirty_words(d->nr_pages); i++)
		__atomic_store_n(&d->bits[i], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&d->on, true, __ATOMIC_SEQ_CST);
	return 0;
}

void gmem_dirty_stop(struct guest_mem *m)
{
	if (m->dirty)
		__atomic_store_n(&m->dirty->on, false, __ATOMIC_SEQ_CST);
}

bool gmem_dirty_on(const struct guest_mem *m)
{
	struct gmem_dirty *d = __atomic_load_n(&m->dirty, __ATOMIC_ACQUIRE);

	return d && __atomic_load_n(&d->on, __ATOMIC_ACQUIRE);
}

void gmem_dirty_mark(const struct guest_mem *m, gpa_t gpa, uint64_t len)
{
	struct gmem_dirty *d = __atomic_load_n(&m->dirty, __ATOMIC_ACQUIRE);
	uint64_t first, last;

	if (!d || !len || !__atomic_load_n(&d->on, __ATOMIC_ACQUIRE) || gpa >= m->size ||
	    len > m->size - gpa)
		return;
	first = gpa / DIRTY_PAGE;
	last = (gpa + len - 1) / DIRTY_PAGE;
	while (first <= last) {
		unsigned bit = (unsigned)(first % 64);
		uint64_t n = last - first + 1 < 64 - bit ? last - first + 1 : 64 - bit;
		uint64_t mask = (n == 64 ? ~0ull : ((1ull << n) - 1)) << bit;

		__atomic_fetch_or(&d->bits[first / 64], mask, __ATOMIC_RELAXED);
		first += n;
	}
}

void gmem_dirty_fetch(const struct guest_mem *m, uint64_t *out)
{
	struct gmem_dirty *d = __atomic_load_n(&m->dirty, __ATOMIC_ACQUIRE);

	if (!d)
		return;
	for (uint64_t i = 0; i < dirty_words(d->nr_pages); i++)
		out[i] |= __atomic_exchange_n(&d->bits[i], 0, __ATOMIC_ACQ_REL);
}

void gmem_dirty_unfetch(const struct guest_mem *m, const uint64_t *bitmap)
{
	struct gmem_dirty *d = __atomic_load_n(&m->dirty, __ATOMIC_ACQUIRE);

	if (!d)
		return;
	for (uint64_t i = 0; i < dirty_words(d->nr_pages); i++)
		if (bitmap[i])
			__atomic_fetch_or(&d->bits[i], bitmap[i], __ATOMIC_RELAXED);
}
