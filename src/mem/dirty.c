/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM's dirty bitmap and the users' sinks (include/capsule/dirty.h): marked by the
 * guest-memory door while some user logs, with atomic word operations, because device
 * threads, vCPU threads and the API thread hand out pointers at the same time as a harvest
 * clears the words. The sinks are touched only under the lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capsule/dirty.h"

static void free_dirty(struct gmem_dirty *d);

int gmem_dirty_alloc(struct guest_mem *m)
{
	uint64_t pages = m->size / DIRTY_PAGE, words = dirty_words(pages);
	struct gmem_dirty *d;
	bool ok;

	if (m->dirty)
		return 0;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->nr_pages = pages;
	d->bits = calloc(words, sizeof(uint64_t));
	d->kvm_bits = calloc(words, sizeof(uint64_t));
	d->vmm_bits = calloc(words, sizeof(uint64_t));
	ok = d->bits && d->kvm_bits && d->vmm_bits;
	for (unsigned u = 0; u < DIRTY_USERS; u++) {
		d->sink[u].guest = calloc(words, sizeof(uint64_t));
		d->sink[u].vmm = calloc(words, sizeof(uint64_t));
		ok = ok && d->sink[u].guest && d->sink[u].vmm;
	}
	pthread_mutex_init(&d->lock, NULL);
	if (!ok) {
		free_dirty(d);
		return -ENOMEM;
	}
	/* Published once and freed only by gmem_destroy: a thread that loaded the pointer
	 * may go on marking through it after a stop. */
	__atomic_store_n(&m->dirty, d, __ATOMIC_RELEASE);
	return 0;
}

void gmem_dirty_free(struct guest_mem *m)
{
	if (m->dirty)
		free_dirty(m->dirty);
	m->dirty = NULL;
}

static void free_dirty(struct gmem_dirty *d)
{
	for (unsigned u = 0; u < DIRTY_USERS; u++) {
		free(d->sink[u].guest);
		free(d->sink[u].vmm);
	}
	free(d->bits);
	free(d->kvm_bits);
	free(d->vmm_bits);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static void zero(uint64_t *bits, uint64_t words)
{
	memset(bits, 0, words * sizeof(uint64_t));
}

void gmem_dirty_user_on(struct guest_mem *m, enum dirty_user u)
{
	struct gmem_dirty *d = m->dirty;
	uint64_t words = dirty_words(d->nr_pages);

	if (!__atomic_load_n(&d->on, __ATOMIC_ACQUIRE)) /* the first user: no stale marks */
		for (uint64_t i = 0; i < words; i++)
			__atomic_store_n(&d->bits[i], 0, __ATOMIC_RELAXED);
	zero(d->sink[u].guest, words);
	zero(d->sink[u].vmm, words);
	d->sink[u].on = true;
	__atomic_store_n(&d->on, true, __ATOMIC_SEQ_CST);
}

void gmem_dirty_user_off(struct guest_mem *m, enum dirty_user u)
{
	struct gmem_dirty *d = m->dirty;
	bool any = false;

	d->sink[u].on = false;
	for (unsigned i = 0; i < DIRTY_USERS; i++)
		any = any || d->sink[i].on;
	if (!any)
		__atomic_store_n(&d->on, false, __ATOMIC_SEQ_CST);
}

bool gmem_dirty_user_is_on(const struct guest_mem *m, enum dirty_user u)
{
	struct gmem_dirty *d = __atomic_load_n(&m->dirty, __ATOMIC_ACQUIRE);
	bool on;

	if (!d)
		return false;
	pthread_mutex_lock(&d->lock);
	on = d->sink[u].on;
	pthread_mutex_unlock(&d->lock);
	return on;
}

void gmem_dirty_collect(struct guest_mem *m, const uint64_t *kvm)
{
	struct gmem_dirty *d = m->dirty;
	uint64_t words = dirty_words(d->nr_pages);

	for (uint64_t i = 0; i < words; i++)
		d->vmm_bits[i] = __atomic_exchange_n(&d->bits[i], 0, __ATOMIC_ACQ_REL);
	for (unsigned u = 0; u < DIRTY_USERS; u++) {
		struct dirty_sink *s = &d->sink[u];

		if (!s->on)
			continue;
		for (uint64_t i = 0; i < words; i++) {
			s->vmm[i] |= d->vmm_bits[i];
			if (kvm)
				s->guest[i] |= kvm[i];
		}
	}
}

void gmem_dirty_take(struct guest_mem *m, enum dirty_user u, uint64_t *guest, uint64_t *vmm)
{
	struct gmem_dirty *d = m->dirty;
	struct dirty_sink *s = &d->sink[u];

	for (uint64_t i = 0; i < dirty_words(d->nr_pages); i++) {
		guest[i] |= s->guest[i];
		vmm[i] |= s->vmm[i];
		s->guest[i] = s->vmm[i] = 0;
	}
}

int gmem_dirty_start(struct guest_mem *m)
{
	int rc = gmem_dirty_alloc(m);

	if (rc)
		return rc;
	pthread_mutex_lock(&m->dirty->lock);
	gmem_dirty_user_on(m, DIRTY_TRACK);
	pthread_mutex_unlock(&m->dirty->lock);
	return 0;
}

void gmem_dirty_stop(struct guest_mem *m)
{
	if (!m->dirty)
		return;
	pthread_mutex_lock(&m->dirty->lock);
	gmem_dirty_user_off(m, DIRTY_TRACK);
	pthread_mutex_unlock(&m->dirty->lock);
}

bool gmem_dirty_on(const struct guest_mem *m)
{
	return gmem_dirty_user_is_on(m, DIRTY_TRACK);
}

bool gmem_dirty_marking(const struct guest_mem *m)
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

void gmem_dirty_fetch(struct guest_mem *m, uint64_t *out)
{
	struct gmem_dirty *d = __atomic_load_n(&m->dirty, __ATOMIC_ACQUIRE);

	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	gmem_dirty_collect(m, NULL);
	gmem_dirty_take(m, DIRTY_TRACK, out, out);
	pthread_mutex_unlock(&d->lock);
}

void gmem_dirty_unfetch(struct guest_mem *m, const uint64_t *bitmap)
{
	struct gmem_dirty *d = __atomic_load_n(&m->dirty, __ATOMIC_ACQUIRE);

	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	for (uint64_t i = 0; d->sink[DIRTY_TRACK].on && i < dirty_words(d->nr_pages); i++)
		d->sink[DIRTY_TRACK].vmm[i] |= bitmap[i];
	pthread_mutex_unlock(&d->lock);
}
