/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control socket of a running domain, and `capsule control`, its client. One command
 * per connection, a line each way (a command ends at a newline or when the client shuts
 * its side down):
 *   balloon MIB     set the balloon target (memory taken from the guest)
 *   balloon         the balloon's size and the guest's memory statistics
 *   pause, resume   stop every vCPU at an instruction boundary, and let them go on
 * One thread serves every client from an event loop: a client that says nothing, or says
 * it slowly, holds only its own slot, and is dropped after CONTROL_IDLE_MS; when every slot
 * is taken the oldest client gives way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "capsule/cli.h"
#include "capsule/devices.h"
#include "capsule/domain.h"
#include "capsule/log.h"
#include "capsule/loop.h"
#include "capsule/sandbox.h"
#include "capsule/usock.h"

#define CONTROL_CLIENTS 32
#define CONTROL_IDLE_MS 2000u
#define CONTROL_LINE 256

struct client {
	struct loop_source src; /* fd -1: free */
	uint64_t since;         /* when it connected (ns) */
	size_t len;
	char buf[CONTROL_LINE];
};

struct control {
	struct usock sock;
	struct loop loop;
	struct loop_source listen_src;
	struct client clients[CONTROL_CLIENTS];
	pthread_t thread;
	bool thread_started;
	struct domain *dom;
};

/* A whole decimal number and nothing else (no sign, no spaces): 0, or -1. */
static int parse_number(const char *text, unsigned long long *v)
{
	char *end;

	if (!*text || strspn(text, "0123456789") != strlen(text) || strlen(text) > 12)
		return -1;
	*v = strtoull(text, &end, 10);
	return 0;
}

static void balloon_cmd(struct control *c, int nargs, const char *arg, char *out, size_t len)
{
	struct domain *d = c->dom;
	unsigned long long mib, max;

	pthread_mutex_lock(&d->lock);
	if (!d->balloon) {
		snprintf(out, len, "error: this domain has no balloon (capsule run --balloon MIB)");
	} else if (nargs == 0) {
		balloon_describe(d->balloon, out, len);
	} else if (max = d->cfg.mem_mib, nargs > 1 || parse_number(arg, &mib) || mib > max) {
		snprintf(out, len, "error: usage: balloon [MIB], MIB a whole number from 0 to %llu "
			 "(the domain's memory)", max);
	} else {
		balloon_set_target(d->balloon, mib);
		snprintf(out, len, "ok: balloon target %llu MiB", mib);
	}
	pthread_mutex_unlock(&d->lock);
}

/* shutdown [GRACE_S] (default 30) and reboot: ask the guest, as xl shutdown does. */
static void request(struct control *c, const char *word, int nargs, const char *arg, char *out,
		    size_t len)
{
	bool reboot = word[0] == 'r';
	unsigned long long grace = DOMAIN_SHUTDOWN_GRACE_S;
	int r;

	if (nargs > (reboot ? 0 : 1) || (nargs == 1 && (parse_number(arg, &grace) || grace > 3600))) {
		snprintf(out, len, "error: usage: shutdown [GRACE_S] (0 to 3600), reboot");
		return;
	}
	r = domain_shutdown(c->dom, reboot, (unsigned)grace);
	if (r == -ENOTSUP)
		snprintf(out, len, "error: an HVM domain cannot be asked yet (no ACPI power button)");
	else if (r < 0)
		snprintf(out, len, "error: no domain is running");
	else if (reboot)
		snprintf(out, len, "ok: asked the guest to reboot");
	else
		snprintf(out, len, "ok: asked the guest to power off; destroyed in %llu s if not",
			 grace);
}

/* The answer to one command line, in out. */
static void reply(struct control *c, const char *cmd, char *out, size_t len)
{
	char word[32] = "", arg[32] = "", extra[2];
	int n = sscanf(cmd, "%31s %31s %1s", word, arg, extra);
	int r = 0;

	if (n < 1)
		snprintf(out, len, "error: empty command");
	else if (!strcmp(word, "balloon"))
		balloon_cmd(c, n - 1, arg, out, len);
	else if (!strcmp(word, "shutdown") || !strcmp(word, "reboot"))
		request(c, word, n - 1, arg, out, len);
	else if (strcmp(word, "pause") && strcmp(word, "resume"))
		snprintf(out, len, "error: unknown command '%s' (balloon [MIB], pause, resume, "
			 "shutdown [GRACE_S], reboot)", word);
	else if (n > 1)
		snprintf(out, len, "error: %s takes no arguments", word);
	else if (word[0] == 'r' && domain_resume(c->dom) < 0)
		snprintf(out, len, "error: the domain is not paused");
	else if (word[0] == 'r')
		snprintf(out, len, "ok: resumed");
	else if ((r = domain_pause(c->dom)) == -ETIMEDOUT)
		snprintf(out, len, "error: the vCPUs did not stop in time; still running");
	else if (r == -EBUSY)
		snprintf(out, len, "error: the domain is already paused");
	else if (r < 0)
		snprintf(out, len, "error: no domain is running");
	else
		snprintf(out, len, "ok: paused %d vCPUs", r);
}

static void drop(struct control *c, struct client *cl)
{
	(void)c;
	if (cl->src.fd < 0)
		return;
	loop_del(&c->loop, &cl->src);
	close(cl->src.fd);
	cl->src.fd = -1;
}

static void answer(struct control *c, struct client *cl, const char *msg)
{
	char out[1024];
	size_t n;

	if (msg) {
		snprintf(out, sizeof(out), "%s\n", msg);
	} else {
		cl->buf[cl->len] = 0;
		cl->buf[strcspn(cl->buf, "\r\n")] = 0;
		reply(c, cl->buf, out, sizeof(out) - 1);
		strcat(out, "\n");
	}
	n = strlen(out);
	/* Small, into an empty socket buffer: one write; a client that left loses it. */
	if (write(cl->src.fd, out, n) != (ssize_t)n)
		log_debug("control: could not answer a client");
	drop(c, cl);
}

static void client_ready(struct loop *l, struct loop_source *s, uint32_t events)
{
	struct client *cl = (struct client *)s; /* src is its first member */
	struct control *c = s->opaque;
	ssize_t n;

	(void)l, (void)events;
	if (s->fd < 0)
		return; /* dropped earlier in this batch */
	n = read(s->fd, cl->buf + cl->len, sizeof(cl->buf) - 1 - cl->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		drop(c, cl);
		return;
	}
	cl->len += (size_t)n;
	if (memchr(cl->buf, '\n', cl->len) || (n == 0 && cl->len))
		answer(c, cl, NULL);
	else if (n == 0)
		drop(c, cl);
	else if (cl->len == sizeof(cl->buf) - 1)
		answer(c, cl, "error: command too long");
}

/* A free slot, or the oldest client's (it gives way). */
static struct client *slot(struct control *c)
{
	struct client *oldest = &c->clients[0];

	for (unsigned i = 0; i < CONTROL_CLIENTS; i++) {
		if (c->clients[i].src.fd < 0)
			return &c->clients[i];
		if (c->clients[i].since < oldest->since)
			oldest = &c->clients[i];
	}
	answer(c, oldest, "error: too many clients; dropped the oldest (you)");
	return oldest;
}

static void accept_ready(struct loop *l, struct loop_source *s, uint32_t events)
{
	struct control *c = s->opaque;

	(void)events;
	for (;;) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct client *cl;

		if (fd < 0)
			return; /* EAGAIN: all taken; anything else: try at the next event */
		cl = slot(c);
		*cl = (struct client){.src = {fd, client_ready, c}, .since = monotonic_ns()};
		if (loop_add(l, &cl->src, EPOLLIN | EPOLLRDHUP)) {
			close(fd);
			cl->src.fd = -1;
		}
	}
}

static void sweep(struct loop *l, void *opaque)
{
	struct control *c = opaque;
	uint64_t now = monotonic_ns();

	for (unsigned i = 0; i < CONTROL_CLIENTS; i++) {
		struct client *cl = &c->clients[i];

		if (cl->src.fd < 0 || now - cl->since <= CONTROL_IDLE_MS * 1000000ull)
			continue;
		/* Its command may be waiting, unread, behind a long command (a pause). */
		client_ready(l, &cl->src, EPOLLIN);
		if (cl->src.fd >= 0)
			answer(c, cl, "error: no command within 2 s; closing");
	}
}

static void *control_thread(void *arg)
{
	struct control *c = arg;

	if (sandbox_enter("control", SANDBOX_SERVICE) == 0)
		loop_run(&c->loop);
	return NULL;
}

struct control *control_open(const char *path, struct domain *dom)
{
	struct control *c = calloc(1, sizeof(*c));
	char err[256];

	if (!c)
		return NULL;
	c->dom = dom;
	for (unsigned i = 0; i < CONTROL_CLIENTS; i++)
		c->clients[i].src.fd = -1;
	c->loop.epoll_fd = c->loop.stop_fd = -1;
	if (usock_listen(&c->sock, path, 0600, err, sizeof(err))) {
		fprintf(stderr, "capsule run: --control: %s\n", err);
		goto fail;
	}
	c->listen_src = (struct loop_source){c->sock.fd, accept_ready, c};
	if (loop_init(&c->loop) || loop_add(&c->loop, &c->listen_src, EPOLLIN))
		goto fail_serve;
	loop_set_tick(&c->loop, CONTROL_IDLE_MS / 4, sweep, c);
	if (pthread_create(&c->thread, NULL, control_thread, c))
		goto fail_serve;
	c->thread_started = true;
	return c;
fail_serve:
	fprintf(stderr, "capsule run: --control: cannot serve %s\n", path);
fail:
	loop_destroy(&c->loop);
	usock_close(&c->sock);
	free(c);
	return NULL;
}

void control_close(struct control *c)
{
	if (!c)
		return;
	loop_stop(&c->loop);
	if (c->thread_started)
		pthread_join(c->thread, NULL);
	for (unsigned i = 0; i < CONTROL_CLIENTS; i++)
		if (c->clients[i].src.fd >= 0)
			close(c->clients[i].src.fd);
	loop_destroy(&c->loop);
	usock_close(&c->sock);
	free(c);
}

int cmd_control(int argc, char **argv)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 30};
	char cmd[CONTROL_LINE] = "", out[1024];
	size_t len = 0;
	ssize_t n;
	int fd;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: capsule control SOCKET COMMAND [ARGS]\n\n"
		       "Send a command to a domain started with 'capsule run --control SOCKET'.\n"
		       "  balloon MIB   set the balloon target: take MIB of memory from the guest\n"
		       "  balloon       print the balloon's size and the guest's memory statistics\n"
		       "  pause         stop every vCPU (the domain keeps its state)\n"
		       "  resume        let a paused domain run again\n");
		return 0;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: capsule control SOCKET COMMAND [ARGS]; see 'capsule "
			"control --help'\n");
		return CAPSULE_EXIT_VMM_ERROR;
	}
	for (int i = 2; i < argc; i++)
		len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, "%s%s", i > 2 ? " " : "",
					argv[i]);
	if (len + 1 >= sizeof(cmd) || strlen(argv[1]) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "capsule control: command or socket path too long\n");
		return CAPSULE_EXIT_VMM_ERROR;
	}
	cmd[len++] = '\n';
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "capsule control: cannot connect to %s: %s (is the domain running "
			"with --control?)\n", argv[1], strerror(errno));
		return CAPSULE_EXIT_VMM_ERROR;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, cmd, len) != (ssize_t)len || (n = read(fd, out, sizeof(out) - 1)) <= 0) {
		fprintf(stderr, "capsule control: no answer from %s\n", argv[1]);
		close(fd);
		return CAPSULE_EXIT_VMM_ERROR;
	}
	close(fd);
	out[n] = 0;
	fputs(out, stdout);
	return strncmp(out, "error", 5) ? 0 : CAPSULE_EXIT_VMM_ERROR;
}
