/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The commands after create, on the state create left: start resumes the paused domain,
 * kill asks a running guest to power off (SIGTERM, through the API, destroyed after a
 * grace time if it does not) or signals the VMM, delete removes a stopped container (and
 * destroys a created one, or any with --force), state prints the spec's JSON. Errors read
 * as runc's, which callers match on ("does not exist", "not running").
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capsule/cgroup.h"
#include "capsule/httpc.h"
#include "capsule/oci.h"

/*
 * The VMM's API socket is ROOT/ID/api.sock, which for an engine's 64-digit ids is longer
 * than a Unix socket's path may be (/run/docker/runtime-capsule/moby/ID: 109 bytes): the
 * VMM was started in ROOT/ID and bound "api.sock", and clients connect to it from there.
 */
int oci_api(const struct oci_opts *o, const char *id, const char *method, const char *path,
	    const char *body, char *reply, size_t len)
{
	char dir[PATH_MAX];
	struct httpc_reply r;
	int status = -1, here;

	reply[0] = 0;
	if (oci_path(o, id, NULL, dir, sizeof(dir)))
		return -1;
	here = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (here < 0)
		return -1;
	if (!chdir(dir))
		status = httpc_request(OCI_API_SOCK, method, path, NULL, body,
				       body ? strlen(body) : 0, 10000, &r, reply, len);
	if (fchdir(here))
		status = -1; /* relative paths after this would be wrong: fail the command */
	close(here);
	if (status < 0)
		return -1;
	snprintf(reply, len, "%s", r.body ? r.body : "");
	httpc_reply_free(&r);
	return status;
}

/* The one ID argument of a command, after its options. */
static const char *one_id(int argc, char **argv, const char *cmd)
{
	if (optind != argc - 1) {
		oci_fail("%s: expected exactly one container id", cmd);
		return NULL;
	}
	return argv[optind];
}

/* Load the state of id, or say (as runc does) that there is no such container. */
static int load(const struct oci_opts *o, const char *id, struct oci_state *st)
{
	char err[512];
	int r = oci_state_read(o, id, st, err, sizeof(err));

	if (r == -ENOENT)
		return oci_fail("container does not exist");
	if (r)
		return oci_fail("%s", err);
	return 0;
}

static int no_options(int argc, char **argv)
{
	static const struct option none[] = {{NULL, 0, NULL, 0}};

	optind = 1;
	return getopt_long(argc, argv, "+", none, NULL) == -1 ? 0 : -1;
}

int oci_start(const struct oci_opts *o, int argc, char **argv)
{
	struct oci_state st;
	const char *id, *status;
	char reply[1024], err[512];
	int r = 1;

	if (no_options(argc, argv) || !(id = one_id(argc, argv, "start")))
		return 1;
	if (load(o, id, &st))
		return 1;
	status = oci_status(o, &st);
	if (!strcmp(status, "stopped"))
		r = oci_fail("cannot start a container that has stopped");
	else if (strcmp(status, "created"))
		r = oci_fail("cannot start an already running container");
	else if (oci_api(o, id, "PUT", "/api/v1/vm.resume", NULL, reply, sizeof(reply)) / 100 != 2)
		r = oci_fail("cannot start %s: the VMM's API says: %s", id, reply);
	else if ((st.started = true, oci_state_write(o, &st, err, sizeof(err))))
		r = oci_fail("%s", err);
	else
		r = 0;
	oci_state_free(&st);
	return r;
}

int oci_state_cmd(const struct oci_opts *o, int argc, char **argv)
{
	struct oci_state st;
	const char *id, *status;
	json_t *j, *ann;
	char *text;

	if (no_options(argc, argv) || !(id = one_id(argc, argv, "state")))
		return 1;
	if (load(o, id, &st))
		return 1;
	status = oci_status(o, &st);
	ann = st.annotations ? json_loads(st.annotations, 0, NULL) : NULL;
	/* The spec's fields, then runc's extras (rootfs, created); no pid once stopped. */
	j = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:o}", "ociVersion", OCI_VERSION, "id",
		      st.id, "status", status, "pid", strcmp(status, "stopped") ? (int)st.pid : 0,
		      "bundle", st.bundle, "rootfs", st.rootfs, "created", st.created,
		      "annotations", ann ? ann : json_object());
	text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	if (text)
		printf("%s\n", text);
	free(text);
	json_decref(j);
	oci_state_free(&st);
	return text ? 0 : 1;
}

int oci_signal_parse(const char *s)
{
	static const struct { const char *name; int sig; } names[] = {
		{"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
		{"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"CONT", SIGCONT},
		{"STOP", SIGSTOP}, {"WINCH", SIGWINCH}, {"PWR", SIGPWR},
	};
	char *end;
	long n;

	if (!strncmp(s, "SIG", 3))
		s += 3;
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i].name))
			return names[i].sig;
	n = strtol(s, &end, 10);
	return *s && !*end && n >= 1 && n <= 64 ? (int)n : -1;
}

/* SIGTERM to a running guest: the API's graceful power off (the VMM destroys the domain
 * if the guest has not powered off within the grace time). Every other signal, and
 * SIGTERM to a domain that cannot hear it (created: paused), goes to the VMM. */
static int deliver(const struct oci_opts *o, const struct oci_state *st, const char *status,
		   int sig)
{
	char reply[1024], body[48];

	if (sig == SIGTERM && !strcmp(status, "running")) {
		snprintf(body, sizeof(body), "{\"grace_s\": %u}", OCI_SHUTDOWN_GRACE_S);
		if (oci_api(o, st->id, "PUT", "/api/v1/vm.shutdown", body, reply, sizeof(reply)) / 100 == 2)
			return 0;
		oci_log("info", "kill %s: the guest cannot be asked to power off (%s); SIGTERM to "
			"the VMM", st->id, reply);
	}
	if (kill(st->pid, sig))
		return oci_fail("kill %s: %s", st->id, strerror(errno));
	return 0;
}

int oci_kill(const struct oci_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {{"all", no_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
	struct oci_state st;
	const char *id, *status;
	int sig = SIGTERM, r, c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+a", opts, NULL)) != -1)
		if (c != 'a')
			return 1;
	if (optind != argc - 1 && optind != argc - 2)
		return oci_fail("kill: expected a container id and an optional signal");
	id = argv[optind];
	if (optind == argc - 2 && (sig = oci_signal_parse(argv[optind + 1])) < 0)
		return oci_fail("invalid signal: %s", argv[optind + 1]);
	if (load(o, id, &st))
		return 1;
	status = oci_status(o, &st);
	r = !strcmp(status, "stopped") ? oci_fail("container not running")
					: deliver(o, &st, status, sig);
	oci_state_free(&st);
	return r;
}

static void remove_state(const struct oci_opts *o, const struct oci_state *st)
{
	char err[256];

	if (st->cgroup) {
		struct cgroup_host cg;

		/* A VMM just killed may linger as a zombie in it until its parent reaps it:
		 * the cgroup is busy until then. */
		for (int i = 0; i < 300 && !cgroup_host_init(&cg, CG_AUTO, NULL, "capsule-oci", err,
							      sizeof(err)) &&
				cgroup_dom_remove(&cg, st->id) == -EBUSY; i++)
			nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
	oci_state_remove(o, st->id);
}

int oci_delete(const struct oci_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
					     {NULL, 0, NULL, 0}};
	struct oci_state st;
	const char *id, *status;
	bool force = false;
	int c, r = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+f", opts, NULL)) != -1) {
		if (c != 'f')
			return 1;
		force = true;
	}
	if (!(id = one_id(argc, argv, "delete")) || load(o, id, &st))
		return 1;
	status = oci_status(o, &st);
	/* runc destroys a created container without --force, a running one only with it. */
	if (strcmp(status, "stopped") && strcmp(status, "created") && !force) {
		r = oci_fail("cannot delete container %s that is not stopped: %s", id, status);
	} else if (strcmp(status, "stopped")) {
		struct timespec step = {0, 10 * 1000 * 1000};

		kill(st.pid, SIGKILL);
		for (int i = 0; i < 1000 && oci_pid_alive(st.pid, st.starttime); i++)
			nanosleep(&step, NULL);
		if (oci_pid_alive(st.pid, st.starttime))
			r = oci_fail("cannot delete %s: its VMM (pid %d) did not end", id,
				     (int)st.pid);
	}
	if (!r)
		remove_state(o, &st);
	oci_state_free(&st);
	return r;
}

int oci_ps(const struct oci_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
					     {NULL, 0, NULL, 0}};
	struct oci_state st;
	const char *id, *format = "table";
	bool alive;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+f:", opts, NULL)) != -1) {
		if (c != 'f')
			return 1;
		format = optarg;
	}
	if (strcmp(format, "table") && strcmp(format, "json"))
		return oci_fail("invalid format option");
	if (!(id = one_id(argc, argv, "ps")) || load(o, id, &st))
		return 1;
	alive = oci_pid_alive(st.pid, st.starttime);
	/* A domain's one host process: the VMM. */
	if (!strcmp(format, "json"))
		alive ? printf("[%d]\n", (int)st.pid) : printf("[]\n");
	else
		alive ? printf("PID\n%d\n", (int)st.pid) : printf("PID\n");
	oci_state_free(&st);
	return 0;
}

int oci_pause_resume(const struct oci_opts *o, int argc, char **argv, bool pause)
{
	struct oci_state st;
	const char *id, *status;
	char reply[1024];
	int r;

	if (no_options(argc, argv) || !(id = one_id(argc, argv, pause ? "pause" : "resume")) ||
	    load(o, id, &st))
		return 1;
	status = oci_status(o, &st);
	if (strcmp(status, pause ? "running" : "paused"))
		r = oci_fail(pause ? "container not running" : "container not paused");
	else if (oci_api(o, id, "PUT", pause ? "/api/v1/vm.pause" : "/api/v1/vm.resume", NULL,
			 reply, sizeof(reply)) / 100 != 2)
		r = oci_fail("the VMM's API says: %s", reply);
	else
		r = 0;
	oci_state_free(&st);
	return r;
}

int oci_features(void)
{
	printf("{\n"
	       "  \"ociVersionMin\": \"1.0.0\",\n"
	       "  \"ociVersionMax\": \"%s\",\n"
	       "  \"hooks\": [],\n"
	       "  \"mountOptions\": [\"io.capsule.disk\", \"ro\"],\n"
	       "  \"linux\": {\n"
	       "    \"namespaces\": [],\n"
	       "    \"capabilities\": [],\n"
	       "    \"cgroup\": {\"v1\": true, \"v2\": true, \"systemd\": false}\n"
	       "  },\n"
	       "  \"annotations\": {\n"
	       "    \"io.capsule.vcpus\": \"virtual CPUs, 1 to 64\",\n"
	       "    \"io.capsule.kernel-cmdline\": \"put before the command line\",\n"
	       "    \"io.capsule.type\": \"pv or hvm: refused if the image is not that\"\n"
	       "  }\n"
	       "}\n", OCI_VERSION);
	return 0;
}
