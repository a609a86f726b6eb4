/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capsuled's web dashboard (docs/capsuled.md, "The web dashboard"), on a TCP listener of
 * its own served by the project's HTTP server (src/api/) from a thread of its own:
 *
 *   web.c        the listener (loopback only), the static files (read once at start),
 *                the pages, start and stop
 *   web_auth.c   the token, sessions (a cookie), CSRF and Origin checks, login, logout
 *   web_proxy.c  /api/v1/... and /metrics, after those checks, to capsuled's own handlers
 *   web_ws.c     WebSockets (RFC 6455): the console and the event stream, relayed from
 *                capsuled's API socket by one thread per socket
 *   web_tls.c    TLS (GnuTLS) in front, when not on loopback: the server then listens on
 *                a Unix socket of its own, and the front relays each connection to it
 */
#ifndef CAPSULE_DAEMON_WEB_H
#define CAPSULE_DAEMON_WEB_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "capsule/api.h"
#include "capsule/usock.h"
#include "daemon.h"

#define WEB_MAX_FILES 64
#define WEB_FILE_MAX (8u << 20)   /* one static file */
#define WEB_MAX_SESSIONS 64       /* more: the oldest is logged out */
#define WEB_SESSION_S (12 * 3600) /* a session's life */
#define WEB_MAX_SOCKETS 16        /* WebSockets open at once */
#define WEB_COOKIE "capsule_session"

struct web_file {
	char path[128]; /* "/app.js" */
	const char *type;
	char *data;
	size_t len;
};

struct web_session {
	char id[65];   /* "" for a free slot */
	char csrf[65]; /* sent back in X-CSRF-Token on every state-changing request */
	int64_t expires;
};

enum ws_state { WS_FREE, WS_RESERVED, WS_RUNNING, WS_DONE };

struct web;
struct web_ws {
	struct web *w;
	enum ws_state state;
	pthread_t thread;
	int fd, up;        /* the browser's socket, capsuled's stream; -1 when none */
	bool console;      /* input goes to domain's console */
	char domain[128];
	char upstream[300]; /* the API path relayed */
	int32_t writer;     /* the console writer id this socket types as */
};

struct web_tls;
struct web {
	struct daemon *dm;
	struct api_server *server;
	int listen_fd;
	struct web_tls *tls;  /* NULL: plain HTTP on loopback */
	bool secure;          /* TLS: https origins, Secure cookies (set before any request) */
	struct usock inner;   /* with TLS: the server's own socket, STATE_DIR/web.sock */
	char url[96];
	char token[65];
	struct web_file files[WEB_MAX_FILES];
	unsigned nr_files;
	const struct web_file *index, *login;
	struct api_route routes[WEB_MAX_FILES + 40];
	size_t nr_routes;
	const struct api_route *api;
	size_t nr_api;
	/* The server's thread only: */
	struct web_session sessions[WEB_MAX_SESSIONS];
	unsigned login_failures;
	int64_t login_after; /* ms: no login attempt before this (after failures) */
	/* The sockets, under lock: */
	pthread_mutex_t lock;
	bool stopping;
	int32_t next_writer;
	struct web_ws ws[WEB_MAX_SOCKETS];
};

struct web_options {
	const char *listen;     /* ADDR:PORT, PORT, or NULL for no dashboard */
	const char *root;       /* the built static files (web/, make web) */
	const char *token_file; /* NULL: STATE_DIR/web.token, made if missing */
	const char *tls_cert, *tls_key; /* PEM files: TLS, and any address may be used */
};

/* web.c */
int web_start(struct daemon *dm, const struct web_options *o, struct web **out, char *err,
	      size_t errlen);
void web_stop(struct web *w);
/* The headers every answer carries (and more, e.g. a Set-Cookie line): malloc'd. */
char *web_headers(const char *more);

/* web_auth.c */
int web_token_load(struct web *w, const char *path, char *err, size_t errlen);
/* req's session (by its cookie), or NULL. */
struct web_session *web_session(struct web *w, const struct http_request *req);
/* Origin: is this server (http://HOST, or https:// with TLS): false if absent or another. */
bool web_same_origin(const struct web *w, const struct http_request *req);
/* A state-changing request: true if it has its session's CSRF token and a same-origin
 * Origin; false with a 403 answered. */
bool web_csrf_ok(const struct web *w, const struct web_session *s,
		 const struct http_request *req, struct http_response *resp);
void web_login(void *ctx, const struct http_request *req, struct http_response *resp);
void web_logout(void *ctx, const struct http_request *req, struct http_response *resp);
void web_whoami(void *ctx, const struct http_request *req, struct http_response *resp);

/* web_proxy.c */
void web_api(void *ctx, const struct http_request *req, struct http_response *resp);

/* web_tls.c: serve listen_fd with TLS, relaying to the server's socket at inner_path. */
int web_tls_start(struct web *w, const struct web_options *o, int listen_fd,
		  const char *inner_path, char *err, size_t errlen);
void web_tls_stop(struct web *w);

/* web_ws.c */
void web_ws_console(void *ctx, const struct http_request *req, struct http_response *resp);
void web_ws_events(void *ctx, const struct http_request *req, struct http_response *resp);
/* End every socket's relay and wait for its thread. */
void web_ws_stop(struct web *w);

#endif
