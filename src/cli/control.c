/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `capsule control SOCKET COMMAND`: a small client of a domain's REST API (docs/api.md),
 * for scripts and people without curl. `capsule run --control SOCKET` is the same as
 * `--api-sock SOCKET`.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "capsule/cli.h"
#include "capsule/httpc.h"
#include "capsule/migrate.h"
#include "capsule/relay.h"
#include "capsule/tls.h"
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

/* working-set DIR: DIR/workingset.part made here, written by the VMM, renamed into place. */
static int working_set(const char *sock, const char *dir)
{
	struct httpc_reply r;
	char err[512], msg[4400], part[4200], path[4200];
	int fd, status;

	snprintf(part, sizeof(part), "%s/workingset.part", dir);
	snprintf(path, sizeof(path), "%s/workingset", dir);
	fd = open(part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		fprintf(stderr, "capsule control: cannot create %s: %s\n", part, strerror(errno));
		return CAPSULE_EXIT_VMM_ERROR;
	}
	status = httpc_request_fds(sock, "PUT", "/api/v1/vm.working-set", NULL, "", 0, &fd, 1,
				   60000, &r, err, sizeof(err));
	close(fd);
	if (status < 0 || status >= 300 || rename(part, path) < 0) {
		if (status >= 0 && status < 300)
			snprintf(msg, sizeof(msg), "cannot rename %s: %s", part, strerror(errno));
		unlink(part);
		fprintf(stderr, "capsule control: %s\n", status < 0 ? err
			: status >= 300 ? httpc_error_text(r.body, msg, sizeof(msg)) : msg);
		httpc_reply_free(&r);
		return CAPSULE_EXIT_VMM_ERROR;
	}
	printf("ok: working set in %s %s\n", path, r.body ? r.body : "");
	httpc_reply_free(&r);
	return 0;
}

/*
 * migrate HOST:PORT [DOWNTIME_MS] (--tls DIR | --insecure) [--auto-converge]
 * [--max-rounds N]: this client connects to the
 * destination (`capsule run --incoming`) and hands the connection (plain) or its end of a
 * relay (TLS) to the VMM (docs/migration.md). The timeouts bound every send and the wait
 * for the destination's answers: a destination or network that vanishes fails the
 * migration, and the domain runs on.
 */
static int migrate(const char *sock, int argc, char **argv)
{
	struct timeval tv = {.tv_sec = 10};
	struct sockaddr_storage sa;
	struct relay rl = {.vmm = -1};
	int one = 1;
	struct httpc_reply r;
	const char *dest = argv[0], *downtime = NULL, *tls_dir = NULL, *max_rounds = "30";
	char err[512], msg[512], body[400];
	bool insecure = false, relaying = false, converge = false, postcopy = false;
	int fd, pair[2] = {-1, -1}, status, pass;
	socklen_t sl;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--insecure"))
			insecure = true;
		else if (!strcmp(argv[i], "--tls") && i + 1 < argc)
			tls_dir = argv[++i];
		else if (!strcmp(argv[i], "--auto-converge"))
			converge = true;
		else if (!strcmp(argv[i], "--postcopy"))
			postcopy = true;
		else if (!strcmp(argv[i], "--max-rounds") && i + 1 < argc && whole_number(argv[i + 1]))
			max_rounds = argv[++i];
		else if (!downtime && whole_number(argv[i]))
			downtime = argv[i];
		else
			dest = NULL;
	}
	if (!dest || migrate_parse_addr(dest, &sa, &sl) || !tls_dir == !insecure) {
		fprintf(stderr, "capsule control: migrate HOST:PORT [DOWNTIME_MS] (--tls DIR | "
			"--insecure) [--auto-converge] [--max-rounds N] [--postcopy]: a numeric "
			"address ([ADDR]:PORT for IPv6), and mutually "
			"authenticated TLS with DIR/ca.pem, cert.pem, key.pem, or plain TCP\n");
		return CAPSULE_EXIT_VMM_ERROR;
	}
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    /* the handshake's bytes and the state's last records go at once, not 40 ms
	     * later behind Nagle and a delayed ACK: that is downtime */
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sl) < 0) {
		fprintf(stderr, "capsule control: cannot connect to %s: %s\n", dest,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return CAPSULE_EXIT_VMM_ERROR;
	}
	pass = fd;
	if (tls_dir) {
		rl.net = fd;
		if (tls_connect(fd, tls_dir, false, &rl.tls, err, sizeof(err))) {
			fprintf(stderr, "capsule control: %s: %s\n", dest, err);
			close(fd);
			return CAPSULE_EXIT_VMM_ERROR;
		}
		/* The relay's end is in place before the thread starts: a thread that read
		 * rl.vmm first saw -1, polled the network alone (poll ignores a negative fd),
		 * never read the VMM's stream, and after its 15 s gave up, shutting the VMM's
		 * end: on a loaded host the thread often runs before this one goes on. */
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0 ||
		    (rl.vmm = pair[0], errno = -relay_start(&rl))) {
			fprintf(stderr, "capsule control: cannot relay: %s\n", strerror(errno));
			if (pair[0] >= 0) {
				close(pair[0]);
				close(pair[1]);
			}
			tls_close(rl.tls);
			close(fd);
			return CAPSULE_EXIT_VMM_ERROR;
		}
		relaying = true;
		pass = pair[1];
	}
	snprintf(body, sizeof(body), "{\"dest\": \"%s\", \"downtime_ms\": %s, \"max_rounds\": %s, "
		 "\"auto_converge\": %s, \"postcopy\": %s}", dest, downtime ? downtime : "50",
		 max_rounds, converge ? "true" : "false", postcopy ? "true" : "false");
	status = httpc_request_fds(sock, "PUT", "/api/v1/vm.migrate", NULL, body, strlen(body),
				   &pass, 1, 600000, &r, err, sizeof(err));
	if (relaying) {
		close(pair[1]);
		relay_join(&rl);
		close(pair[0]);
		tls_close(rl.tls);
	}
	close(fd);
	if (status < 0 || status >= 300) {
		fprintf(stderr, "capsule control: %s\n",
			status < 0 ? err : httpc_error_text(r.body, msg, sizeof(msg)));
		httpc_reply_free(&r);
		return CAPSULE_EXIT_VMM_ERROR;
	}
	printf("ok: migrated to %s%s %s\n", dest, tls_dir ? " (TLS)" : "", r.body ? r.body : "");
	httpc_reply_free(&r);
	return 0;
}

/* dump-core FILE: the client opens the file, the VMM writes the core into it. */
static int dump_core(const char *sock, const char *file)
{
	struct httpc_reply r = {0};
	char err[512];
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), status;

	if (fd < 0) {
		fprintf(stderr, "capsule control: dump-core: cannot open %s: %s\n", file,
			strerror(errno));
		return CAPSULE_EXIT_VMM_ERROR;
	}
	status = httpc_request_fds(sock, "PUT", "/api/v1/vm.dump-core", NULL, "{}", 2, &fd, 1,
				   600000, &r, err, sizeof(err));
	close(fd);
	if (status != 200) {
		fprintf(stderr, "capsule control: dump-core: %s\n",
			status < 0 ? err : httpc_error_text(r.body, err, sizeof(err)));
		httpc_reply_free(&r);
		unlink(file);
		return CAPSULE_EXIT_VMM_ERROR;
	}
	printf("ok: core of the domain in %s %s\n", file, r.body ? r.body : "");
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
		"  dump-core FILE    an ELF core of the domain (memory and each vCPU's registers)\n"
		"                    that gdb reads with the guest's image (docs/introspection.md)\n"
		"  snapshot DIR      snapshot the running domain into DIR (docs/snapshot.md); it\n"
		"                    runs on ('capsule run --restore DIR' runs the copy)\n"
		"  save DIR          the same, then the domain ends (xl save)\n"
		"  working-set DIR   record the pages a restored domain touched so far into\n"
		"                    DIR/workingset: the next 'run --restore DIR' prefetches them\n"
		"  snapshot DIR --diff, save DIR --diff\n"
		"                    only the pages written since the previous snapshot of this\n"
		"                    boot ('capsule snapshot-merge' makes a full one of a chain)\n"
		"  migrate HOST:PORT [DOWNTIME_MS] (--tls DIR | --insecure) [--auto-converge]\n"
		"          [--max-rounds N] [--postcopy]\n"
		"                    live-migrate the domain to 'capsule run --incoming HOST:PORT'\n"
		"                    (pre-copy; docs/migration.md); it ends here. TLS: mutually\n"
		"                    authenticated with DIR/ca.pem, cert.pem, key.pem.\n"
		"                    --auto-converge throttles the vCPUs of a guest that dirties\n"
		"                    faster than the link; at most N rounds (30). --postcopy\n"
		"                    switches over at once: the pages follow, on demand\n");
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
	if (argc >= 4 && argc <= 11 && !strcmp(argv[2], "migrate"))
		return migrate(argv[1], argc - 3, argv + 3);
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
	if (!strcmp(cmd, "working-set") && arg)
		return working_set(argv[1], arg);
	if (!strcmp(cmd, "dump-core") && arg)
		return dump_core(argv[1], arg);
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
