/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small HTTP/1.1 client over a Unix socket, for the CLI (capsule control, the xl verbs)
 * and for capsuled talking to its VMMs: one request per connection, every wait bounded by
 * a deadline, replies of any size (Content-Length, chunked, or until close).
 */
#ifndef CAPSULE_HTTPC_H
#define CAPSULE_HTTPC_H

#include <stddef.h>

struct httpc_reply {
	int status;
	char *body; /* malloc'd, NUL-terminated (or NULL) */
	size_t len;
};

/*
 * method path on the socket at sock, with body (len bytes, or NULL) of type ctype
 * ("application/json" if NULL): the HTTP status (r->body filled), or a negative errno with
 * a sentence in err (-ENOENT, -ECONNREFUSED: nobody listens; -ETIMEDOUT past timeout_ms).
 */
int httpc_request(const char *sock, const char *method, const char *path, const char *ctype,
		  const char *body, size_t len, int timeout_ms, struct httpc_reply *r, char *err,
		  size_t errlen);
/* The same, passing nfds descriptors (at most 8) with the request's first bytes. */
int httpc_request_fds(const char *sock, const char *method, const char *path,
		      const char *ctype, const char *body, size_t len, const int *fds,
		      unsigned nfds, int timeout_ms, struct httpc_reply *r, char *err,
		      size_t errlen);
void httpc_reply_free(struct httpc_reply *r);
/*
 * Open a streaming GET (HTTP/1.0: the body is raw until the server closes): the connected
 * fd positioned at the body, or a negative errno (err says why). A status other than 2xx:
 * -EPROTO, with the server's error sentence in err.
 */
int httpc_stream(const char *sock, const char *path, int timeout_ms, char *err, size_t errlen);
/* The "error" of a JSON error body, or the body itself, cut to fit out. */
const char *httpc_error_text(const char *body, char *out, size_t len);

/* Base64 (RFC 4648, with padding), for console bytes in JSON. */
size_t base64_encode(const void *in, size_t n, char *out); /* out: 4 * ((n + 2) / 3) + 1 */
long base64_decode(const char *in, size_t n, void *out);  /* -1 if malformed */

#endif
