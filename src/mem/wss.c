/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The write working-set estimator (include/capsule/wss.h): n pages drawn uniformly, with
 * replacement, from the domain's RAM (an HVM domain's PCI hole is not RAM), so the
 * fraction of them written is an unbiased estimate of the fraction of RAM written, with a
 * standard deviation of sqrt(f (1 - f) / n).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capsule/dirty.h"
#include "capsule/wss.h"

int wss_est_init(struct wss_est *e, const struct guest_mem *m, uint32_t n, uint64_t seed)
{
	memset(e, 0, sizeof(*e));
	if (n == 0 || n > WSS_SAMPLE_MAX)
		return -EINVAL;
	e->n = n;
	e->nr_pages = m->size / DIRTY_PAGE;
	e->nr_ram = gmem_ram_ranges(m, e->ram);
	for (unsigned i = 0; i < e->nr_ram; i++)
		e->ram_pages += (e->ram[i].end - e->ram[i].start) / DIRTY_PAGE;
	if (!e->ram_pages)
		return -EINVAL;
	e->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
	e->cur = calloc(n, sizeof(uint64_t));
	e->next = calloc(n, sizeof(uint64_t));
	e->mask = calloc(dirty_words(e->nr_pages), sizeof(uint64_t));
	if (!e->cur || !e->next || !e->mask) {
		wss_est_destroy(e);
		return -ENOMEM;
	}
	return 0;
}

void wss_est_destroy(struct wss_est *e)
{
	free(e->cur);
	free(e->next);
	free(e->mask);
	e->cur = e->next = e->mask = NULL;
}

static uint64_t next_random(struct wss_est *e)
{
	/* xorshift64* (Vigna): fast, and good enough to pick pages. */
	e->rng ^= e->rng >> 12;
	e->rng ^= e->rng << 25;
	e->rng ^= e->rng >> 27;
	return e->rng * 0x2545f4914f6cdd1dull;
}

void wss_est_pick(struct wss_est *e)
{
	memset(e->mask, 0, dirty_words(e->nr_pages) * sizeof(uint64_t));
	for (uint32_t i = 0; i < e->n; i++) {
		/* The high bits, scaled: no modulo bias worth the name below 2^32 pages. */
		uint64_t r = (uint64_t)(((unsigned __int128)next_random(e) * e->ram_pages) >> 64);
		uint64_t pfn = 0;

		for (unsigned k = 0; k < e->nr_ram; k++) {
			uint64_t pages = (e->ram[k].end - e->ram[k].start) / DIRTY_PAGE;

			if (r < pages) {
				pfn = e->ram[k].start / DIRTY_PAGE + r;
				break;
			}
			r -= pages;
		}
		e->next[i] = pfn;
		e->mask[pfn / 64] |= 1ull << (pfn % 64);
	}
}

void wss_est_first(struct wss_est *e)
{
	uint64_t *t;

	wss_est_pick(e);
	t = e->cur;
	e->cur = e->next;
	e->next = t;
}

double wss_est_period(struct wss_est *e, const uint64_t *dirty)
{
	uint32_t hits = 0;
	uint64_t *t;
	double f;

	for (uint32_t i = 0; i < e->n; i++)
		hits += (uint32_t)(dirty[e->cur[i] / 64] >> (e->cur[i] % 64) & 1);
	f = (double)hits / e->n;
	if (!e->periods) {
		e->fast = e->slow = f;
	} else {
		e->fast += WSS_ALPHA_FAST * (f - e->fast);
		e->slow += WSS_ALPHA_SLOW * (f - e->slow);
	}
	e->last = f;
	e->periods++;
	t = e->cur;
	e->cur = e->next;
	e->next = t;
	return f;
}
