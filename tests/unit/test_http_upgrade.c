/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the web dashboard (src/daemon/web*.c) needs of the API server: http_header on a
 * parsed request, extra response header lines, and a connection handed over after a 101
 * (http_response.takeover), on a confined server thread as the VMM's are.
 */
#include <errno.h>
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

static int parse(struct http_parser *p, const char *text, struct http_request *req)
{
	size_t used;

	http_parser_init(p);
	assert_int_equal(http_feed(p, text, strlen(text)), strlen(text));
	return http_parse(p, req, &used);
}

static void headers(void **state)
{
	struct http_parser p;
	struct http_request req;
	char v[16];

	(void)state;
	assert_int_equal(parse(&p, "POST /x?a=1 HTTP/1.1\r\nHost: h:80\r\nX-CSRF-Token:  abc \t\r\n"
			       "Cookie: a=b; c=d\r\nContent-Length: 12\r\n\r\nFake: header", &req), 1);
	assert_true(http_header(&req, "x-csrf-token", v, sizeof(v)));
	assert_string_equal(v, "abc");
	assert_true(http_header(&req, "HOST", v, sizeof(v)));
	assert_string_equal(v, "h:80");
	assert_true(http_header(&req, "cookie", v, sizeof(v)));
	assert_string_equal(v, "a=b; c=d");
	assert_false(http_header(&req, "fake", v, sizeof(v)));   /* the body is not the head */
	assert_false(http_header(&req, "x-csrf", v, sizeof(v))); /* a prefix is not a name */
	assert_false(http_header(&req, "origin", v, sizeof(v)));
	assert_false(http_header(&req, "cookie", v, 4));         /* does not fit */
	http_parser_free(&p);
}

static void extra_headers(void **state)
{
	struct http_head h = {.status = 401, .content_type = "application/json",
			      .content_length = 2, .extra = "Set-Cookie: s=1; HttpOnly\r\n"};
	char out[512];

	(void)state;
	assert_true(http_format_head(out, sizeof(out), &h) > 0);
	assert_non_null(strstr(out, "HTTP/1.1 401 Unauthorized\r\n"));
	assert_non_null(strstr(out, "\r\nSet-Cookie: s=1; HttpOnly\r\nConnection: close\r\n\r\n"));
}

struct taken {
	int fd;  /* what takeover got; -2 until it is called */
	int calls;
};

static void take(void *ctx, int fd, void *arg)
{
	struct taken *t = arg;

	(void)ctx;
	t->fd = fd;
	t->calls++;
	if (fd >= 0) { /* the connection is ours now: speak and close */
		(void)!write(fd, "after", 5);
		close(fd);
	}
}

static struct taken taken_ok = {-2, 0}, taken_bad = {-2, 0};

static void upgrade(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)ctx, (void)req;
	api_json(resp, 101, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n"
		 "Connection: Upgrade\r\n\r\n");
	resp->takeover = take;
	resp->takeover_arg = &taken_ok;
}

static void not_upgrade(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)ctx, (void)req;
	api_json(resp, 200, "{}");
	resp->takeover = take;
	resp->takeover_arg = &taken_bad;
}

static const struct api_route routes[] = {
	{"GET", "/up", upgrade},
	{"GET", "/bad", not_upgrade},
};

static int exchange(const char *path, const char *req, char *buf, size_t size)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 10};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t len = 0;
	ssize_t n;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = 0;
	close(fd);
	return (int)len;
}

static void takeover(void **state)
{
	struct usock u = {.fd = -1, .lock_fd = -1};
	struct api_server *s;
	char err[256], path[100], buf[1024];

	(void)state;
	sandbox_set_enabled(true); /* as the VMM's API thread: no dup, no fcntl */
	snprintf(path, sizeof(path), "/tmp/capsule-test-upgrade-%d.sock", getpid());
	assert_int_equal(usock_listen(&u, path, 0600, err, sizeof(err)), 0);
	assert_int_equal(api_server_start(&s, u.fd, routes, 2, NULL), 0);

	exchange(path, "GET /up HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof(buf));
	assert_string_equal(buf, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n"
				 "Connection: Upgrade\r\n\r\nafter");
	assert_int_equal(taken_ok.calls, 1);
	assert_true(taken_ok.fd >= 0);

	/* A takeover without a 101: called with -1 (to free its argument), and a 500. */
	exchange(path, "GET /bad HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof(buf));
	assert_int_equal(strncmp(buf, "HTTP/1.1 500 ", 13), 0);
	assert_int_equal(taken_bad.calls, 1);
	assert_int_equal(taken_bad.fd, -1);

	/* Bytes past the request: not handed over (they would be lost), closed. */
	taken_ok.calls = 0;
	exchange(path, "GET /up HTTP/1.1\r\nHost: x\r\n\r\nearly", buf, sizeof(buf));
	assert_int_equal(taken_ok.calls, 1);
	assert_int_equal(taken_ok.fd, -1);
	assert_null(strstr(buf, "after"));

	/* The server still serves after all that. */
	taken_ok.calls = 0;
	exchange(path, "GET /up HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof(buf));
	assert_int_equal(taken_ok.calls, 1);
	api_server_stop(s);
	usock_close(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(headers),
		cmocka_unit_test(extra_headers),
		cmocka_unit_test(takeover),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
