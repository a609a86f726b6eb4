/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API server's thread (include/capsule/api.h): the listening socket and the client
 * slots on one event loop, the tick that enforces timeouts, start and stop.
 *
 * Slots: max_clients of them, fixed (fd -1 marks a free one; buffers are allocated only
 * while a client has something in them). With every slot taken, a new client takes the
 * slot of a client idle between requests (the longest idle, closed quietly) or else of
 * one whose request has been arriving for over idle_ms / 4 (the slowest; it gets a 503).
 * When neither exists, every slot holds a request just begun, an answer being sent or an
 * event stream (at most a quarter of the slots): accepting pauses, new clients wait in
 * the listen backlog, and the first slot to free up (or the tick) resumes it. A burst of
 * honest clients is thus served in full, while clients holding slots without finishing a
 * request give way.
 *
 * Timeouts (the tick, every idle_ms / 8): a request must arrive whole within idle_ms of
 * the connection or the previous answer (408, then close: a client trickling bytes is
 * no better than a silent one); a connection idle between requests that long is closed
 * without a word (an unasked 408 could cross a request on the wire); pending output that
 * has not moved for idle_ms means a reader that stopped: closed. Event streams have no
 * deadline but their buffer bound (stream.c).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capsule/log.h"
#include "capsule/sandbox.h"
#include "capsule/vm.h"
#include "server.h"

#define ACCEPT_BATCH 32

static void pause_accepting(struct api_server *s)
{
	if (s->accepting) {
		loop_del(&s->loop, &s->listen_src);
		s->accepting = false;
	}
}

static void resume_accepting(struct api_server *s)
{
	if (!s->accepting && !s->stopping && !loop_add(&s->loop, &s->listen_src, EPOLLIN))
		s->accepting = true;
}

void server_slot_freed(struct api_server *s)
{
	resume_accepting(s);
}

/* A free slot, or one a new client may take (see above), or NULL. */
static struct conn *pick_slot(struct api_server *s, uint64_t now)
{
	uint64_t slow = s->idle_ms * 1000000ull / 4;
	struct conn *idle = NULL, *slowest = NULL;

	for (unsigned i = 0; i < s->max_clients; i++) {
		struct conn *c = &s->conns[i];

		if (c->src.fd < 0)
			return c;
		if (c->streaming || c->closing || conn_pending(c))
			continue;
		if (conn_idle(c)) {
			if (!idle || c->since < idle->since)
				idle = c;
		} else if (now - c->since >= slow && (!slowest || c->since < slowest->since)) {
			slowest = c;
		}
	}
	return idle ? idle : slowest;
}

static void evict(struct conn *c)
{
	if (!conn_idle(c)) {
		conn_fail(c, 503, "too many clients: this slow request gave way to a new client");
		conn_pump(c); /* one send into an empty socket buffer, then close */
	}
	conn_close(c);
}

static void accept_ready(struct loop *l, struct loop_source *src, uint32_t events)
{
	struct api_server *s = src->opaque;

	(void)l, (void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct conn *c = pick_slot(s, monotonic_ns());
		int fd;

		if (!c) {
			pause_accepting(s);
			return;
		}
		fd = accept4(src->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			/* Out of descriptors or memory (or not a listening socket at all): it
			 * stays readable, so stop watching it until the next tick, not spin. */
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				pause_accepting(s);
			return; /* EAGAIN: all taken */
		}
		if (c->src.fd >= 0)
			evict(c);
		conn_open(s, c, fd);
	}
}

static void sweep(struct loop *l, void *opaque)
{
	struct api_server *s = opaque;
	uint64_t now = monotonic_ns(), limit = s->idle_ms * 1000000ull;

	(void)l;
	for (unsigned i = 0; i < s->max_clients; i++) {
		struct conn *c = &s->conns[i];

		if (c->src.fd < 0)
			continue;
		if (conn_pending(c)) {
			if (now - c->progress > limit) {
				log_debug("api: dropping a client that stopped reading");
				conn_close(c);
			}
		} else if (!c->streaming && now - c->since > limit) {
			if (conn_idle(c)) {
				conn_close(c);
			} else {
				conn_fail(c, 408, "no whole request within %u ms", s->idle_ms);
				conn_pump(c);
			}
		}
	}
	resume_accepting(s); /* after a pause for want of descriptors, or of slots */
}

static void *server_thread(void *arg)
{
	struct api_server *s = arg;
	int rc = s->unconfined ? 0 : sandbox_enter(s->name, SANDBOX_SERVICE);

	pthread_mutex_lock(&s->lock);
	s->start_rc = rc;
	pthread_cond_signal(&s->started);
	pthread_mutex_unlock(&s->lock);
	if (rc == 0 && loop_run(&s->loop) < 0)
		log_err("%s: the event loop failed", s->name);
	return NULL;
}

/*
 * jansson seeds its hash function from /dev/urandom the first time an object is made,
 * which a confined thread cannot open (SIGSYS): seed it here, before any handler runs.
 */
static void seed_json(void)
{
	uint32_t seed = 0;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed) || !seed)
		seed = (uint32_t)monotonic_ns() | 1;
	json_object_seed(seed);
}

static void destroy(struct api_server *s)
{
	s->stopping = true;
	stream_end_all(s);
	for (unsigned i = 0; i < HTTP_MAX_CLIENTS; i++)
		conn_close(&s->conns[i]);
	while (s->queue) {
		struct stream_line *m = s->queue;

		s->queue = m->next;
		free(m);
	}
	if (s->wake_src.fd >= 0)
		close(s->wake_src.fd);
	loop_destroy(&s->loop);
	pthread_cond_destroy(&s->started);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int api_server_start_opts(struct api_server **out, int listen_fd,
			  const struct api_route *routes, size_t nr_routes, void *ctx,
			  const struct api_options *o)
{
	struct api_server *s;
	int rc;

	*out = NULL;
	if (listen_fd < 0 || (nr_routes && !routes))
		return -EINVAL;
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	s->routes = routes, s->nr_routes = nr_routes, s->ctx = ctx;
	s->idle_ms = o && o->idle_ms ? o->idle_ms : HTTP_IDLE_MS;
	s->max_clients = o && o->max_clients && o->max_clients < HTTP_MAX_CLIENTS
				 ? o->max_clients : HTTP_MAX_CLIENTS;
	s->max_streams = s->max_clients / 4 ? s->max_clients / 4 : 1;
	snprintf(s->name, sizeof(s->name), "%s", o && o->thread_name ? o->thread_name : "api");
	s->unconfined = o && o->unconfined;
	s->admit = o ? o->admit : NULL;
	for (unsigned i = 0; i < HTTP_MAX_CLIENTS; i++)
		s->conns[i].src.fd = -1;
	s->queue_tail = &s->queue;
	s->start_rc = 1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->started, NULL);
	seed_json();
	s->wake_src = (struct loop_source){-1, stream_ready, s};
	s->listen_src = (struct loop_source){listen_fd, accept_ready, s};
	if ((rc = loop_init(&s->loop)))
		goto fail;
	if ((s->wake_src.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = loop_add(&s->loop, &s->wake_src, EPOLLIN)) ||
	    (rc = loop_add(&s->loop, &s->listen_src, EPOLLIN)))
		goto fail;
	s->accepting = true;
	loop_set_tick(&s->loop, s->idle_ms / 8 > 10 ? s->idle_ms / 8 : 10, sweep, s);
	if ((rc = -pthread_create(&s->thread, NULL, server_thread, s)))
		goto fail;
	pthread_mutex_lock(&s->lock);
	while (s->start_rc == 1)
		pthread_cond_wait(&s->started, &s->lock);
	rc = s->start_rc;
	pthread_mutex_unlock(&s->lock);
	if (rc) {
		pthread_join(s->thread, NULL);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	destroy(s);
	return rc;
}

int api_server_start(struct api_server **out, int listen_fd, const struct api_route *routes,
		     size_t nr_routes, void *ctx)
{
	return api_server_start_opts(out, listen_fd, routes, nr_routes, ctx, NULL);
}

void api_server_stop(struct api_server *s)
{
	if (!s)
		return;
	loop_stop(&s->loop);
	pthread_join(s->thread, NULL);
	destroy(s);
}
