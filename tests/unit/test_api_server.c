/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A real API server (src/api/) on a socket in /tmp, its thread confined as in capsule run,
 * driven by clients written here and by curl: statuses, pipelining, 100-continue, 413 at
 * once, 408 for a trickle, 150 clients at once, eviction, clients that leave, slow readers,
 * event streams, and no descriptor left behind. The parser alone: tests/unit/test_http.c.
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

/* ---- a real server ---- */

#define H11 " HTTP/1.1\r\nHost: x\r\n"

struct world {
	struct usock sock, sock2;
	struct api_server *s, *s2; /* s2: short timeouts and 4 client slots */
	int fds_before;            /* descriptors before either existed */
	int fds_running;           /* with both running and no client */
};

#define SHORT_IDLE_MS 1500u

static int fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* The server closes on its own thread: give it time to get there (up to 30 s: a loaded
 * host under the sanitizers starved it past 5 s; the check is that it closes at all). */
static void wait_fds(int want)
{
	for (int i = 0; i < 3000 && fds() != want; i++)
		usleep(10000);
	assert_int_equal(fds(), want);
}

static void hello(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)ctx, (void)req;
	api_json(resp, 200, "{\"hello\": \"world\"}");
}

/* Made with jansson on the confined thread: the hash seed must not need /dev/urandom. */
static void echo(void *ctx, const struct http_request *req, struct http_response *resp)
{
	json_t *o = json_pack("{s:s%,s:s}", "body", req->body, req->body_len, "query", req->query);

	(void)ctx;
	if (!o) {
		api_error(resp, 400, "the body is not UTF-8");
		return;
	}
	resp->status = 200;
	resp->body = json_dumps(o, JSON_COMPACT);
	resp->body_len = strlen(resp->body);
	json_decref(o);
}

static void big(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)ctx, (void)req;
	resp->status = 200;
	resp->content_type = "application/octet-stream";
	resp->body_len = 4u << 20;
	resp->body = malloc(resp->body_len);
	memset(resp->body, 'z', resp->body_len);
}

static void events(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)ctx, (void)req;
	api_json(resp, 200, "{\"stream\": \"start\"}");
	resp->content_type = "application/x-ndjson";
	resp->stream = true;
}

static const struct api_route routes[] = {
	{"GET", "/hello", hello},
	{"PUT", "/echo", echo},
	{"GET", "/big", big},
	{"GET", "/events", events},
};

static int dial(const struct usock *u)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 10};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", u->path);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool put(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t k = send(fd, s, n, MSG_NOSIGNAL);

		if (k <= 0)
			return false;
		s += k, n -= (size_t)k;
	}
	return true;
}

static bool puts_(int fd, const char *s)
{
	return put(fd, s, strlen(s));
}

/* Read until the server closes (or `until` shows up, or a timeout): the length. */
static size_t slurp(int fd, char *buf, size_t size, const char *until)
{
	size_t len = 0;
	ssize_t n;

	while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0) {
		len += (size_t)n;
		buf[len] = 0;
		if (until && strstr(buf, until))
			break;
	}
	buf[len] = 0;
	return len;
}

static int status(const char *r)
{
	return strncmp(r, "HTTP/1.1 ", 9) ? -1 : atoi(r + 9);
}

/* One request on a new connection, read to the end: the status. */
static int exchange(const struct usock *u, const char *req, char *buf, size_t size)
{
	int fd = dial(u), st;

	assert_true(fd >= 0);
	assert_true(puts_(fd, req));
	slurp(fd, buf, size, NULL);
	close(fd);
	st = status(buf);
	return st;
}

static int world_up(void **state)
{
	static struct world w;
	struct api_options opts = {.idle_ms = SHORT_IDLE_MS, .max_clients = 4,
				   .thread_name = "api-test"};
	char err[256], path[100];

	sandbox_set_enabled(true); /* the server threads run under the service list */
	w.fds_before = fds();
	snprintf(path, sizeof(path), "/tmp/capsule-test-http-%d.sock", getpid());
	assert_int_equal(usock_listen(&w.sock, path, 0600, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "/tmp/capsule-test-http2-%d.sock", getpid());
	assert_int_equal(usock_listen(&w.sock2, path, 0600, err, sizeof(err)), 0);
	assert_int_equal(api_server_start(&w.s, w.sock.fd, routes, 4, &w), 0);
	assert_int_equal(api_server_start_opts(&w.s2, w.sock2.fd, routes, 4, &w, &opts), 0);
	w.fds_running = fds();
	*state = &w;
	return 0;
}

/* The server threads run under the service allowlist, as in capsule run. */
static void confined(void **state)
{
	char path[64], text[2048];
	int found = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	(void)state;
	while ((e = readdir(d))) {
		FILE *f;
		size_t n;

		snprintf(path, sizeof(path), "/proc/self/task/%.16s/status", e->d_name);
		if (e->d_name[0] == '.' || !(f = fopen(path, "r")))
			continue;
		n = fread(text, 1, sizeof(text) - 1, f);
		text[n] = 0;
		fclose(f);
		if (strncmp(text, "Name:\tapi\n", 10) && strncmp(text, "Name:\tapi-test\n", 15))
			continue;
		found++;
#if !defined(__SANITIZE_ADDRESS__) /* sandbox_enter confines nothing under ASan */
		assert_non_null(strstr(text, "\nSeccomp:\t2\n"));
#endif
	}
	closedir(d);
	assert_int_equal(found, 2);
}

static void statuses(void **state)
{
	struct world *w = *state;
	char r[8192];

	assert_int_equal(exchange(&w->sock, "GET /hello" H11 "Connection: close\r\n\r\n", r,
				  sizeof(r)), 200);
	assert_non_null(strstr(r, "\r\nContent-Type: application/json\r\n"));
	assert_non_null(strstr(r, "\r\nConnection: close\r\n"));
	assert_non_null(strstr(r, "\r\nDate: "));
	assert_non_null(strstr(r, "\r\nContent-Length: 18\r\n"));
	assert_non_null(strstr(r, "\r\n\r\n{\"hello\": \"world\"}"));
	assert_int_equal(exchange(&w->sock, "GET /nope" H11 "Connection: close\r\n\r\n", r,
				  sizeof(r)), 404);
	assert_non_null(strstr(r, "{\"error\": \"no such path: /nope\"}"));
	assert_int_equal(exchange(&w->sock, "GET /echo" H11 "Connection: close\r\n\r\n", r,
				  sizeof(r)), 405);
	assert_non_null(strstr(r, "\r\nAllow: PUT\r\n"));
	assert_int_equal(exchange(&w->sock, "DELETE /hello" H11 "Connection: close\r\n\r\n", r,
				  sizeof(r)), 405);
	assert_non_null(strstr(r, "\r\nAllow: GET, HEAD\r\n"));
	assert_int_equal(exchange(&w->sock, "HELLO\r\n\r\n", r, sizeof(r)), 400);
	assert_non_null(strstr(r, "\r\nConnection: close\r\n"));
	assert_non_null(strstr(r, "{\"error\": \"the request line is not METHOD /path"));
	assert_int_equal(exchange(&w->sock, "GET / HTTP/3.0\r\n\r\n", r, sizeof(r)), 505);
	assert_int_equal(exchange(&w->sock, "PUT /echo" H11 "Transfer-Encoding: chunked\r\n\r\n",
				  r, sizeof(r)), 501);
	/* HEAD: the GET route's head, without its body. */
	assert_int_equal(exchange(&w->sock, "HEAD /hello" H11 "Connection: close\r\n\r\n", r,
				  sizeof(r)), 200);
	assert_non_null(strstr(r, "Content-Length: 18\r\n"));
	assert_null(strstr(r, "hello"));
	assert_int_equal(exchange(&w->sock, "PUT /echo?q=1 HTTP/1.0\r\nContent-Length: 4\r\n\r\n"
				  "ab\"c", r, sizeof(r)), 200);
	assert_non_null(strstr(r, "\r\n\r\n{\"body\":\"ab\\\"c\",\"query\":\"q=1\"}"));
}

static void header_too_large(void **state)
{
	struct world *w = *state;
	char *req = malloc(HTTP_MAX_HEADER + 64), r[4096];
	int fd = dial(&w->sock);

	memset(req, 'a', HTTP_MAX_HEADER + 64);
	memcpy(req, "GET /" H11 "X: ", 27);
	assert_true(put(fd, req, HTTP_MAX_HEADER + 64));
	slurp(fd, r, sizeof(r), NULL);
	assert_int_equal(status(r), 431);
	close(fd);
	free(req);
}

/* Requests back to back on one connection: answered in order. */
static void keep_alive(void **state)
{
	struct world *w = *state;
	char r[8192], *p;
	int fd = dial(&w->sock);

	assert_true(puts_(fd, "GET /hello" H11 "\r\nPUT /echo" H11 "Content-Length: 2\r\n\r\nhi"
			      "GET /x" H11 "\r\nGET /hello" H11 "Connection: close\r\n\r\n"));
	slurp(fd, r, sizeof(r), NULL);
	close(fd);
	assert_int_equal(status(r), 200);
	assert_non_null(p = strstr(r, "{\"hello\": \"world\"}HTTP/1.1 200 OK\r\n"));
	assert_non_null(p = strstr(p, "\r\n\r\n{\"body\":\"hi\",\"query\":\"\"}HTTP/1.1 404 "));
	assert_non_null(p = strstr(p, "\r\nConnection: keep-alive\r\n"));
	assert_non_null(p = strstr(p, "}HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(p, "\r\nConnection: close\r\n"));
	/* One at a time on the same connection, HTTP/1.0 keep-alive too. */
	fd = dial(&w->sock);
	for (int i = 0; i < 3; i++) {
		assert_true(puts_(fd, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
		slurp(fd, r, sizeof(r), "\"world\"}");
		assert_int_equal(status(r), 200);
		assert_non_null(strstr(r, "\r\nConnection: keep-alive\r\n"));
	}
	close(fd);
}

static void continue_and_413(void **state)
{
	struct world *w = *state;
	char r[4096];
	uint64_t t0;
	int fd = dial(&w->sock);

	assert_true(puts_(fd, "PUT /echo" H11 "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n"));
	slurp(fd, r, sizeof(r), "\r\n\r\n");
	assert_string_equal(r, "HTTP/1.1 100 Continue\r\n\r\n");
	assert_true(puts_(fd, "abc"));
	slurp(fd, r, sizeof(r), "}");
	assert_int_equal(status(r), 200);
	/* 100 MiB announced: refused at once, without waiting for (or reading) a byte of it. */
	t0 = monotonic_ns();
	assert_true(puts_(fd, "PUT /echo" H11 "Expect: 100-continue\r\n"
			      "Content-Length: 104857600\r\n\r\n"));
	slurp(fd, r, sizeof(r), NULL);
	assert_int_equal(status(r), 413);
	assert_non_null(strstr(r, "\r\nConnection: close\r\n"));
	assert_true(monotonic_ns() - t0 < 1000000000ull);
	close(fd);
}

/* One byte a second is no better than silence: 408 once SHORT_IDLE_MS is up. */
static void trickle(void **state)
{
	struct world *w = *state;
	const char *req = "GET /hello" H11 "\r\n";
	uint64_t t0 = monotonic_ns(), ms;
	struct timeval tv = {.tv_sec = 1};
	char r[4096] = "";
	int fd = dial(&w->sock2);

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (size_t i = 0; req[i] && !r[0]; i++) {
		if (!put(fd, req + i, 1))
			break;
		slurp(fd, r, sizeof(r), "}"); /* a second's wait for an answer */
	}
	ms = (monotonic_ns() - t0) / 1000000;
	close(fd);
	print_message("trickle: %s after %llu ms\n", strtok(r, "\r"), (unsigned long long)ms);
	assert_int_equal(status(r), 408);
	assert_true(ms >= SHORT_IDLE_MS && ms < SHORT_IDLE_MS + 2000);
	/* Silent from the start: the same. */
	tv.tv_sec = 4;
	fd = dial(&w->sock2);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	slurp(fd, r, sizeof(r), NULL);
	assert_int_equal(status(r), 408);
	close(fd);
}

struct client {
	pthread_t t;
	const struct usock *u;
	int status;
};

static void *client_thread(void *arg)
{
	struct client *c = arg;
	char r[1024];
	int fd = dial(c->u);

	c->status = -1;
	if (fd >= 0 && puts_(fd, "GET /hello" H11 "Connection: close\r\n\r\n")) {
		slurp(fd, r, sizeof(r), NULL);
		c->status = status(r);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* More clients at once than there are slots: every one of them served. */
static void many_clients(void **state)
{
	struct world *w = *state;
	static struct client c[150];
	pthread_attr_t attr;
	int ok = 0;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 << 10);
	for (int i = 0; i < 150; i++) {
		c[i].u = &w->sock;
		assert_int_equal(pthread_create(&c[i].t, &attr, client_thread, &c[i]), 0);
	}
	for (int i = 0; i < 150; i++) {
		pthread_join(c[i].t, NULL);
		ok += c[i].status == 200;
	}
	pthread_attr_destroy(&attr);
	assert_int_equal(ok, 150);
	wait_fds(w->fds_running);
}

/* 4 slots: a fifth client takes the slot of the longest idle, or of the slowest. */
static void eviction(void **state)
{
	struct world *w = *state;
	char r[4096];
	int fd[5], last;

	for (int i = 0; i < 4; i++) { /* each answered once, then idle */
		fd[i] = dial(&w->sock2);
		assert_true(puts_(fd[i], "GET /hello" H11 "\r\n"));
		slurp(fd[i], r, sizeof(r), "}");
		assert_int_equal(status(r), 200);
		usleep(20000);
	}
	assert_int_equal(exchange(&w->sock2, "GET /hello" H11 "Connection: close\r\n\r\n", r,
				  sizeof(r)), 200);
	assert_int_equal(slurp(fd[0], r, sizeof(r), NULL), 0); /* closed without a word */
	for (int i = 0; i < 4; i++)
		close(fd[i]);
	wait_fds(w->fds_running);
	for (int i = 0; i < 4; i++) { /* each in the middle of a request */
		fd[i] = dial(&w->sock2);
		assert_true(puts_(fd[i], "GET /hel"));
		usleep(20000);
	}
	last = dial(&w->sock2);
	assert_true(puts_(last, "GET /hello" H11 "Connection: close\r\n\r\n"));
	slurp(last, r, sizeof(r), NULL); /* waits in the backlog until one gives way */
	assert_int_equal(status(r), 200);
	slurp(fd[0], r, sizeof(r), NULL);
	assert_int_equal(status(r), 503);
	for (int i = 0; i < 4; i++)
		close(fd[i]);
	close(last);
	wait_fds(w->fds_running);
}

/* Clients leaving mid-request and mid-answer, one not reading: each slot freed. */
static void leaving(void **state)
{
	struct world *w = *state;
	char r[256];
	int fd = dial(&w->sock);

	assert_true(puts_(fd, "PUT /echo" H11 "Content-Length: 100\r\n\r\nab"));
	close(fd);
	fd = dial(&w->sock);
	assert_true(puts_(fd, "GET /big" H11 "\r\n"));
	assert_true(read(fd, r, sizeof(r)) > 0);
	close(fd);
	wait_fds(w->fds_running);
	fd = dial(&w->sock2); /* asks for 4 MiB and reads none of it */
	assert_true(puts_(fd, "GET /big" H11 "\r\n"));
	wait_fds(w->fds_running + 1); /* its end of the socket, the server's is gone */
	close(fd);
	wait_fds(w->fds_running);
}

static void curl(void **state)
{
	struct world *w = *state;
	char cmd[1024], out[512] = "";
	FILE *f;

	if (system("curl --version >/dev/null 2>&1")) {
		print_message("curl is not installed: skipped\n");
		return;
	}
	/* Two requests on one connection (num_connects 1, then 0), and a 2000-byte PUT, for
	 * which curl sends Expect: 100-continue. */
	snprintf(cmd, sizeof(cmd), "head -c 2000 /dev/zero | tr '\\0' x > %s.body && curl -sS "
		 "--unix-socket %s -w ' %%{http_code} %%{num_connects}\\n' http://x/hello "
		 "http://x/hello --next --unix-socket %s -T %s.body http://x/echo | cut -c1-40; "
		 "rm -f %s.body", w->sock.path, w->sock.path, w->sock.path, w->sock.path,
		 w->sock.path);
	assert_non_null(f = popen(cmd, "r"));
	fread(out, 1, sizeof(out) - 1, f);
	assert_int_equal(pclose(f), 0);
	print_message("%s", out);
	assert_non_null(strstr(out, "{\"hello\": \"world\"} 200 1\n{\"hello\": \"world\"} 200 0\n"
				    "{\"body\":\"xxxx"));
	wait_fds(w->fds_running);
}

static void check_chunk(int fd, const char *want)
{
	char r[2048];

	slurp(fd, r, sizeof(r), want);
	assert_string_equal(r, want);
}

/* Event streams: every line to every streaming client; one that stops reading is dropped;
 * stopping the server ends each stream with its last chunk. Last: it stops the servers. */
static void streams(void **state)
{
	struct world *w = *state;
	char r[4096], line[1024], want[1100];
	int a = dial(&w->sock), b = dial(&w->sock), c = dial(&w->sock);

	assert_true(puts_(c, "GET /events HTTP/1.0\r\n\r\n")); /* no chunks: until close */
	slurp(c, r, sizeof(r), "start\"}\n");
	assert_int_equal(status(r), 200);
	assert_null(strstr(r, "Transfer-Encoding"));
	assert_null(strstr(r, "Content-Length"));
	assert_non_null(strstr(r, "\r\nConnection: close\r\n\r\n{\"stream\": \"start\"}\n"));
	assert_true(puts_(a, "GET /events" H11 "\r\n"));
	slurp(a, r, sizeof(r), "start\"}\n\r\n");
	assert_int_equal(status(r), 200);
	assert_non_null(strstr(r, "\r\nTransfer-Encoding: chunked\r\n"));
	assert_non_null(strstr(r, "\r\nContent-Type: application/x-ndjson\r\n"));
	assert_non_null(strstr(r, "\r\n\r\n14\r\n{\"stream\": \"start\"}\n\r\n"));
	assert_int_equal(api_stream_send(w->s, "{\"n\":1}"), 0);
	check_chunk(a, "8\r\n{\"n\":1}\n\r\n");
	check_chunk(c, "{\"n\":1}\n");
	assert_int_equal(api_stream_send(w->s, "{\"n\":2}\n"), 0);
	check_chunk(a, "8\r\n{\"n\":2}\n\r\n");
	check_chunk(c, "{\"n\":2}\n");
	/* b subscribes and never reads, c reads no more: a MiB of lines later both are gone,
	 * and a got every line. */
	assert_true(puts_(b, "GET /events" H11 "\r\n"));
	usleep(100000);
	memset(line, 'e', sizeof(line) - 1);
	line[sizeof(line) - 1] = 0;
	snprintf(want, sizeof(want), "400\r\n%s\n\r\n", line);
	for (int i = 0; i < 1024; i++) {
		assert_int_equal(api_stream_send(w->s, line), 0);
		check_chunk(a, want);
	}
	wait_fds(w->fds_running + 4); /* a's two ends, b's and c's own */
	api_server_stop(w->s);
	slurp(a, r, sizeof(r), NULL);
	assert_string_equal(r, "0\r\n\r\n");
	api_server_stop(w->s2);
	for (int i = 0; i < 2; i++) {
		struct usock *u = i ? &w->sock2 : &w->sock;

		snprintf(line, sizeof(line), "%s.lock", u->path);
		usock_close(u);
		unlink(line); /* left behind on purpose by usock, but this is a test */
	}
	close(a), close(b), close(c);
	assert_int_equal(fds(), w->fds_before);
}
int main(void)
{
	const struct CMUnitTest server[] = {
		cmocka_unit_test(confined),
		cmocka_unit_test(statuses),
		cmocka_unit_test(header_too_large),
		cmocka_unit_test(keep_alive),
		cmocka_unit_test(continue_and_413),
		cmocka_unit_test(trickle),
		cmocka_unit_test(many_clients),
		cmocka_unit_test(eviction),
		cmocka_unit_test(leaving),
		cmocka_unit_test(curl),
		cmocka_unit_test(streams),
	};

	return cmocka_run_group_tests(server, world_up, NULL);
}
