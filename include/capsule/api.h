/*
 * The HTTP/1.1 + JSON API server (src/api/): a small, strict server on the event loop,
 * serving one Unix socket from one confined thread. Routes are a table of method, path
 * and handler; a handler gets the parsed request and fills a response. Shared by the
 * per-domain VMM API and, later, capsuled.
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

#define HTTP_MAX_HEADER 8192u       /* request line and headers */
#define HTTP_MAX_BODY (64u << 10)   /* larger bodies get 413 */
#define HTTP_MAX_CLIENTS 128u       /* more: the oldest idle connection gives way */
#define HTTP_IDLE_MS 10000u         /* a connection silent this long is closed (408) */

struct http_request {
	char method[16];
	char path[512];   /* without the query string */
	char query[512];  /* after '?', or "" */
	const char *body; /* NUL-terminated, body_len bytes */
	size_t body_len;
	bool keep_alive;
};

struct http_response {
	int status;
	const char *content_type; /* default "application/json" */
	char *body;               /* malloc'd (the server frees it), or NULL */
	size_t body_len;
	/* A streaming response (an event stream): after the headers, the server keeps the
	 * connection and calls api_stream_send for it until the client goes away. */
	bool stream;
};

struct api_server;
typedef void (*api_handler)(void *ctx, const struct http_request *req,
			    struct http_response *resp);

struct api_route {
	const char *method; /* "GET", "PUT", ... */
	const char *path;   /* exact: "/api/v1/vm.info" */
	api_handler fn;
};

/* Fill resp with a JSON error {"error": message} and status. */
void api_error(struct http_response *resp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Fill resp with status and a malloc'd copy of the JSON text. */
void api_json(struct http_response *resp, int status, const char *json);

/*
 * Serve routes on the listening socket listen_fd (the server owns it from now on) from a
 * thread of its own, confined as a service thread. ctx goes to every handler. Unknown
 * paths get 404, a known path with another method 405 (with Allow), malformed requests
 * 400, bodies over HTTP_MAX_BODY 413, slow or silent clients 408. 0, or a negative errno.
 */
int api_server_start(struct api_server **out, int listen_fd, const struct api_route *routes,
		     size_t nr_routes, void *ctx);
/* Send one chunk on every open streaming response (an event as a JSON line). */
void api_stream_send(struct api_server *s, const char *line);
void api_server_stop(struct api_server *s);

/*
 * The parser, exposed for unit tests and the fuzzer: feed it bytes as they arrive.
 * Returns 1 with *req complete (and *used bytes consumed), 0 if it needs more, or a
 * negative HTTP status (-400, -413, -431, -501, -505) for a request it refuses.
 */
struct http_parser {
	char buf[HTTP_MAX_HEADER + HTTP_MAX_BODY + 1];
	size_t len;
};
int http_parse(struct http_parser *p, struct http_request *req, size_t *used);

#endif
