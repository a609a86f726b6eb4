/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One API connection: read what the client sends into its parser, answer each whole
 * request in order (route, handler, response), and send the answers as the socket takes
 * them. Nothing here blocks: output waits in the connection's buffer until the loop says
 * the socket is writable, and a client with too much output pending has its next
 * pipelined request wait. Every decision comes from what read and send return, not from
 * event flags alone, so a stale event for a slot reused in the same batch is harmless.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "capsule/log.h"
#include "capsule/vm.h"
#include "server.h"

#define READ_CHUNK 16384u
#define OUT_KEEP (16u << 10) /* an idle connection keeps an output buffer this small */

static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";

size_t conn_pending(const struct conn *c)
{
	return c->out.len - c->out.off;
}

bool conn_idle(const struct conn *c)
{
	return c->answered && c->in.len == c->in.off && !conn_pending(c) && !c->streaming;
}

int conn_append(struct conn *c, const void *data, size_t n)
{
	struct obuf *o = &c->out;

	if (!n)
		return 0; /* data may be NULL then, and so may o->data */
	if (!conn_pending(c)) {
		o->off = o->len = 0;
		c->progress = monotonic_ns(); /* the stall clock starts with the first byte */
	}
	if (o->len + n > o->cap && o->off) {
		memmove(o->data, o->data + o->off, o->len - o->off);
		o->len -= o->off, o->off = 0;
	}
	if (o->len + n > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		char *d;

		while (cap < o->len + n)
			cap *= 2;
		if (!(d = realloc(o->data, cap)))
			return -ENOMEM;
		o->data = d, o->cap = cap;
	}
	memcpy(o->data + o->len, data, n);
	o->len += n;
	return 0;
}

/* Send until done or the socket is full: 0, or a negative errno (the client is gone). */
static int flush(struct conn *c)
{
	struct obuf *o = &c->out;

	while (conn_pending(c)) {
		ssize_t n = send(c->src.fd, o->data + o->off, conn_pending(c),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		o->off += (size_t)n;
		c->progress = monotonic_ns();
	}
	o->off = o->len = 0;
	if (o->cap > OUT_KEEP) {
		free(o->data);
		o->data = NULL, o->cap = 0;
	}
	return 0;
}

/* Queue a head: false (and the connection closing) if there is no memory for it. */
static bool send_head(struct conn *c, struct http_head *h)
{
	char head[1024];
	size_t n;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	h->date = now.tv_sec;
	n = http_format_head(head, sizeof(head), h);
	if (!n) { /* only an absurd content type from a handler does not fit */
		h->content_type = "application/octet-stream";
		n = http_format_head(head, sizeof(head), h);
	}
	if (conn_append(c, head, n)) {
		c->closing = true;
		return false;
	}
	return true;
}

static void send_response(struct conn *c, const struct http_response *resp, bool keep_alive,
			  bool head_only, const char *allow)
{
	struct http_head h = {
		.status = resp->status,
		.content_type = resp->body_len ? (resp->content_type ? resp->content_type
							   : "application/json") : NULL,
		.content_length = resp->body_len,
		.keep_alive = keep_alive,
		.allow = allow,
		.extra = resp->headers,
	};

	if (send_head(c, &h) && !head_only && resp->body_len && resp->status != 204 &&
	    resp->status != 304 && conn_append(c, resp->body, resp->body_len))
		c->closing = true;
	if (!keep_alive)
		c->closing = true;
}

void conn_fail(struct conn *c, int status, const char *fmt, ...)
{
	struct http_response resp = {0};
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	api_error(&resp, status, "%s", msg);
	send_response(c, &resp, false, false, NULL);
	free(resp.body);
}

static void start_stream(struct conn *c, const struct http_request *req,
			 const struct http_response *resp)
{
	struct http_head h = {
		.status = resp->status,
		.content_type = resp->content_type ? resp->content_type : "application/json",
		.chunked = req->minor == 1,
		.content_length = SIZE_MAX, /* HTTP/1.0: the body ends when the connection does */
		.keep_alive = false, /* a stream ends when the connection does */
		.extra = resp->headers,
	};

	if (!send_head(c, &h))
		return;
	c->streaming = true;
	c->chunked = h.chunked;
	pthread_mutex_lock(&c->srv->lock);
	c->topic = resp->stream_topic + 1; /* 0: not a stream (api_stream_watchers) */
	pthread_mutex_unlock(&c->srv->lock);
	c->srv->streams++;
	if (resp->body_len && stream_chunk(c, resp->body, resp->body_len))
		c->closing = true;
}

/* "GET, HEAD, PUT": the methods path has (Allow, for a 405). */
static void allowed(const struct api_server *s, const char *path, char *out, size_t size)
{
	size_t n = 0;

	out[0] = 0;
	for (size_t i = 0; i < s->nr_routes; i++) {
		const char *m = s->routes[i].method;

		if (strcmp(s->routes[i].path, path))
			continue;
		n += (size_t)snprintf(out + n, size - n, "%s%s%s", n ? ", " : "", m,
				      !strcmp(m, "GET") ? ", HEAD" : "");
		if (n >= size) {
			out[size - 1] = 0;
			return;
		}
	}
}

/*
 * A protocol switch: the handler's bytes (the 101 head) go out now, into a socket buffer
 * with nothing else pending, and the descriptor goes to the handler's owner. Anything the
 * client sent past the request, or a head that does not fit at once, ends it instead.
 */
static void hand_over(struct conn *c, struct http_response *resp)
{
	struct api_server *s = c->srv;
	int fd = c->src.fd;
	size_t off = 0;

	while (off < resp->body_len && !conn_pending(c) && c->in.len - c->in.off == c->in.head) {
		ssize_t n = send(fd, resp->body + off, resp->body_len - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off < resp->body_len) {
		resp->takeover(s->ctx, -1, resp->takeover_arg);
		c->closing = true;
		return;
	}
	loop_del(&s->loop, &c->src);
	c->handed = true; /* conn_pump frees the slot (nothing is pending), without a close */
	c->closing = true;
	c->watching = 0;
	resp->takeover(s->ctx, fd, resp->takeover_arg);
}

/* Route one request and queue its answer. */
static void answer(struct conn *c, const struct http_request *req)
{
	struct api_server *s = c->srv;
	struct http_response resp = {0};
	const struct api_route *route = NULL, *get = NULL;
	bool head = !strcmp(req->method, "HEAD"), known = false;
	char allow[256];

	for (size_t i = 0; i < s->nr_routes && !route; i++) {
		const struct api_route *r = &s->routes[i];

		if (strcmp(r->path, req->path))
			continue;
		known = true;
		if (!strcmp(r->method, req->method))
			route = r;
		else if (head && !strcmp(r->method, "GET"))
			get = r; /* HEAD is GET without the body */
	}
	if (!route)
		route = get;
	if (c->refused)
		api_error(&resp, c->refused, "%s", c->refuse_why);
	else if (route)
		route->fn(s->ctx, req, &resp);
	else if (known)
		api_error(&resp, 405, "%s is not allowed on %s", req->method, req->path);
	else
		api_error(&resp, 404, "no such path: %s", req->path);
	if ((resp.status < 200 && !(resp.takeover && resp.status == 101)) || resp.status > 599)
		api_error(&resp, 500, "the handler of %s %s gave no status", req->method,
			  req->path);
	if (resp.stream && !head && s->streams >= s->max_streams)
		api_error(&resp, 503, "too many event streams (at most %u)", s->max_streams);
	if (resp.takeover && resp.status == 101 && !c->refused) {
		hand_over(c, &resp);
	} else if (resp.takeover) {
		resp.takeover(s->ctx, -1, resp.takeover_arg);
		api_error(&resp, 500, "a protocol switch that was not a 101");
		send_response(c, &resp, false, head, NULL);
	} else if (resp.stream && !head) {
		start_stream(c, req, &resp);
	} else {
		if (resp.status == 405)
			allowed(s, req->path, allow, sizeof(allow));
		send_response(c, &resp, req->keep_alive, head, resp.status == 405 ? allow : NULL);
	}
	free(resp.body);
	free(resp.headers);
}

static void drop_fds(struct conn *c)
{
	for (unsigned i = 0; i < c->nr_fds; i++)
		if (c->fds[i] >= 0)
			close(c->fds[i]);
	c->nr_fds = 0;
}

/* Take the descriptors a message carried; past HTTP_MAX_FDS they are closed. */
static void take_fds(struct conn *c, struct msghdr *m)
{
	for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h)) {
		size_t n;

		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
			if (c->nr_fds < HTTP_MAX_FDS && !c->streaming)
				c->fds[c->nr_fds++] = fd;
			else
				close(fd);
		}
	}
}

/* Answer the next request if it is whole: true if one was answered. */
static bool serve_one(struct conn *c)
{
	struct http_request req;
	size_t used;
	int r = http_parse(&c->in, &req, &used);

	if (r == 0) {
		if (http_take_continue(&c->in) &&
		    conn_append(c, continue_line, sizeof(continue_line) - 1))
			c->closing = true;
		return false;
	}
	if (r < 0) {
		conn_fail(c, -r, "%s", c->in.reason);
		return false;
	}
	req.peer_known = c->peer_known;
	req.peer_uid = c->peer_uid, req.peer_gid = c->peer_gid, req.peer_pid = c->peer_pid;
	req.fds = c->fds;
	req.nr_fds = c->nr_fds;
	answer(c, &req);
	drop_fds(c); /* what the handler did not take */
	http_consume(&c->in);
	c->answered++;
	c->since = monotonic_ns();
	return true;
}

/* What the loop should watch, from the connection's state. */
static uint32_t wanted(const struct conn *c)
{
	uint32_t ev = conn_pending(c) ? EPOLLOUT : 0;

	if (!c->closing && !c->peer_eof &&
	    (c->streaming || (conn_pending(c) < OUT_HIGH && http_room(&c->in))))
		ev |= EPOLLIN;
	return ev;
}

void conn_pump(struct conn *c)
{
	uint32_t ev;

	for (;;) {
		bool blocked = false;

		while (!c->closing && !c->streaming) {
			if (conn_pending(c) >= OUT_HIGH) {
				blocked = true;
				break;
			}
			if (!serve_one(c))
				break;
		}
		if (flush(c) < 0) {
			conn_close(c);
			return;
		}
		/* Output drained below the mark: the requests that waited go on. */
		if (!blocked || conn_pending(c) >= OUT_HIGH)
			break;
	}
	ev = wanted(c);
	if (!conn_pending(c) && (c->closing || c->peer_eof))
		ev = 0; /* all said: a refusal, Connection: close, or the client left */
	if (!ev) {
		conn_close(c);
		return;
	}
	if (ev != c->watching) {
		/* loop.h has no "modify": take the source out and put it back. */
		loop_del(&c->srv->loop, &c->src);
		if (loop_add(&c->srv->loop, &c->src, ev)) {
			conn_close(c);
			return;
		}
		c->watching = ev;
	}
}

/* One read: 0, or -1 if the connection is broken. */
static int conn_read(struct conn *c)
{
	char buf[READ_CHUNK];
	size_t room = c->streaming ? sizeof(buf) : http_room(&c->in);
	ssize_t n;

	if (c->closing || c->peer_eof || !room)
		return 0;
	{
		union {
			char buf[CMSG_SPACE(HTTP_MAX_FDS * sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = {buf, room < sizeof(buf) ? room : sizeof(buf)};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
				   .msg_controllen = sizeof(ctl.buf)};

		n = recvmsg(c->src.fd, &m, MSG_CMSG_CLOEXEC);
		if (n >= 0)
			take_fds(c, &m);
		if (m.msg_flags & MSG_CTRUNC)
			c->closing = true; /* more descriptors than any request takes */
	}
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0)
		c->peer_eof = true;
	else if (!c->streaming && http_feed(&c->in, buf, (size_t)n) != (size_t)n)
		return -1; /* out of memory */
	return 0; /* a stream's client has nothing to say: what it sends is dropped */
}

void conn_ready(struct loop *l, struct loop_source *src, uint32_t events)
{
	struct conn *c = (struct conn *)src;

	(void)l;
	if (src->fd < 0)
		return; /* closed earlier in this batch */
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && conn_read(c) < 0) {
		conn_close(c);
		return;
	}
	conn_pump(c);
}

static void peer_creds(struct conn *c, int fd)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0 && len == sizeof(uc)) {
		c->peer_known = true;
		c->peer_uid = uc.uid, c->peer_gid = uc.gid, c->peer_pid = uc.pid;
	}
}

void conn_open(struct api_server *s, struct conn *c, int fd)
{
	http_parser_free(&c->in);
	free(c->out.data);
	*c = (struct conn){
		.src = {fd, conn_ready, s},
		.srv = s,
		.since = monotonic_ns(),
		.watching = EPOLLIN,
	};
	http_parser_init(&c->in);
	if (s->admit) { /* a daemon's socket (the VMM's threads may not call getsockopt) */
		peer_creds(c, fd);
		c->refused = s->admit(s->ctx, fd, c->refuse_why, sizeof(c->refuse_why));
	}
	if (loop_add(&s->loop, &c->src, EPOLLIN)) {
		log_debug("api: cannot watch a new client");
		close(fd);
		c->src.fd = -1;
	}
}

void conn_close(struct conn *c)
{
	if (c->src.fd < 0)
		return;
	if (!c->handed) { /* a handed-over one left the loop then, and is the handler's */
		loop_del(&c->srv->loop, &c->src);
		close(c->src.fd);
	}
	c->src.fd = -1;
	if (c->streaming) {
		c->srv->streams--;
		pthread_mutex_lock(&c->srv->lock);
		c->topic = 0;
		pthread_mutex_unlock(&c->srv->lock);
	}
	c->streaming = false;
	drop_fds(c);
	http_parser_free(&c->in);
	free(c->out.data);
	c->out = (struct obuf){0};
	server_slot_freed(c->srv);
}
