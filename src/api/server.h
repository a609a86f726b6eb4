/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the API server (src/api/): what server.c, conn.c and stream.c share. */
#ifndef CAPSULE_API_SERVER_H
#define CAPSULE_API_SERVER_H

#include <pthread.h>

#include "capsule/api.h"
#include "capsule/loop.h"

/* Pending output past which a connection's next pipelined request waits its turn. */
#define OUT_HIGH (64u << 10)
/* Lines api_stream_send may queue (bytes) before the loop takes them: half a client's
 * bound, so that one batch never drops a client that keeps up. */
#define STREAM_QUEUE_MAX (HTTP_MAX_STREAM_BUFFER / 2)

struct obuf {
	char *data; /* malloc'd while there is output */
	size_t off, len, cap;
};

struct conn {
	struct loop_source src; /* first: the loop hands conn_ready &src. fd -1: a free slot */
	struct api_server *srv;
	struct http_parser in;
	struct obuf out;
	uint64_t since;    /* ns: when the wait for the current request began */
	uint64_t progress; /* ns: when pending output last moved */
	unsigned answered; /* requests answered */
	uint32_t watching; /* the events the loop watches for it */
	bool closing;      /* send what is pending, then close */
	bool peer_eof;     /* the client sends nothing more */
	bool streaming;    /* an event stream: gets every api_stream_send line */
	bool chunked;      /* ... as chunks (HTTP/1.1), or raw until close (HTTP/1.0) */
	uint64_t topic;    /* a stream's topic; written under srv->lock (api_stream_watchers) */
	int refused;       /* an HTTP status every request gets (admit), or 0 */
	char refuse_why[128];
	bool peer_known;
	uint32_t peer_uid, peer_gid;
	int32_t peer_pid;
	bool handed;       /* its descriptor went to a handler (a 101): not ours to close */
	int fds[HTTP_MAX_FDS]; /* passed with SCM_RIGHTS, for the next request answered */
	unsigned nr_fds;
};

/* One line for the streams, formatted once as a chunk: bytes[data_off, +data_len) is the
 * line itself (for HTTP/1.0 streams). */
struct stream_line {
	struct stream_line *next;
	uint64_t topic;
	size_t len, data_off, data_len;
	char bytes[];
};

struct api_server {
	struct loop loop;
	struct loop_source listen_src, wake_src; /* wake_src: an eventfd, for streams */
	const struct api_route *routes;
	size_t nr_routes;
	void *ctx;
	unsigned idle_ms, max_clients, max_streams, streams;
	bool accepting, stopping;
	bool unconfined;
	int (*admit)(void *ctx, int fd, char *why, size_t whylen);
	char name[16];
	pthread_t thread;
	pthread_mutex_t lock; /* the stream queue, and the start handshake */
	pthread_cond_t started;
	int start_rc;         /* 1 until the thread is confined; then 0 or a negative errno */
	struct stream_line *queue, **queue_tail;
	size_t queued;        /* bytes */
	struct conn conns[HTTP_MAX_CLIENTS];
};

/* conn.c */
void conn_open(struct api_server *s, struct conn *c, int fd);
void conn_close(struct conn *c);
void conn_ready(struct loop *l, struct loop_source *src, uint32_t events);
/* Answer with a JSON error and close once it is sent (timeouts, refusals, eviction). */
void conn_fail(struct conn *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Send what can be sent, answer what can be answered, then close or watch. */
void conn_pump(struct conn *c);
int conn_append(struct conn *c, const void *data, size_t n);
size_t conn_pending(const struct conn *c);
/* Between requests: answered one, and nothing of the next has arrived. */
bool conn_idle(const struct conn *c);

/* server.c */
void server_slot_freed(struct api_server *s);

/* stream.c */
void stream_ready(struct loop *l, struct loop_source *src, uint32_t events);
/* Queue data (a stream response's first body) to a streaming connection as one line. */
int stream_chunk(struct conn *c, const char *data, size_t n);
void stream_end_all(struct api_server *s);

#endif
