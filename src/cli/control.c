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
#include <unistd.h>

#include "capsule/cli.h"
#include "capsule/httpc.h"
#include "capsule/migrate.h"
#include "capsule/snapshot.h"
#include "capsule/vm.h"

/* One request: the status, and the body in buf (NUL-terminated, cut to fit). */
static int http(const char *sock, const char *method, const char *path, const char *body,
		char *buf, size_t cap)
{
	struct httpc_reply r;
	int status = httpc_request(sock, method, path, NULL, body, body ? strlen(body) : 0,
				   30000, &r, buf, cap);

	if (status < 0) {
		if (status == -ENOENT || status == -ECONNREFUSED)
			snprintf(buf + strlen(buf), cap - strlen(buf),
				 " (is the domain running with --api-sock or --control?)");
		return -1;
	}
	snprintf(buf, cap, "%s", r.body ? r.body : "");
	httpc_reply_free(&r);
	return status;
}

static bool whole_number(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 12;
}

/* snapshot/save DIR: the client makes the files, the VMM writes them (docs/snapshot.md). */
static int snapshot(const char *sock, const char *dir, bool save, bool diff)
{
	struct httpc_reply r;
	char err[512], msg[512], body[48];
	int fds[2], status;

	if (snapdir_begin(dir, fds, err, sizeof(err))) {
		fprintf(stderr, "capsule control: %s\n", err);
		return CAPSULE_EXIT_VMM_ERROR;
	}
	snprintf(body, sizeof(body), "{\"save\": %s, \"diff\": %s}", save ? "true" : "false",
		 diff ? "true" : "false");
	status = httpc_request_fds(sock, "PUT", "/api/v1/vm.snapshot", NULL, body, strlen(body),
				   fds, 2, 600000, &r, err, sizeof(err));
	if (status < 0 || status >= 300) {
		snapdir_end(dir, fds, false);
		fprintf(stderr, "capsule control: %s\n",
			status < 0 ? err : httpc_error_text(r.body, msg, sizeof(msg)));
		httpc_reply_free(&r);
		return CAPSULE_EXIT_VMM_ERROR;
	}
	if (snapdir_end(dir, fds, true)) {
		fprintf(stderr, "capsule control: cannot put the snapshot in place in %s: %s\n",
			dir, strerror(errno));
		httpc_reply_free(&r);
		return CAPSULE_EXIT_VMM_ERROR;
	}
	printf("ok: %s in %s %s\n", save ? "saved" : "snapshot", dir, r.body ? r.body : "");
	httpc_reply_free(&r);
	return 0;
}

/*
 * migrate HOST:PORT [DOWNTIME_MS]: this client connects to the destination (`capsule run
 * --incoming`) and hands the connection to the VMM, which makes no sockets itself
 * (docs/migration.md). The timeouts bound every send and the wait for the destination's
 * answers: a destination or network that vanishes fails the migration, the domain runs on.
 */
static int migrate(const char *sock, const char *dest, const char *downtime)
{
	struct timeval tv = {.tv_sec = 10};
	struct sockaddr_storage sa;
	struct httpc_reply r;
	char err[512], msg[512], body[400];
	socklen_t sl;
	int fd, status;

	if (migrate_parse_addr(dest, &sa, &sl) || (downtime && !whole_number(downtime))) {
		fprintf(stderr, "capsule control: migrate HOST:PORT [DOWNTIME_MS], numeric "
			"([ADDR]:PORT for IPv6)\n");
		return CAPSULE_EXIT_VMM_ERROR;
	}
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sl) < 0) {
		fprintf(stderr, "capsule control: cannot connect to %s: %s\n", dest,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return CAPSULE_EXIT_VMM_ERROR;
	}
	snprintf(body, sizeof(body), "{\"dest\": \"%s\", \"downtime_ms\": %s}", dest,
		 downtime ? downtime : "50");
	status = httpc_request_fds(sock, "PUT", "/api/v1/vm.migrate", NULL, body, strlen(body),
				   &fd, 1, 600000, &r, err, sizeof(err));
	close(fd);
	if (status < 0 || status >= 300) {
		fprintf(stderr, "capsule control: %s\n",
			status < 0 ? err : httpc_error_text(r.body, msg, sizeof(msg)));
		httpc_reply_free(&r);
		return CAPSULE_EXIT_VMM_ERROR;
	}
	printf("ok: migrated to %s %s\n", dest, r.body ? r.body : "");
	httpc_reply_free(&r);
	return 0;
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
		"  counters          exits, device requests and hypercalls (JSON)\n"
		"  snapshot DIR      snapshot the running domain into DIR (docs/snapshot.md); it\n"
		"                    runs on ('capsule run --restore DIR' runs the copy)\n"
		"  save DIR          the same, then the domain ends (xl save)\n"
		"  snapshot DIR --diff, save DIR --diff\n"
		"                    only the pages written since the previous snapshot of this\n"
		"                    boot ('capsule snapshot-merge' makes a full one of a chain)\n"
		"  migrate HOST:PORT [DOWNTIME_MS]\n"
		"                    live-migrate the domain to 'capsule run --incoming HOST:PORT'\n"
		"                    (pre-copy, plain TCP; docs/migration.md); it ends here\n");
}

int cmd_control(int argc, char **argv)
{
	static char buf[64u << 10];
	char body[64] = "", msg[512];
	const char *cmd, *arg, *method = "PUT", *path, *ok;
	int status;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if ((argc == 4 || argc == 5) && !strcmp(argv[2], "migrate"))
		return migrate(argv[1], argv[3], argc == 5 ? argv[4] : NULL);
	if (argc == 5 && !strcmp(argv[4], "--diff") &&
	    (!strcmp(argv[2], "snapshot") || !strcmp(argv[2], "save")))
		return snapshot(argv[1], argv[3], argv[2][1] == 'a', true);
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: capsule control SOCKET COMMAND [ARG]; see 'capsule control "
			"--help'\n");
		return CAPSULE_EXIT_VMM_ERROR;
	}
	cmd = argv[2];
	arg = argc == 4 ? argv[3] : NULL;
	if ((!strcmp(cmd, "snapshot") || !strcmp(cmd, "save")) && arg)
		return snapshot(argv[1], arg, cmd[1] == 'a', false);
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
		printf("error: %s\n", httpc_error_text(buf, msg, sizeof(msg)));
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
