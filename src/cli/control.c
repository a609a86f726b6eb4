/*
 * The control socket of a running domain, and `capsule control`, its client. One command
 * per connection, one line each way:
 *   balloon MIB     set the balloon target (memory taken from the guest)
 *   balloon         the balloon's size and the guest's memory statistics
 *   pause, resume   stop every vCPU at an instruction boundary, and let them go on
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "capsule/cli.h"
#include "capsule/log.h"

struct control {
	int fd;
	char path[108];
	pthread_t thread;
	pthread_mutex_t *lock; /* the run's lock: the domain may be rebooting */
	struct run_devices *rd;
	struct vm **vm;        /* the domain running now, or NULL */
};

static void reply(struct control *c, const char *cmd, char *out, size_t len)
{
	char word[32] = "";
	unsigned long long mib;
	int n = sscanf(cmd, "%31s %llu", word, &mib);

	pthread_mutex_lock(c->lock);
	if (n < 1) {
		snprintf(out, len, "error: empty command");
	} else if (!strcmp(word, "pause") || !strcmp(word, "resume")) {
		int r = 0;

		if (!*c->vm)
			snprintf(out, len, "error: no domain is running");
		else if (word[0] == 'p' && (r = vm_pause(*c->vm)) < 0)
			snprintf(out, len, "error: the domain is already paused or ending");
		else if (word[0] == 'p')
			snprintf(out, len, "ok: paused %d vCPUs", r);
		else {
			vm_resume(*c->vm);
			snprintf(out, len, "ok: resumed");
		}
	} else if (strcmp(word, "balloon")) {
		snprintf(out, len, "error: unknown command '%s' (balloon [MIB], pause, resume)",
			 word);
	} else if (!c->rd->balloon_dev) {
		snprintf(out, len, "error: this domain has no balloon (capsule run --balloon MIB)");
	} else if (n == 2) {
		balloon_set_target(c->rd->balloon_dev, mib);
		snprintf(out, len, "ok: balloon target %llu MiB", mib);
	} else {
		balloon_describe(c->rd->balloon_dev, out, len);
	}
	pthread_mutex_unlock(c->lock);
}

static void *control_thread(void *arg)
{
	struct control *c = arg;

	for (;;) {
		char cmd[256], out[1024];
		ssize_t n;
		int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL; /* the socket was shut down */
		}
		/* A client that says nothing must not hold the socket for everyone else. */
		struct timeval tv = {.tv_sec = 2};

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		n = read(fd, cmd, sizeof(cmd) - 1);
		if (n > 0) {
			cmd[n] = 0;
			cmd[strcspn(cmd, "\r\n")] = 0;
			reply(c, cmd, out, sizeof(out));
			strcat(out, "\n");
			if (write(fd, out, strlen(out)) < 0)
				log_debug("control: client went away");
		}
		close(fd);
	}
}

struct control *control_open(const char *path, pthread_mutex_t *lock, struct run_devices *rd,
			     struct vm **vm)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct control *c = calloc(1, sizeof(*c));

	if (!c || strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "capsule run: --control path too long\n");
		free(c);
		return NULL;
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->lock = lock;
	c->rd = rd;
	c->vm = vm;
	unlink(path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(c->fd, 4) < 0 || pthread_create(&c->thread, NULL, control_thread, c)) {
		fprintf(stderr, "capsule run: cannot listen on %s: %s\n", path, strerror(errno));
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return NULL;
	}
	return c;
}

void control_close(struct control *c)
{
	if (!c)
		return;
	shutdown(c->fd, SHUT_RDWR);
	pthread_join(c->thread, NULL);
	close(c->fd);
	unlink(c->path);
	free(c);
}

int cmd_control(int argc, char **argv)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char cmd[256] = "", out[1024];
	size_t len = 0;
	ssize_t n;
	int fd;

	if (argc < 3 || !strcmp(argv[1], "--help")) {
		fprintf(argc < 3 ? stderr : stdout,
			"usage: capsule control SOCKET COMMAND [ARGS]\n\n"
			"Send a command to a domain started with 'capsule run --control SOCKET'.\n"
			"  balloon MIB   set the balloon target: take MIB of memory from the guest\n"
			"  balloon       print the balloon's size and the guest's memory statistics\n"
			"  pause         stop every vCPU (the domain keeps its state)\n"
			"  resume        let a paused domain run again\n");
		return argc < 3 ? CAPSULE_EXIT_VMM_ERROR : 0;
	}
	for (int i = 2; i < argc; i++)
		len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, "%s%s", i > 2 ? " " : "",
					argv[i]);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "capsule control: cannot connect to %s: %s (is the domain running "
			"with --control?)\n", argv[1], strerror(errno));
		return CAPSULE_EXIT_VMM_ERROR;
	}
	if (write(fd, cmd, strlen(cmd)) < 0 || (n = read(fd, out, sizeof(out) - 1)) <= 0) {
		fprintf(stderr, "capsule control: no answer from %s\n", argv[1]);
		close(fd);
		return CAPSULE_EXIT_VMM_ERROR;
	}
	close(fd);
	out[n] = 0;
	fputs(out, stdout);
	return strncmp(out, "error", 5) ? 0 : CAPSULE_EXIT_VMM_ERROR;
}
