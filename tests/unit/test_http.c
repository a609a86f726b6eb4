/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API server's request parser (src/api/http.c): fed whole, cut at every byte boundary
 * and byte by byte (every refusal, and how early it comes), pipelined requests,
 * 100-continue; response heads and JSON errors. tests/unit/test_api_server.c drives a real
 * server.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule/api.h"
#include "capsule/sandbox.h"
#include "capsule/usock.h"
#include "capsule/vm.h"

/* ---- the parser ---- */

struct got {
	int rc;
	struct http_request req;
	size_t used;
	char body[HTTP_MAX_BODY + 1];
};

/* Feed in[0, len): `first` bytes, then `step` at a time, parsing after each piece. */
static int feed_parse(const char *in, size_t len, size_t first, size_t step, struct got *g)
{
	struct http_parser p;
	size_t at = 0;

	http_parser_init(&p);
	g->rc = 0;
	while (g->rc == 0 && at < len) {
		size_t n = at ? step : first;

		n = n < len - at ? n : len - at;
		assert_int_equal(http_feed(&p, in + at, n), n);
		at += n;
		g->rc = http_parse(&p, &g->req, &g->used);
	}
	if (g->rc == 1) {
		assert_int_equal(g->req.body[g->req.body_len], 0);
		memcpy(g->body, g->req.body, g->req.body_len + 1);
		/* Asked again before http_consume: the same request. */
		assert_int_equal(http_parse(&p, &g->req, &g->used), 1);
	} else if (g->rc < 0) {
		assert_non_null(p.reason);
		assert_int_equal(http_room(&p), 0); /* a refusal is final */
		assert_int_equal(http_parse(&p, &g->req, &g->used), g->rc);
	}
	http_parser_free(&p);
	return g->rc;
}

struct pcase {
	const char *in;
	size_t len;
	int rc; /* 1, or the refusal */
	const char *method, *path, *query, *body;
	bool keep_alive;
	size_t early; /* a refusal comes once this many bytes are in (0: at the end) */
	size_t body_len; /* 0: strlen(body) */
};
#define IN(s) .in = (s), .len = sizeof(s) - 1
#define H11 " HTTP/1.1\r\nHost: x\r\n"

static const struct pcase cases[] = {
	{IN("GET /" H11 "\r\n"), 1, "GET", "/", "", "", true},
	{IN("GET /api/v1/vm.info?x=1&y=%2f/? HTTP/1.1\r\nHost: x\r\n\r\n"), 1, "GET",
	 "/api/v1/vm.info", "x=1&y=%2f/?", "", true},
	{IN("PUT /a" H11 "content-LENGTH: 5\r\n\r\nhello"), 1, "PUT", "/a", "", "hello", true},
	{IN("PUT /a" H11 "Content-Length:   0007\t \r\n\r\nab\0cdefGET"), 1, "PUT", "/a", "",
	 "ab\0cdef", true, .body_len = 7},
	{IN("GET / HTTP/1.0\r\n\r\n"), 1, "GET", "/", "", "", false},
	{IN("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), 1, "GET", "/", "", "", true},
	{IN("GET /" H11 "Connection: keep-alive, CLOSE\r\n\r\n"), 1, "GET", "/", "", "", false},
	{IN("\r\n\r\nGET /" H11 "\r\n"), 1, "GET", "/", "", "", true},
	{IN("GET /" H11 "X-Odd: \t v\xe9 ue\t \r\n\r\n"), 1, "GET", "/", "", "", true},
	{IN("GET / HTTP/1.7\r\nHost: x\r\n\r\n"), 1, "GET", "/", "", "", true},
	{IN("M-SEARCH /" H11 "\r\n"), 1, "M-SEARCH", "/", "", "", true},
	/* refusals */
	{IN("GET / HTTP/1.1\nHost: x\n\n"), -400, .early = 15},
	{IN("\nGET /" H11 "\r\n"), -400, .early = 1},
	{IN("GET /" H11 "X: a\rb\r\n\r\n"), -400, .early = 31},
	{IN("GET /" H11 "X: a\0\r\n\r\n"), -400, .early = 30},
	{IN("GET /" H11 "X: \x01\r\n\r\n"), -400, .early = 29},
	{IN("GET /" H11 "X: \x7f\r\n\r\n"), -400, .early = 29},
	{IN("GET  /" H11 "\r\n"), -400, .early = 17},
	{IN("GET /\r\n\r\n"), -400, .early = 7},
	{IN("GET * HTTP/1.1\r\nHost: x\r\n\r\n"), -400, .early = 16},
	{IN("GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n"), -400, .early = 24},
	{IN("GET /a#b" H11 "\r\n"), -400, .early = 19},
	{IN("GET /%zz" H11 "\r\n"), -400, .early = 19},
	{IN("GET /%2" H11 "\r\n"), -400, .early = 18},
	{IN("GET /\xff" H11 "\r\n"), -400, .early = 17},
	{IN("G(T /" H11 "\r\n"), -400, .early = 16},
	{IN("GET / HTTPS/1.1\r\nHost: x\r\n\r\n"), -400, .early = 17},
	{IN("GET /" H11 " X: folded\r\n\r\n"), -400, .early = 37},
	{IN("GET /" H11 "X : a\r\n\r\n"), -400, .early = 32},
	{IN("GET /" H11 "X a\r\n\r\n"), -400, .early = 30},
	{IN("GET /" H11 ": a\r\n\r\n"), -400, .early = 30},
	{IN("GET / HTTP/1.1\r\n\r\n"), -400, .early = 18},
	{IN("GET /" H11 "Host: y\r\n\r\n"), -400, .early = 34},
	{IN("PUT /" H11 "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc"), -400, .early = 63},
	{IN("PUT /" H11 "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"), -400, .early = 63},
	{IN("PUT /" H11 "Content-Length: 3, 3\r\n\r\nabc"), -400, .early = 47},
	{IN("PUT /" H11 "Content-Length: -1\r\n\r\n"), -400, .early = 45},
	{IN("PUT /" H11 "Content-Length: +3\r\n\r\nabc"), -400, .early = 45},
	{IN("PUT /" H11 "Content-Length: 0x3\r\n\r\nabc"), -400, .early = 46},
	{IN("PUT /" H11 "Content-Length:\r\n\r\n"), -400, .early = 42},
	{IN("PUT /" H11 "Content-Length: 104857600\r\n\r\n"), -413, .early = 52},
	{IN("PUT /" H11 "Content-Length: 65537\r\n\r\n"), -413, .early = 48},
	{IN("PUT /" H11 "Content-Length: 99999999999999999999999999\r\n\r\n"), -413, .early = 69},
	{IN("PUT /" H11 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), -501, .early = 53},
	{IN("PUT /" H11 "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"), -501,
	 .early = 72},
	{IN("ABCDEFGHIJKLMNOP /" H11 "\r\n"), -501, .early = 29},
	{IN("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), -505, .early = 16},
	{IN("GET / HTTP/0.9\r\nHost: x\r\n\r\n"), -505, .early = 16},
	{IN("PUT /" H11 "Expect: 200-ok\r\n\r\n"), -417, .early = 41},
};

static void check_case(const struct pcase *c, struct got *g, struct got *whole)
{
	assert_int_equal(g->rc, c->rc);
	if (c->rc != 1)
		return;
	assert_string_equal(g->req.method, c->method);
	assert_string_equal(g->req.path, c->path);
	assert_string_equal(g->req.query, c->query);
	assert_int_equal(g->req.body_len, c->body_len ? c->body_len : strlen(c->body));
	assert_memory_equal(g->body, c->body, g->req.body_len);
	assert_int_equal(g->req.keep_alive, c->keep_alive);
	assert_int_equal(g->used, whole->used);
}

static void parser_cases(void **state)
{
	struct got *whole = malloc(sizeof(*whole)), *g = malloc(sizeof(*g));

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pcase *c = &cases[i];

		print_message("case %zu: %.*s\n", i, (int)strcspn(c->in, "\r\n"), c->in);
		feed_parse(c->in, c->len, c->len, c->len, whole);
		check_case(c, whole, whole);
		for (size_t cut = 1; cut < c->len; cut++) {
			feed_parse(c->in, c->len, cut, c->len, g);
			check_case(c, g, whole);
		}
		feed_parse(c->in, c->len, 1, 1, g);
		check_case(c, g, whole);
		if (c->early) { /* refused before the rest is even sent */
			assert_int_equal(feed_parse(c->in, c->early, 1, 1, g), c->rc);
			assert_int_equal(feed_parse(c->in, c->early - 1, 1, 1, g), 0);
		}
	}
	free(whole), free(g);
}

/* A request whose header block is exactly `head` bytes, and a body of `body` bytes. */
static char *sized(size_t head, size_t body, size_t *len)
{
	char *s = malloc(head + body + 1), start[64];
	int n = snprintf(start, sizeof(start), "PUT /" H11 "Content-Length: %zu\r\nX: ", body);

	memcpy(s, start, (size_t)n);
	memset(s + n, 'a', head - (size_t)n - 4);
	memcpy(s + head - 4, "\r\n\r\n", 4);
	memset(s + head, 'b', body);
	*len = head + body;
	return s;
}

static void parser_limits(void **state)
{
	struct got *g = malloc(sizeof(*g));
	size_t len, cuts[] = {1, 100, 4096, 8191, 8192, 8193, 40000};
	char *s;

	(void)state;
	s = sized(HTTP_MAX_HEADER, HTTP_MAX_BODY, &len);
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		assert_int_equal(feed_parse(s, len, cuts[i], 997, g), 1);
		assert_int_equal(g->req.body_len, HTTP_MAX_BODY);
		assert_int_equal(g->used, len);
	}
	free(s);
	s = sized(HTTP_MAX_HEADER + 1, 0, &len);
	assert_int_equal(feed_parse(s, len, len, len, g), -431);
	assert_int_equal(feed_parse(s, HTTP_MAX_HEADER, 1, 1, g), 0);
	assert_int_equal(feed_parse(s, HTTP_MAX_HEADER + 1, 1, 1, g), -431);
	free(s);
	/* A path or a query too long for struct http_request: 414 at the request line. */
	s = malloc(1024);
	len = (size_t)snprintf(s, 1024, "GET /%0600d HTTP/1.1\r\n", 0);
	assert_int_equal(feed_parse(s, len, 1, 1, g), -414);
	len = (size_t)snprintf(s, 1024, "GET /?%0520d HTTP/1.1\r\n", 0);
	assert_int_equal(feed_parse(s, len, 1, 1, g), -414);
	len = (size_t)snprintf(s, 1024, "GET /?%0510d HTTP/1.1\r\nHost: x\r\n\r\n", 0);
	assert_int_equal(feed_parse(s, len, 1, 1, g), 1);
	free(s), free(g);
}

/* Requests back to back: each parsed in order, fed in pieces of `step`. */
static void pipeline(const char *in, size_t len, size_t step)
{
	static const char *const want[][3] = {
		{"GET", "/a", ""}, {"PUT", "/b", "abc"}, {"HEAD", "/c", ""}, {"POST", "/d", "x"},
	};
	struct http_parser p;
	struct http_request req;
	size_t at = 0, used, n = 0;
	int rc;

	http_parser_init(&p);
	while (n < 4) {
		rc = http_parse(&p, &req, &used);
		if (rc == 0) {
			size_t k = step < len - at ? step : len - at;

			assert_true(k > 0);
			assert_int_equal(http_feed(&p, in + at, k), k);
			at += k;
			continue;
		}
		assert_int_equal(rc, 1);
		assert_string_equal(req.method, want[n][0]);
		assert_string_equal(req.path, want[n][1]);
		assert_string_equal(req.body, want[n][2]);
		assert_int_equal(req.keep_alive, n < 3);
		http_consume(&p);
		n++;
	}
	assert_int_equal(at, len);
	assert_int_equal(http_parse(&p, &req, &used), 0);
	http_parser_free(&p);
}

static void parser_pipelining(void **state)
{
	static const char in[] = "GET /a" H11 "\r\nPUT /b" H11 "Content-Length: 3\r\n\r\nabc"
				 "\r\nHEAD /c" H11 "\r\nPOST /d" H11
				 "Connection: close\r\nContent-Length: 1\r\n\r\nx";

	(void)state;
	for (size_t step = 1; step <= sizeof(in); step++)
		pipeline(in, sizeof(in) - 1, step);
}

static void parser_continue(void **state)
{
	static const char head[] = "PUT /" H11 "Expect: 100-Continue\r\nContent-Length: 3\r\n\r\n";
	struct http_parser p;
	struct http_request req;
	size_t used;

	(void)state;
	http_parser_init(&p);
	http_feed(&p, head, sizeof(head) - 2);
	assert_int_equal(http_parse(&p, &req, &used), 0);
	assert_false(http_take_continue(&p)); /* not before the header block is whole */
	http_feed(&p, "\n", 1);
	assert_int_equal(http_parse(&p, &req, &used), 0);
	assert_true(http_take_continue(&p));
	assert_false(http_take_continue(&p)); /* once */
	http_feed(&p, "abc", 3);
	assert_int_equal(http_parse(&p, &req, &used), 1);
	assert_string_equal(req.body, "abc");
	http_consume(&p);
	/* The body already here: nothing to ask for. */
	http_feed(&p, head, sizeof(head) - 1);
	http_feed(&p, "abc", 3);
	assert_int_equal(http_parse(&p, &req, &used), 1);
	assert_false(http_take_continue(&p));
	http_parser_free(&p);
}

static void responses(void **state)
{
	struct http_head h = {.status = 200, .content_type = "application/json",
			      .content_length = 2, .keep_alive = true, .date = 784111777};
	struct http_response r = {0};
	char out[512];
	size_t n;

	(void)state;
	n = http_format_head(out, sizeof(out), &h);
	assert_int_equal(n, strlen(out));
	assert_string_equal(out, "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
			    "Content-Type: application/json\r\nContent-Length: 2\r\n"
			    "Connection: keep-alive\r\n\r\n");
	h = (struct http_head){.status = 405, .content_type = "application/json",
			       .allow = "GET, HEAD", .date = 951782400};
	http_format_head(out, sizeof(out), &h);
	assert_string_equal(out, "HTTP/1.1 405 Method Not Allowed\r\nDate: Tue, 29 Feb 2000 "
			    "00:00:00 GMT\r\nContent-Type: application/json\r\n"
			    "Content-Length: 0\r\nAllow: GET, HEAD\r\nConnection: close\r\n\r\n");
	h = (struct http_head){.status = 204, .content_type = "x", .date = 4102444799};
	http_format_head(out, sizeof(out), &h);
	assert_string_equal(out, "HTTP/1.1 204 No Content\r\nDate: Thu, 31 Dec 2099 23:59:59 "
			    "GMT\r\nConnection: close\r\n\r\n");
	h = (struct http_head){.status = 200, .chunked = true};
	http_format_head(out, sizeof(out), &h);
	assert_string_equal(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			    "Connection: close\r\n\r\n");
	assert_int_equal(http_format_head(out, 20, &h), 0);
	api_error(&r, 404, "no such path: %s", "/x");
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "{\"error\": \"no such path: /x\"}");
	assert_int_equal(r.body_len, strlen(r.body));
	api_error(&r, 400, "bad byte \xff");
	assert_string_equal(r.body, "{\"error\": \"(an error message that is not UTF-8)\"}");
	api_json(&r, 201, "{\"a\": 1}");
	assert_int_equal(r.status, 201);
	assert_string_equal(r.body, "{\"a\": 1}");
	assert_string_equal(r.content_type, "application/json");
	free(r.body);
}

int main(void)
{
	const struct CMUnitTest parser[] = {
		cmocka_unit_test(parser_cases),
		cmocka_unit_test(parser_limits),
		cmocka_unit_test(parser_pipelining),
		cmocka_unit_test(parser_continue),
		cmocka_unit_test(responses),
	};

	return cmocka_run_group_tests(parser, NULL, NULL);
}
