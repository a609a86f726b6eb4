/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One small event loop (epoll) for the VMM's service threads: sources are file descriptors
 * with a handler, a stop eventfd ends loop_run from any thread, and a periodic tick serves
 * timeouts. The caller owns each source's memory (embed it in the object it serves).
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

#endif
