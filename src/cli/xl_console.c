/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capsule console NAME: the domain's console history, then its output as it comes (a
 * stream of {"b64": ...} lines from capsuled), and what is typed sent back as input. On a
 * terminal the input is raw, and Ctrl-] detaches (the domain runs on), as with `xl console`.
 * Several consoles may watch one domain; one at a time types.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "xl.h"

#define ESCAPE 0x1d /* Ctrl-] */

static struct termios saved;
static bool raw;

static void restore(void)
{
	if (raw)
		tcsetattr(0, TCSANOW, &saved);
	raw = false;
}

static void make_raw(void)
{
	struct termios t;

	if (!isatty(0) || tcgetattr(0, &saved) < 0)
		return;
	t = saved;
	cfmakeraw(&t);
	t.c_oflag |= OPOST | ONLCR; /* output stays cooked: "\n" starts a line */
	if (tcsetattr(0, TCSANOW, &t) == 0)
		raw = true;
}

/* One stream line: its bytes to stdout; true if the domain ended. */
static bool show(char *line, const char *name)
{
	json_t *j = json_loads(line, 0, NULL);
	const char *b64 = json_string_value(json_object_get(j, "b64"));
	const char *end = json_string_value(json_object_get(j, "end"));
	bool ended = false;

	if (b64) {
		size_t n = strlen(b64);
		char *buf = malloc(n / 4 * 3 + 4);
		long got = buf ? base64_decode(b64, n, buf) : -1;

		if (got > 0 && write(1, buf, (size_t)got) < 0)
			ended = true;
		free(buf);
	}
	if (end) {
		fprintf(stderr, "%s[capsule: domain %s is %s]\n", raw ? "\r\n" : "\n", name, end);
		ended = true;
	}
	json_decref(j);
	return ended;
}

static void send_input(const struct xl *x, const char *path, const char *buf, size_t n)
{
	struct httpc_reply r;
	char err[256];
	int st = httpc_request(x->sock, "POST", path, "application/octet-stream", buf, n, 5000,
			       &r, err, sizeof(err));

	if (st >= 300)
		fprintf(stderr, "%scapsule console: %s%s", raw ? "\r\n" : "",
			httpc_error_text(r.body, err, sizeof(err)), raw ? "\r\n" : "\n");
	httpc_reply_free(&r);
}

int cmd_console(int argc, char **argv)
{
	char path[256], in_path[256], err[512], *buf;
	size_t cap = 1u << 20, len = 0;
	bool stdin_open = true, done = false;
	struct xl x;
	int fd, rc = xl_init(&x, argc, argv, "[-S SOCKET] NAME\n\nAttach to the domain's "
			     "console: its history, then live output; input goes to the guest.\n"
			     "Ctrl-] detaches.");

	if (rc)
		return rc < 0 ? 2 : 0;
	if (x.argc != 2) {
		fprintf(stderr, "usage: capsule console NAME\n");
		return 2;
	}
	if (xl_dom_path(&x, "/api/v1/domain.console", x.argv[1], path, sizeof(path)))
		return 1;
	snprintf(in_path, sizeof(in_path), "%s", path);
	strncat(path, "&follow=1", sizeof(path) - strlen(path) - 1);
	if ((fd = httpc_stream(x.sock, path, XL_TIMEOUT_MS, err, sizeof(err))) < 0) {
		if (fd == -EPROTO)
			fprintf(stderr, "capsule console: %s\n", err);
		else
			xl_conn_error(&x, fd, err);
		return 1;
	}
	if (!(buf = malloc(cap)))
		return 1;
	signal(SIGPIPE, SIG_IGN);
	make_raw();
	while (!done) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
		int n = poll(p, stdin_open ? 2 : 1, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (stdin_open && (p[1].revents & (POLLIN | POLLHUP))) {
			char in[4096];
			ssize_t got = read(0, in, sizeof(in));
			char *esc = got > 0 && raw ? memchr(in, ESCAPE, (size_t)got) : NULL;

			if (got <= 0) {
				stdin_open = false;
			} else {
				if (esc) {
					got = esc - in;
					done = true;
				}
				if (got > 0)
					send_input(&x, in_path, in, (size_t)got);
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP)) {
			ssize_t got = read(fd, buf + len, cap - 1 - len);
			char *nl;

			if (got <= 0) {
				fprintf(stderr, "%s[capsule: capsuled closed the console]\n",
					raw ? "\r\n" : "\n");
				break;
			}
			len += (size_t)got;
			buf[len] = 0;
			while (!done && (nl = memchr(buf, '\n', len))) {
				*nl = 0;
				done = show(buf, x.argv[1]);
				len -= (size_t)(nl + 1 - buf);
				memmove(buf, nl + 1, len);
			}
			if (len == cap - 1)
				len = 0; /* a line too long for us: not from capsuled */
		}
	}
	restore();
	if (done) {
		strncat(in_path, "&release=1", sizeof(in_path) - strlen(in_path) - 1);
		send_input(&x, in_path, NULL, 0);
	}
	close(fd);
	free(buf);
	return 0;
}
