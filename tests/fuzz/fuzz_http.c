/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the API's HTTP request parser (src/api/http.c). The first byte
 * says how the rest arrives (all at once, or in pieces of 1 to 127 bytes) and whether
 * bytes 0xe0-0xff stand for HTTP tokens (methods, versions, headers: the fuzzer reaches
 * bodies and pipelined requests in seconds instead of hours). The input is parsed twice,
 * whole and in pieces, and the two must agree request for request and refusal for
 * refusal: the parser must not care how the bytes arrive. Every request must keep the
 * parser's promises (fields NUL-terminated, a path starting with '/', limits, the body
 * NUL-terminated in place), and a parser must never sit on a full buffer undecided.
 *
 *   make fuzz            (clang, ASan + UBSan; FUZZ_SECONDS per run)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsule/api.h"

#define MAX_INPUT (HTTP_BUF_MAX * 3)
#define MAX_EVENTS 64

static const char *const tokens[32] = {
	"GET ", "PUT ", "POST ", "HEAD ", "/api/v1/vm.info", "?a=b&c=%2f", " HTTP/1.1\r\n",
	" HTTP/1.0\r\n", "Host: x\r\n", "Content-Length: ", "Transfer-Encoding: chunked\r\n",
	"Connection: close\r\n", "Connection: keep-alive\r\n", "Expect: 100-continue\r\n",
	"\r\n", "\r\n\r\n", "0", "3", "65536", "65537", "104857600", "%zz", " ", ":", "\t",
	"\n", "\r", "X-A: b\r\n", "content-length: 3\r\n", "HOST: y\r\n", "HTTP/2.0", "\0",
};

struct event {
	int rc;
	size_t used;
	uint64_t hash; /* of the request */
};

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void check(int rc, const struct http_parser *p, const struct http_request *r,
		  size_t used, size_t fed)
{
	if (rc < 0) {
		if (!p->reason || (rc != -400 && rc != -413 && rc != -414 && rc != -417 &&
				   rc != -431 && rc != -501 && rc != -505))
			abort();
		return;
	}
	if (!r->method[0] || strlen(r->method) >= sizeof(r->method) || r->path[0] != '/' ||
	    strlen(r->path) >= sizeof(r->path) || strlen(r->query) >= sizeof(r->query) ||
	    r->body_len > HTTP_MAX_BODY || r->body[r->body_len] || used > fed ||
	    used < r->body_len || (r->minor != 0 && r->minor != 1))
		abort();
}

/* Parse in[0, n) arriving `step` bytes at a time: the requests and refusals, in order. */
static size_t run(const uint8_t *in, size_t n, size_t step, struct event *ev)
{
	struct http_parser p;
	struct http_request req;
	size_t at = 0, k = 0, used;

	http_parser_init(&p);
	while (k < MAX_EVENTS) {
		int rc = http_parse(&p, &req, &used);

		if (rc == 0) {
			size_t take = step < n - at ? step : n - at;

			if (take && !http_room(&p))
				abort(); /* a full buffer, and no answer */
			if (take > http_room(&p))
				take = http_room(&p);
			if (!take)
				break;
			if (http_feed(&p, in + at, take) != take)
				abort();
			at += take;
			continue;
		}
		check(rc, &p, &req, used, at);
		ev[k].rc = rc;
		ev[k].used = rc == 1 ? used : 0;
		ev[k].hash = 0;
		if (rc == 1) {
			uint64_t h = fnv(0xcbf29ce484222325ull, req.method, strlen(req.method));

			h = fnv(h, req.path, strlen(req.path) + 1);
			h = fnv(h, req.query, strlen(req.query) + 1);
			h = fnv(h, req.body, req.body_len);
			ev[k].hash = fnv(h, &req.keep_alive, sizeof(req.keep_alive));
		}
		k++;
		if (rc < 0)
			break;
		http_consume(&p);
	}
	http_parser_free(&p);
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t in[MAX_INPUT];
	static struct event whole[MAX_EVENTS], pieces[MAX_EVENTS];
	size_t n = 0, step, a, b, same;

	if (size < 1)
		return 0;
	step = data[0] & 0x7f ? data[0] & 0x7f : SIZE_MAX;
	for (size_t i = 1; i < size && n < MAX_INPUT; i++) {
		const char *t = data[0] & 0x80 && data[i] >= 0xe0 ? tokens[data[i] - 0xe0] : NULL;
		size_t len = t ? (t[0] ? strlen(t) : 1) : 1;

		if (n + len > MAX_INPUT)
			break;
		memcpy(in + n, t ? (const void *)t : (const void *)&data[i], len);
		n += len;
	}
	a = run(in, n, SIZE_MAX, whole);
	b = run(in, n, step, pieces);
	for (same = 0; same < a && same < b; same++)
		if (whole[same].rc != pieces[same].rc || whole[same].used != pieces[same].used ||
		    whole[same].hash != pieces[same].hash)
			break;
	if (a != b || same != a) {
		fprintf(stderr, "fuzz_http: %zu events whole, %zu in pieces of %zu\n", a, b, step);
		abort();
	}
	return 0;
}
