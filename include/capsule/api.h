/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP/1.1 + JSON API server (src/api/): a small, strict server on the event loop,
 * serving one Unix socket from one confined thread. Routes are a table of method, path
 * and handler; a handler gets the parsed request and fills a response. Shared by the
 * per-domain VMM API and, later, capsuled. docs/api.md, "The server", is the reference.
 *
 *   src/api/http.c      the incremental request parser
 *   src/api/response.c  response heads, chunks, JSON errors
 *   src/api/server.c    the thread, the listening socket, client slots, timeouts
 *   src/api/conn.c      one connection: read, parse, route, answer, flush
 *   src/api/stream.c    streaming responses fed from any thread
 *
 * Why not libmicrohttpd: it serves an AF_UNIX socket passed with MHD_OPTION_LISTEN_SOCKET
 * well, but Debian builds it against GnuTLS, which cannot be linked statically there (no
 * libp11-kit.a, no libunistring.a), and loading it dynamically costs about 1.2 ms per exec
 * on the test hosts: more than half of a PV launch. See docs/api.md.
 */
#ifndef CAPSULE_API_H
#define CAPSULE_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HTTP_MAX_HEADER 8192u       /* request line and headers: more gets 431 */
#define HTTP_MAX_BODY (64u << 10)   /* larger bodies get 413 */
#define HTTP_MAX_CLIENTS 128u       /* more: the oldest idle connection gives way */
#define HTTP_IDLE_MS 10000u         /* a request must arrive whole within this (else 408) */
#define HTTP_MAX_FDS 4u              /* descriptors a request may carry (more are closed) */
#define HTTP_MAX_STREAM_BUFFER (256u << 10) /* a streaming client this far behind is dropped */

struct http_request {
	char method[16];
	char path[512];   /* without the query string; as sent (no percent-decoding) */
	char query[512];  /* after '?', or "" */
	const char *body; /* NUL-terminated, body_len bytes; valid during the handler only */
	size_t body_len;
	bool keep_alive;
	int minor;        /* HTTP/1.minor: 0 or 1 */
	/* The client's credentials (SO_PEERCRED at accept), when the socket has them. */
	bool peer_known;
	uint32_t peer_uid, peer_gid;
	int32_t peer_pid;
	/* The request line and header lines as received (CRLF-separated, checked by the
	 * parser), for http_header; valid during the handler only. */
	const char *head;
	size_t head_len;
	/* File descriptors the client passed (SCM_RIGHTS) with this request's bytes: a handler
	 * that keeps one sets its slot to -1; the server closes the rest after the handler. */
	int *fds;
	unsigned nr_fds;
};

struct http_response {
	int status;
	const char *content_type; /* default "application/json" */
	char *body;               /* malloc'd (the server frees it), or NULL */
	size_t body_len;
	/* A streaming response (an event stream): after the headers (and body, if any, as
	 * the first chunk), the server keeps the connection and sends it every line given to
	 * api_stream_send until the client goes away. */
	bool stream;
	/* The stream's topic: it gets the lines of api_stream_send_topic(topic) only.
	 * 0 (the default) is the topic of api_stream_send. */
	uint64_t stream_topic;
	/* Header lines added to the head ("Name: value\r\n"...), malloc'd (the server frees
	 * it), or NULL. */
	char *headers;
	/* A protocol switch (a WebSocket upgrade): body is sent as it is, head included, and
	 * then the connection's descriptor is no longer the server's: takeover(ctx, fd, arg)
	 * gets it (blocking mode is the callee's to set). Called exactly once when set, with
	 * fd -1 if the connection could not be handed over (so that arg can be freed). */
	void (*takeover)(void *ctx, int fd, void *arg);
	void *takeover_arg;
};

struct api_server;
/* Called on the server's thread, which is confined with SANDBOX_SERVICE: a handler may
 * lock, compute and signal, but not open files or create threads. */
typedef void (*api_handler)(void *ctx, const struct http_request *req,
			    struct http_response *resp);

struct api_route {
	const char *method; /* "GET", "PUT", ... (a GET route answers HEAD too) */
	const char *path;   /* exact: "/api/v1/vm.info" */
	api_handler fn;
};

/* The value of request header name (case-insensitive) into out, trimmed: false if the
 * request has no such header or its value does not fit. */
bool http_header(const struct http_request *req, const char *name, char *out, size_t len);

/* Fill resp with a JSON error {"error": message} and status. */
void api_error(struct http_response *resp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Fill resp with status and a malloc'd copy of the JSON text. */
void api_json(struct http_response *resp, int status, const char *json);

/* Tuning, mostly for tests; zero fields take the defaults. */
struct api_options {
	unsigned idle_ms;        /* HTTP_IDLE_MS */
	unsigned max_clients;    /* HTTP_MAX_CLIENTS (also the most there can be) */
	const char *thread_name; /* "api" */
	/* Run the server's thread unconfined (a daemon whose handlers open files and start
	 * processes, with its own sandboxing, or none): false confines it as SANDBOX_SERVICE. */
	bool unconfined;
	/* Called on each new connection (fd) before anything is read: 0 admits it, an HTTP
	 * status (403) refuses every request on it with that status and the sentence in why. */
	int (*admit)(void *ctx, int fd, char *why, size_t whylen);
};

/*
 * Serve routes on listen_fd, a listening, non-blocking socket (usock_listen makes one),
 * from a thread of its own, confined as a service thread. The socket stays the caller's:
 * close it (usock_close) after api_server_stop. ctx goes to every handler. Unknown paths
 * get 404, a known path with another method 405 (with Allow), malformed requests 400,
 * bodies over HTTP_MAX_BODY 413, requests not whole within HTTP_IDLE_MS 408. 0, or a
 * negative errno. routes must outlive the server.
 */
int api_server_start(struct api_server **out, int listen_fd, const struct api_route *routes,
		     size_t nr_routes, void *ctx);
int api_server_start_opts(struct api_server **out, int listen_fd,
			  const struct api_route *routes, size_t nr_routes, void *ctx,
			  const struct api_options *opts);
/*
 * Send line (one event, a JSON text without newlines; a '\n' is added unless it ends with
 * one) as one chunk on every open streaming response. Safe from any thread, including a
 * handler; the line is copied. 0, or -ENOBUFS if 128 KiB of lines wait for the server's thread already (this
 * one is dropped), -EMSGSIZE for a line over HTTP_MAX_BODY, -ENOMEM.
 * Not after (or during) api_server_stop.
 */
int api_stream_send(struct api_server *s, const char *line);
/* The same, to the streams of one topic only (http_response.stream_topic). */
int api_stream_send_topic(struct api_server *s, uint64_t topic, const char *line);
/* How many streams of topic are open now (a snapshot: safe from any thread). */
unsigned api_stream_watchers(struct api_server *s, uint64_t topic);
/* Stop the thread, end every stream, close every connection and free s. */
void api_server_stop(struct api_server *s);

/*
 * The parser, exposed for unit tests and the fuzzer. Feed it bytes as they arrive
 * (http_feed), then ask for a request (http_parse): 1 with *req complete and *used bytes
 * of input making it up, 0 if it needs more, or a negative HTTP status (-400, -413, -414,
 * -417, -431, -501, -505) for a request it refuses, for good (p->reason says why). After
 * a 1, http_consume drops the request before the next one is parsed (pipelining).
 * Strict: lines end with CRLF (a bare LF or CR is refused), no NUL or control bytes, a
 * body only with one Content-Length, no Transfer-Encoding (501), Host in HTTP/1.1.
 */
#define HTTP_BUF_MAX (HTTP_MAX_HEADER + HTTP_MAX_BODY) /* one whole request */

struct http_parser {
	char *buf;            /* malloc'd as bytes arrive; live input is buf[off, len) */
	size_t off, len, cap;
	size_t scan;          /* input looked at, from off */
	size_t line;          /* where the current line starts, from off */
	size_t head;          /* length of the header block once whole, else 0 */
	uint64_t content_length;
	int error;            /* a refusal is final: its negative status */
	const char *reason;   /* why, in words */
	unsigned flags;       /* HP_* in http.c */
	char saved;           /* the input byte under the body's NUL */
	struct http_request req;
};

void http_parser_init(struct http_parser *p);
void http_parser_free(struct http_parser *p);
/* How many more bytes http_feed takes now (at most one whole request is buffered). */
size_t http_room(const struct http_parser *p);
/* Append up to n bytes; returns how many were taken (fewer: no room, or no memory). */
size_t http_feed(struct http_parser *p, const void *data, size_t n);
int http_parse(struct http_parser *p, struct http_request *req, size_t *used);
/* Once per request with Expect: 100-continue whose body has not arrived yet: true when
 * its header block is whole (time to send "100 Continue"). */
bool http_take_continue(struct http_parser *p);
void http_consume(struct http_parser *p);

/* A response head (status line and headers, through the empty line). */
struct http_head {
	int status;
	const char *content_type; /* NULL: none */
	size_t content_length;    /* ignored when chunked; SIZE_MAX: none (ends at close) */
	bool chunked;             /* Transfer-Encoding: chunked */
	bool keep_alive;          /* Connection: keep-alive, or close */
	const char *allow;        /* Allow: (405), or NULL */
	const char *extra;        /* more header lines, each ending in CRLF, or NULL */
	time_t date;              /* Date:, or 0 for none */
};
const char *http_status_text(int status);
/* Format h into out: its length, or 0 if out is too small. */
size_t http_format_head(char *out, size_t size, const struct http_head *h);

#endif
