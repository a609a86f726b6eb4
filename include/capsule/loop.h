/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One small event loop (epoll) for the VMM's service threads: sources are file descriptors
 * with a handler, timers are timerfds on CLOCK_MONOTONIC, a stop eventfd ends loop_run from
 * any thread, and a periodic tick serves timeouts. The caller owns each source's memory
 * (embed it in the object it serves). Used by the virtio device threads (kicks and receive
 * input), a PV domain's service thread (timers, console input), the UART's input and the
 * API server.
 */
#ifndef CAPSULE_LOOP_H
#define CAPSULE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct loop_source;
typedef void (*loop_fn)(struct loop *l, struct loop_source *s, uint32_t events);

struct loop_source {
	int fd;
	loop_fn fn;
	void *opaque;
};

struct loop {
	int epoll_fd;
	int stop_fd;
	bool stopping;
	unsigned tick_ms;                 /* 0: no tick */
	void (*tick)(struct loop *l, void *opaque);
	void *tick_opaque;
};

int loop_init(struct loop *l);
/* Watch s->fd for `events` (EPOLLIN, ...): 0 or a negative errno. */
int loop_add(struct loop *l, struct loop_source *s, uint32_t events);
void loop_del(struct loop *l, struct loop_source *s);
/* Call fn every tick_ms (approximately) while the loop runs. */
void loop_set_tick(struct loop *l, unsigned tick_ms, void (*fn)(struct loop *, void *),
		   void *opaque);
/* Serve sources until loop_stop; 0, or a negative errno if epoll failed. */
int loop_run(struct loop *l);
/* Make loop_run return soon; safe from any thread and from the loop's own handlers. */
void loop_stop(struct loop *l);
void loop_destroy(struct loop *l);

/*
 * Timers: a timerfd source. loop_timer_add creates it (disarmed) and watches it; arm it
 * for an absolute CLOCK_MONOTONIC time in ns (0 disarms; a time past fires at once), every
 * interval_ns after that if nonzero; safe from any thread. Its handler calls
 * loop_timer_read, which returns how many expiries it folds (0: a spurious wake-up).
 */
int loop_timer_add(struct loop *l, struct loop_source *s, loop_fn fn, void *opaque);
int loop_timer_arm(struct loop_source *s, uint64_t when_ns, uint64_t interval_ns);
uint64_t loop_timer_read(struct loop_source *s);
void loop_timer_del(struct loop *l, struct loop_source *s);

#endif
