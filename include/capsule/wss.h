/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The write working set by statistical sampling (docs/resources.md), after VMware ESX
 * (Waldspurger, OSDI 2002, section 5.3): every period, n pages picked at random are
 * write-protected through KVM's dirty log (include/capsule/dirty.h, user DIRTY_SAMPLE);
 * at the period's end the fraction of them written estimates the fraction of the domain's
 * memory it writes. A fast and a slow exponentially weighted moving average smooth it, and
 * the estimate is their maximum: it follows a rise at once and a fall slowly.
 *
 *   src/mem/wss.c     the estimator: picking, counting, averaging (no KVM, no threads)
 *   src/domain/wss.c  the sampler thread of a domain's boot, and its report
 *
 * What it sees: writes by the guest's vCPUs, and the pages the VMM's door handed out while
 * it runs (device DMA: buffers a device fills, used rings; reads too, conservatively). What
 * it cannot see: reads: a domain that only reads its working set looks idle.
 */
#ifndef CAPSULE_WSS_H
#define CAPSULE_WSS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "capsule/mem.h"

#define WSS_PERIOD_MS_DEFAULT 1000
#define WSS_PERIOD_MS_MIN 50
#define WSS_PERIOD_MS_MAX 60000
#define WSS_SAMPLE_DEFAULT 256 /* pages per period: one sample's sd is at most 0.031 */
#define WSS_SAMPLE_MAX 65536
#define WSS_ALPHA_FAST 0.5    /* weight of the newest period: half-life one period */
#define WSS_ALPHA_SLOW 0.125  /* half-life about five periods */

/* ---- the estimator (src/mem/wss.c) ---- */
struct wss_est {
	uint32_t n;            /* pages per sample */
	uint64_t nr_pages;     /* of the whole memory (bitmap size) */
	struct gmem_range ram[2];
	unsigned nr_ram;
	uint64_t ram_pages;    /* pages in ram[] */
	uint64_t rng;          /* xorshift64* state, never 0 */
	uint64_t *cur, *next;  /* n page numbers each: this period's sample, the next one's */
	uint64_t *mask;        /* the next sample as a bitmap (the pages to protect) */
	uint64_t periods;
	double last, fast, slow; /* fractions 0..1 */
};

/* For m's RAM, n pages a sample: 0, -EINVAL (n 0 or above WSS_SAMPLE_MAX) or -ENOMEM. */
int wss_est_init(struct wss_est *e, const struct guest_mem *m, uint32_t n, uint64_t seed);
void wss_est_destroy(struct wss_est *e);
/* Pick the next sample at random into e->next and e->mask; wss_est_first: the first one,
 * into e->cur (and e->mask). A period: pick, fetch the log protecting e->mask, and call
 * wss_est_period with what it reported. */
void wss_est_pick(struct wss_est *e);
void wss_est_first(struct wss_est *e);
/* The period ended with `dirty` (a bitmap of the whole memory): the current sample's
 * fraction written, averaged in; then next becomes current. Returns the fraction. */
double wss_est_period(struct wss_est *e, const uint64_t *dirty);
static inline double wss_est_estimate(const struct wss_est *e)
{
	return e->fast > e->slow ? e->fast : e->slow;
}

/* ---- a domain's sampler (src/domain/wss.c) ---- */
struct domain;

enum wss_state { WSS_OFF, WSS_STARTING, WSS_SAMPLING, WSS_STOPPED };

/* What the API reports, a copy taken under the sampler's lock. */
struct wss_report {
	enum wss_state state;
	const char *why;       /* WSS_STOPPED/WSS_OFF: why, or NULL */
	uint32_t period_ms, sample;
	uint64_t periods, mem_bytes;
	double last, fast, slow, estimate;
};

struct wss_sampler {
	pthread_mutex_t lock;  /* the report, and the stop flag */
	pthread_cond_t cond;
	bool stop, running;
	pthread_t thread;
	struct vm *vm;         /* of the boot it samples */
	struct wss_report rep;
};

void wss_init(struct wss_sampler *w);
/* Start sampling the domain's current boot if its configuration asks (a thread that
 * waits one period first). Failure only logs: the domain runs on unsampled. */
void wss_start(struct domain *d);
/* End the boot's sampling (joins the thread); call without d->lock. */
void wss_stop(struct domain *d);
void wss_report(struct domain *d, struct wss_report *out);
const char *wss_state_name(enum wss_state s);

#endif
