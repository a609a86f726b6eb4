/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `capsule control SOCKET COMMAND`: a small client of a domain's REST API (docs/api.md),
 * for scripts and people without curl. `capsule run --control SOCKET` is the same as
 * `--api-sock SOCKET`.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "capsule/cli.h"
#include "capsule/vm.h"

#define REPLY_MAX (64u << 10)

/* One request, Connection: close; the status, and the body in buf (NUL-terminated). */
static int http(const char *sock, const char *method, const char *path, const char *body,
		char *buf, size_t cap)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 30};
	char req[1024];
	size_t got = 0;
	int fd, n, status = -1;
	char *start;

	if (strlen(sock) >= sizeof(addr.sun_path)) {
		snprintf(buf, cap, "socket path too long");
		return -1;
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		snprintf(buf, cap, "cannot connect to %s: %s (is the domain running with "
			 "--api-sock or --control?)", sock, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = snprintf(req, sizeof(req),
		     "%s %s HTTP/1.1\r\nHost: capsule\r\nConnection: close\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		     method, path, body ? strlen(body) : 0, body ? body : "");
	if (n >= (int)sizeof(req) || write(fd, req, (size_t)n) != n) {
		snprintf(buf, cap, "cannot send the request to %s", sock);
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t r = read(fd, buf + got, cap - 1 - got);

		if (r <= 0 || (got += (size_t)r) == cap - 1)
			break;
	}
	close(fd);
	buf[got] = 0;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
		snprintf(buf, cap, "no answer from %s", sock);
		return -1;
	}
	start = strstr(buf, "\r\n\r\n");
	memmove(buf, start ? start + 4 : buf + got, strlen(start ? start + 4 : buf + got) + 1);
	return status;
}

/* The "error" of a JSON error body, or the body itself. */
static const char *error_text(const char *body, char *out, size_t len)
{
	json_t *j = json_loads(body, 0, NULL);
	json_t *e = j ? json_object_get(j, "error") : NULL;

	const char *text = e && json_is_string(e) ? json_string_value(e) : body;
	size_t n = strnlen(text, len - 1);

	memcpy(out, text, n); /* cut to fit: a message, not data */
	out[n] = 0;
	json_decref(j);
	return out;
}

static bool whole_number(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 12;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: capsule control SOCKET COMMAND [ARGS]\n\n"
		"Drive a domain started with 'capsule run --api-sock SOCKET' (or --control).\n"
		"  info              the domain's configuration and state (JSON)\n"
		"  pause, resume     stop every vCPU (the domain keeps its state), and go on\n"
		"  shutdown [GRACE]  ask the guest to power off; destroy it after GRACE s (30)\n"
		"  reboot            ask the guest to reboot\n"
		"  destroy           end the domain and its VMM at once\n"
		"  balloon [MIB]     print the balloon's statistics, or set its target\n"
		"  counters          exits, device requests and hypercalls (JSON)\n");
}

int cmd_control(int argc, char **argv)
{
	static char buf[REPLY_MAX];
	char body[64] = "", msg[512];
	const char *cmd, *arg, *method = "PUT", *path, *ok;
	int status;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: capsule control SOCKET COMMAND [ARG]; see 'capsule control "
			"--help'\n");
		return CAPSULE_EXIT_VMM_ERROR;
	}
	cmd = argv[2];
	arg = argc == 4 ? argv[3] : NULL;
	if (!strcmp(cmd, "pause") && !arg) {
		path = "/api/v1/vm.pause", ok = "ok: paused";
	} else if (!strcmp(cmd, "resume") && !arg) {
		path = "/api/v1/vm.resume", ok = "ok: resumed";
	} else if (!strcmp(cmd, "reboot") && !arg) {
		path = "/api/v1/vm.reboot", ok = "ok: asked the guest to reboot";
	} else if (!strcmp(cmd, "destroy") && !arg) {
		path = "/api/v1/vmm.shutdown", ok = "ok: destroyed";
	} else if (!strcmp(cmd, "shutdown") && (!arg || whole_number(arg))) {
		path = "/api/v1/vm.shutdown", ok = "ok: asked the guest to power off";
		snprintf(body, sizeof(body), "{\"grace_s\": %s}", arg ? arg : "30");
	} else if (!strcmp(cmd, "balloon") && arg && whole_number(arg)) {
		path = "/api/v1/vm.balloon", ok = "ok: balloon target set";
		snprintf(body, sizeof(body), "{\"target_mib\": %s}", arg);
	} else if ((!strcmp(cmd, "balloon") || !strcmp(cmd, "info") || !strcmp(cmd, "counters")) &&
		   !arg) {
		method = "GET", ok = NULL;
		path = cmd[0] == 'b' ? "/api/v1/vm.balloon"
		       : cmd[0] == 'i' ? "/api/v1/vm.info" : "/api/v1/vm.counters";
	} else if (!strcmp(cmd, "balloon") || !strcmp(cmd, "shutdown")) {
		fprintf(stderr, "capsule control: %s takes a whole number; see 'capsule control "
			"--help'\n", cmd);
		return CAPSULE_EXIT_VMM_ERROR;
	} else {
		fprintf(stderr, "capsule control: unknown command '%s' or wrong arguments (info, "
			"pause, resume, shutdown [GRACE], reboot, destroy, balloon [MIB], counters)\n",
			cmd);
		return CAPSULE_EXIT_VMM_ERROR;
	}
	status = http(argv[1], method, path, body[0] ? body : NULL, buf, sizeof(buf));
	if (status < 0) {
		fprintf(stderr, "capsule control: %s\n", buf);
		return CAPSULE_EXIT_VMM_ERROR;
	}
	if (status >= 300) {
		printf("error: %s\n", error_text(buf, msg, sizeof(msg)));
		return CAPSULE_EXIT_VMM_ERROR;
	}
	if (!ok && !strcmp(cmd, "balloon")) {
		json_t *j = json_loads(buf, 0, NULL);

		printf("%s\n", j && json_is_string(json_object_get(j, "stats"))
				       ? json_string_value(json_object_get(j, "stats"))
				       : buf);
		json_decref(j);
	} else {
		printf("%s\n", ok ? ok : buf);
	}
	return 0;
}
