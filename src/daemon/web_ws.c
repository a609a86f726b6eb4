/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dashboard's WebSockets (RFC 6455; web.h): /ws/console?domain=D and /ws/events.
 *
 * The handshake is an ordinary route on the dashboard's server (a session, a same-origin
 * Origin: a browser sends Origin on every WebSocket, and cookies alone do not stop a
 * cross-site one), answered with a 101 whose connection the server then hands over
 * (http_response.takeover). From there one thread per socket relays, in blocking I/O
 * with timeouts: it opens the matching stream on capsuled's own API socket (the public
 * API: GET domain.console?follow=1 or GET events?history=N) and sends each JSON line as a
 * text message; for a console, what the browser sends is the domain's input, given to the
 * same handler as POST domain.console, as a writer of its own. At most WEB_MAX_SOCKETS.
 */
#include <errno.h>
#include <fcntl.h>
#include <nettle/sha1.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "capsule/httpc.h"
#include "web.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_MAX_MESSAGE 16384u /* from the browser: keystrokes and pastes */
#define WS_UP_BUF (64u << 10) /* a console line is at most 16 KiB of base64 */
#define WS_PING_MS 25000
#define WS_HISTORY 200        /* events replayed to a new /ws/events */

enum { OP_CONT = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };

/* Does header name hold token in its comma-separated list (case-insensitive)? */
static bool header_token(const struct http_request *req, const char *name, const char *token)
{
	char v[256], *save = NULL;

	if (!http_header(req, name, v, sizeof(v)))
		return false;
	for (char *t = strtok_r(v, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save))
		if (!strcasecmp(t, token))
			return true;
	return false;
}

static int send_all(int fd, const void *data, size_t n)
{
	const char *p = data;

	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k, n -= (size_t)k;
	}
	return 0;
}

/* One unmasked frame (a server's), FIN set. */
static int ws_send(int fd, int op, const void *data, size_t n)
{
	uint8_t h[10];
	size_t hl = 2;

	h[0] = (uint8_t)(0x80 | op);
	if (n < 126) {
		h[1] = (uint8_t)n;
	} else if (n < 65536) {
		h[1] = 126, h[2] = (uint8_t)(n >> 8), h[3] = (uint8_t)n, hl = 4;
	} else {
		h[1] = 127, hl = 10;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
	}
	return send_all(fd, h, hl) || (n && send_all(fd, data, n)) ? -1 : 0;
}

static void ws_close(int fd, unsigned code, const char *why)
{
	char b[128];
	size_t n = strlen(why) > sizeof(b) - 2 ? sizeof(b) - 2 : strlen(why);

	b[0] = (char)(code >> 8), b[1] = (char)code;
	memcpy(b + 2, why, n);
	ws_send(fd, OP_CLOSE, b, n + 2);
}

/* Keystrokes to the domain's console, through capsuled's own handler. */
static void console_input(struct web_ws *x, const char *data, size_t n, bool release)
{
	struct http_request req = {.method = "POST", .path = "/api/v1/domain.console",
				   .peer_pid = x->writer};
	struct http_response resp = {0};
	char body[WS_MAX_MESSAGE + 1];

	memcpy(body, data, n);
	body[n] = 0;
	req.body = body, req.body_len = n;
	snprintf(req.query, sizeof(req.query), "domain=%s%s", x->domain, release ? "&release=1" : "");
	api_console_input(x->w->dm, &req, &resp);
	if (resp.status != 200 && resp.body && !release)
		ws_send(x->fd, OP_TEXT, resp.body, resp.body_len); /* {"error": ...} */
	free(resp.body);
}

/* Lines from capsuled's stream to the browser: 0, or -1 when either side is done. */
static int relay_up(struct web_ws *x, char *buf, size_t *len)
{
	ssize_t n = read(x->up, buf + *len, WS_UP_BUF - *len);
	char *p = buf, *nl;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		ws_close(x->fd, 1000, "the stream ended");
		return -1;
	}
	*len += (size_t)n;
	while ((nl = memchr(p, '\n', *len - (size_t)(p - buf)))) {
		if (nl > p && ws_send(x->fd, OP_TEXT, p, (size_t)(nl - p)))
			return -1;
		p = nl + 1;
	}
	*len -= (size_t)(p - buf);
	memmove(buf, p, *len);
	if (*len == WS_UP_BUF) { /* no line is that long: not capsuled's stream */
		ws_close(x->fd, 1011, "a line too long");
		return -1;
	}
	return 0;
}

/* Frames from the browser (masked, RFC 6455 5.3): 0, or -1 to end. */
static int relay_down(struct web_ws *x, uint8_t *buf, size_t *len)
{
	ssize_t n = read(x->fd, buf + *len, WS_MAX_MESSAGE + 14 - *len);
	size_t at = 0;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	*len += (size_t)n;
	for (;;) {
		uint8_t *f = buf + at;
		size_t avail = *len - at, hl = 2, plen;
		int op;

		if (avail < 2)
			break;
		op = f[0] & 0x0f;
		plen = f[1] & 0x7f;
		if (!(f[1] & 0x80) || (f[0] & 0x70)) {
			ws_close(x->fd, 1002, "frames from a client are masked, without RSV bits");
			return -1;
		}
		if (plen == 126) {
			if (avail < 4)
				break;
			plen = (size_t)f[2] << 8 | f[3], hl = 4;
		} else if (plen == 127) {
			ws_close(x->fd, 1009, "a message too large");
			return -1;
		}
		if (plen > WS_MAX_MESSAGE) {
			ws_close(x->fd, 1009, "a message too large");
			return -1;
		}
		if (avail < hl + 4 + plen)
			break;
		for (size_t i = 0; i < plen; i++)
			f[hl + 4 + i] ^= f[hl + i % 4];
		at += hl + 4 + plen;
		switch (op) {
		case OP_CONT:
		case OP_TEXT:
		case OP_BINARY:
			if (x->console && plen)
				console_input(x, (char *)f + hl + 4, plen, false);
			break;
		case OP_CLOSE:
			ws_close(x->fd, 1000, "");
			return -1;
		case OP_PING:
			ws_send(x->fd, OP_PONG, f + hl + 4, plen);
			break;
		case OP_PONG:
			break;
		default:
			ws_close(x->fd, 1002, "an unknown opcode");
			return -1;
		}
	}
	*len -= at;
	memmove(buf, buf + at, *len);
	return 0;
}

static void *ws_thread(void *arg)
{
	struct web_ws *x = arg;
	struct web *w = x->w;
	struct timeval tv = {.tv_sec = 5};
	char err[512], *up_buf = malloc(WS_UP_BUF);
	uint8_t *down = malloc(WS_MAX_MESSAGE + 14);
	size_t up_len = 0, down_len = 0;
	bool typed = false;
	int up;

	/* Blocking, with a bound on every send: a browser that stops reading is dropped. */
	fcntl(x->fd, F_SETFL, fcntl(x->fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(x->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	up = up_buf && down ? httpc_stream(w->dm->socket_path, x->upstream, 5000, err, sizeof(err))
			    : -ENOMEM;
	if (up < 0) {
		char msg[600];

		snprintf(msg, sizeof(msg), "{\"error\": \"%s\"}",
			 up == -ENOMEM ? "out of memory" : "capsuled's stream did not open");
		ws_send(x->fd, OP_TEXT, msg, strlen(msg));
		ws_close(x->fd, 1011, "no stream");
		goto out;
	}
	pthread_mutex_lock(&w->lock);
	x->up = up;
	if (w->stopping)
		shutdown(up, SHUT_RDWR);
	pthread_mutex_unlock(&w->lock);
	for (;;) {
		struct pollfd p[2] = {{.fd = x->fd, .events = POLLIN}, {.fd = up, .events = POLLIN}};
		int r = poll(p, 2, WS_PING_MS);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		if (r == 0) {
			if (ws_send(x->fd, OP_PING, NULL, 0))
				break;
			continue;
		}
		if (p[1].revents && relay_up(x, up_buf, &up_len))
			break;
		if (p[0].revents) {
			typed |= x->console;
			if (relay_down(x, down, &down_len))
				break;
		}
	}
	if (typed)
		console_input(x, "", 0, true); /* another writer may type at once */
out:
	free(up_buf);
	free(down);
	pthread_mutex_lock(&w->lock);
	close(x->fd);
	if (x->up >= 0)
		close(x->up);
	x->fd = x->up = -1;
	x->state = WS_DONE;
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void ws_takeover(void *ctx, int fd, void *arg)
{
	struct web *w = ctx;
	struct web_ws *x = arg;

	pthread_mutex_lock(&w->lock);
	x->fd = fd;
	if (fd < 0 || w->stopping || pthread_create(&x->thread, NULL, ws_thread, x)) {
		if (fd >= 0)
			close(fd);
		x->fd = -1;
		x->state = WS_FREE;
	} else {
		x->state = WS_RUNNING;
	}
	pthread_mutex_unlock(&w->lock);
}

/* A free socket slot (joining a finished thread's), or NULL. Under w->lock. */
static struct web_ws *reserve(struct web *w)
{
	for (unsigned i = 0; i < WEB_MAX_SOCKETS; i++) {
		struct web_ws *x = &w->ws[i];

		if (x->state == WS_DONE) {
			pthread_join(x->thread, NULL); /* it is past its last lock: quick */
			x->state = WS_FREE;
		}
		if (x->state == WS_FREE) {
			x->state = WS_RESERVED;
			return x;
		}
	}
	return NULL;
}

static void handshake(struct web *w, const struct http_request *req, struct http_response *resp,
		      const char *domain, const char *upstream)
{
	char key[64], text[96], accept[32], head[256];
	uint8_t digest[SHA1_DIGEST_SIZE];
	struct sha1_ctx sha;
	struct web_ws *x;

	if (!web_session(w, req)) {
		api_error(resp, 401, "log in first (POST /login)");
		return;
	}
	if (!web_same_origin(w, req)) {
		api_error(resp, 403, "a cross-site WebSocket (its Origin is not this dashboard)");
		return;
	}
	if (!header_token(req, "upgrade", "websocket") || !header_token(req, "connection", "upgrade") ||
	    !http_header(req, "sec-websocket-key", key, sizeof(key)) || strlen(key) != 24 ||
	    !http_header(req, "sec-websocket-version", text, sizeof(text)) || strcmp(text, "13")) {
		api_error(resp, 400, "a WebSocket handshake (RFC 6455, version 13) only");
		return;
	}
	pthread_mutex_lock(&w->lock);
	x = w->stopping ? NULL : reserve(w);
	if (x) {
		x->console = domain != NULL;
		snprintf(x->domain, sizeof(x->domain), "%s", domain ? domain : "");
		snprintf(x->upstream, sizeof(x->upstream), "%s", upstream);
		/* Negative: no process has that pid, so no CLI writer is taken for it. */
		x->writer = -(++w->next_writer & 0x3fffffff);
	}
	pthread_mutex_unlock(&w->lock);
	if (!x) {
		api_error(resp, 503, "%u WebSockets are open already", WEB_MAX_SOCKETS);
		return;
	}
	snprintf(text, sizeof(text), "%s%s", key, WS_GUID);
	sha1_init(&sha);
	sha1_update(&sha, strlen(text), (const uint8_t *)text);
	sha1_digest(&sha, sizeof(digest), digest);
	base64_encode(digest, sizeof(digest), accept);
	snprintf(head, sizeof(head), "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
	api_json(resp, 101, head);
	resp->takeover = ws_takeover;
	resp->takeover_arg = x;
}

void web_ws_console(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct web *w = ctx;
	char key[128], path[300];
	bool known;

	if (!query_get(req->query, "domain", key, sizeof(key)) || !key[0] ||
	    strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
		    strlen(key)) {
		api_error(resp, 400, "name the domain: /ws/console?domain=NAME, ID or UUID");
	} else {
		pthread_mutex_lock(&w->dm->lock);
		known = dom_find(w->dm, key) != NULL;
		pthread_mutex_unlock(&w->dm->lock);
		snprintf(path, sizeof(path), "/api/v1/domain.console?domain=%s&follow=1", key);
		if (known)
			handshake(w, req, resp, key, path);
		else
			api_error(resp, 404, "no domain %s", key);
	}
	if (!resp->headers)
		resp->headers = web_headers(NULL);
}

void web_ws_events(void *ctx, const struct http_request *req, struct http_response *resp)
{
	char path[64];

	snprintf(path, sizeof(path), "/api/v1/events?history=%d", WS_HISTORY);
	handshake(ctx, req, resp, NULL, path);
	if (!resp->headers && resp->status != 101)
		resp->headers = web_headers(NULL);
}

void web_ws_stop(struct web *w)
{
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	for (unsigned i = 0; i < WEB_MAX_SOCKETS; i++) {
		if (w->ws[i].fd >= 0)
			shutdown(w->ws[i].fd, SHUT_RDWR);
		if (w->ws[i].up >= 0)
			shutdown(w->ws[i].up, SHUT_RDWR);
	}
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < WEB_MAX_SOCKETS; i++) {
		pthread_mutex_lock(&w->lock);
		bool joinable = w->ws[i].state == WS_RUNNING || w->ws[i].state == WS_DONE;
		pthread_mutex_unlock(&w->lock);
		if (joinable)
			pthread_join(w->ws[i].thread, NULL);
		w->ws[i].state = WS_FREE;
	}
}
