/* SPDX-License-Identifier: Apache-2.0 */
/* The event loop (include/capsule/loop.h): epoll, timerfds, a stop eventfd, a tick. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "capsule/loop.h"
#include "capsule/vm.h"

#define LOOP_BATCH 16

int loop_init(struct loop *l)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

	memset(l, 0, sizeof(*l));
	l->epoll_fd = l->stop_fd = -1;
	l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (l->stop_fd < 0 || l->epoll_fd < 0 ||
	    epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, l->stop_fd, &ev) < 0) {
		int err = -errno;

		loop_destroy(l);
		return err;
	}
	return 0;
}

int loop_add(struct loop *l, struct loop_source *s, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = s};

	return epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, s->fd, &ev) < 0 ? -errno : 0;
}

void loop_del(struct loop *l, struct loop_source *s)
{
	epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
}

void loop_set_tick(struct loop *l, unsigned tick_ms, void (*fn)(struct loop *, void *),
		   void *opaque)
{
	l->tick_ms = tick_ms;
	l->tick = fn;
	l->tick_opaque = opaque;
}

int loop_run(struct loop *l)
{
	uint64_t next_tick = monotonic_ns() + l->tick_ms * 1000000ull;

	while (!__atomic_load_n(&l->stopping, __ATOMIC_ACQUIRE)) {
		struct epoll_event ev[LOOP_BATCH];
		int timeout = -1, n;

		if (l->tick) {
			uint64_t now = monotonic_ns();

			if (now >= next_tick) {
				l->tick(l, l->tick_opaque);
				next_tick = now + l->tick_ms * 1000000ull;
			}
			timeout = (int)((next_tick - now + 999999) / 1000000);
		}
		n = epoll_wait(l->epoll_fd, ev, LOOP_BATCH, timeout);
		if (n < 0 && errno != EINTR)
			return -errno;
		/* A handler may delete another source with an event later in this batch: that
		 * source's memory must outlive the batch (users keep sources in fixed arrays and
		 * mark a closed one with fd -1, which its handler checks). */
		for (int i = 0; i < n && !l->stopping; i++) {
			struct loop_source *s = ev[i].data.ptr;

			if (!s)
				return 0; /* the stop eventfd */
			s->fn(l, s, ev[i].events);
		}
	}
	return 0;
}

void loop_stop(struct loop *l)
{
	uint64_t one = 1;

	__atomic_store_n(&l->stopping, true, __ATOMIC_RELEASE);
	if (l->stop_fd >= 0 && write(l->stop_fd, &one, sizeof(one)) < 0)
		return; /* the counter is full: a stop is pending already */
}

void loop_destroy(struct loop *l)
{
	if (l->epoll_fd >= 0)
		close(l->epoll_fd);
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	l->epoll_fd = l->stop_fd = -1;
}

int loop_timer_add(struct loop *l, struct loop_source *s, loop_fn fn, void *opaque)
{
	int err;

	*s = (struct loop_source){timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK), fn,
				  opaque};
	if (s->fd < 0)
		return -errno;
	err = loop_add(l, s, EPOLLIN);
	if (err) {
		close(s->fd);
		s->fd = -1;
	}
	return err;
}

static struct timespec ts_of(uint64_t ns)
{
	return (struct timespec){(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
}

int loop_timer_arm(struct loop_source *s, uint64_t when_ns, uint64_t interval_ns)
{
	struct itimerspec its = {ts_of(interval_ns), ts_of(when_ns)};

	/* it_value zero disarms; an absolute time already past expires at once. */
	return timerfd_settime(s->fd, TFD_TIMER_ABSTIME, &its, NULL) < 0 ? -errno : 0;
}

uint64_t loop_timer_read(struct loop_source *s)
{
	uint64_t n = 0;

	return read(s->fd, &n, sizeof(n)) == sizeof(n) ? n : 0;
}

void loop_timer_del(struct loop *l, struct loop_source *s)
{
	if (s->fd < 0)
		return;
	loop_del(l, s);
	close(s->fd);
	s->fd = -1;
}
