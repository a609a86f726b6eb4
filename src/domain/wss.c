/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A domain's write working-set sampler (include/capsule/wss.h): one thread per boot that,
 * every period, fetches the dirty log's DIRTY_SAMPLE share for the sample it protected a
 * period before, averages the fraction written in, and protects the next sample. It takes
 * the domain's lock around each fetch, so that it never races introspection relaying the
 * memory slots: a watch takes the slots (src/introspect/watch.c stops the sampling first),
 * and the sampler then ends for that boot.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "capsule/dirty.h"
#include "capsule/domain.h"
#include "capsule/log.h"
#include "capsule/wss.h"

static const char *const state_names[] = {
	[WSS_OFF] = "off", [WSS_STARTING] = "starting", [WSS_SAMPLING] = "sampling",
	[WSS_STOPPED] = "stopped",
};

const char *wss_state_name(enum wss_state s)
{
	return s <= WSS_STOPPED ? state_names[s] : "?";
}

void wss_init(struct wss_sampler *w)
{
	pthread_condattr_t ca;

	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	w->rep.why = "not started";
}

/* Wait one period, or until stopped: false when stopped. */
static bool wait_period(struct wss_sampler *w)
{
	struct timespec until;
	bool go;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += (long)(w->rep.period_ms % 1000) * 1000000L;
	until.tv_sec += w->rep.period_ms / 1000 + until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&w->lock);
	while (!w->stop && pthread_cond_timedwait(&w->cond, &w->lock, &until) != ETIMEDOUT)
		;
	go = !w->stop;
	pthread_mutex_unlock(&w->lock);
	return go;
}

static void set_state(struct wss_sampler *w, enum wss_state s, const char *why)
{
	pthread_mutex_lock(&w->lock);
	w->rep.state = s;
	w->rep.why = why;
	pthread_mutex_unlock(&w->lock);
}

/* One fetch under the domain's lock: 0, or why the sampling ends. */
static const char *step(struct domain *d, struct wss_est *e, uint64_t *dirty, bool first)
{
	struct vm *vm = d->wss.vm;
	const char *why = NULL;
	int rc;

	pthread_mutex_lock(&d->lock);
	if (vm->watches) {
		why = "introspection's watches hold the memory slots";
	} else if (first) {
		wss_est_first(e);
		if ((rc = vm_dirty_sample_start(vm, e->mask)))
			why = "cannot start the dirty log";
	} else {
		wss_est_pick(e);
		if ((rc = vm_dirty_sample_fetch(vm, e->mask, dirty)))
			why = rc == -ENOENT ? "the dirty log was taken" : "cannot read the dirty log";
	}
	pthread_mutex_unlock(&d->lock);
	return why;
}

static void *sampler(void *arg)
{
	struct domain *d = arg;
	struct wss_sampler *w = &d->wss;
	uint64_t seed = 0, *dirty;
	struct wss_est e;
	const char *why = NULL;

	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = monotonic_ns();
	dirty = calloc(dirty_words(w->vm->mem.size / DIRTY_PAGE), sizeof(uint64_t));
	if (!dirty || wss_est_init(&e, &w->vm->mem, w->rep.sample, seed)) {
		free(dirty);
		set_state(w, WSS_STOPPED, "out of memory");
		return NULL;
	}
	/* A period after the start: the boot's own first writes (loading, zeroing) are not
	 * what it will keep writing. */
	if (wait_period(w) && !(why = step(d, &e, dirty, true))) {
		set_state(w, WSS_SAMPLING, NULL);
		while (wait_period(w) && !(why = step(d, &e, dirty, false))) {
			wss_est_period(&e, dirty);
			pthread_mutex_lock(&w->lock);
			w->rep.periods = e.periods;
			w->rep.last = e.last;
			w->rep.fast = e.fast;
			w->rep.slow = e.slow;
			w->rep.estimate = wss_est_estimate(&e);
			pthread_mutex_unlock(&w->lock);
		}
	}
	if (why) {
		log_info("domain %s: write working-set sampling stops: %s", d->cfg.name, why);
		set_state(w, WSS_STOPPED, why);
	}
	pthread_mutex_lock(&d->lock);
	vm_dirty_sample_stop(w->vm);
	pthread_mutex_unlock(&d->lock);
	wss_est_destroy(&e);
	free(dirty);
	return NULL;
}

void wss_start(struct domain *d)
{
	struct wss_sampler *w = &d->wss;

	pthread_mutex_lock(&w->lock);
	w->rep = (struct wss_report){.state = WSS_OFF, .why = "wss_sample_pages is 0",
				     .period_ms = d->cfg.wss_period_ms, .sample = d->cfg.wss_sample,
				     .mem_bytes = d->vm->mem.size};
	w->stop = false;
	w->vm = d->vm;
	if (d->cfg.wss_sample) {
		w->rep.state = WSS_STARTING;
		w->rep.why = NULL;
		w->running = pthread_create(&w->thread, NULL, sampler, d) == 0;
		if (!w->running) {
			w->rep.state = WSS_STOPPED;
			w->rep.why = "cannot start its thread";
		}
	}
	pthread_mutex_unlock(&w->lock);
}

void wss_stop(struct domain *d)
{
	struct wss_sampler *w = &d->wss;
	bool running;

	pthread_mutex_lock(&w->lock);
	running = w->running;
	w->stop = true;
	w->running = false;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	if (running)
		pthread_join(w->thread, NULL);
}

void wss_report(struct domain *d, struct wss_report *out)
{
	pthread_mutex_lock(&d->wss.lock);
	*out = d->wss.rep;
	pthread_mutex_unlock(&d->wss.lock);
}
