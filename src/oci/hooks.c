/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bundle's hooks that create runs (the spec's prestart and createRuntime, in that
 * order, as runc does): each path exec'd with its args and env, the container's state
 * JSON on its stdin, bounded by its timeout (default 30 s). Docker's prestart hook is how
 * its network reaches the container's namespace: it moves the veth in.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capsule/oci.h"

#define HOOK_ARGS_MAX 64
#define HOOK_TIMEOUT_S 30

static int strv(json_t *a, const char **v, const char *first)
{
	size_t i, n = 0;
	json_t *x;

	if (first)
		v[n++] = first;
	json_array_foreach(a, i, x) {
		if (!json_is_string(x) || n == HOOK_ARGS_MAX)
			return -1;
		v[n++] = json_string_value(x);
	}
	v[n] = NULL;
	return 0;
}

static int run_one(json_t *h, const char *kind, size_t idx, const char *state, char *err,
		   size_t errlen)
{
	const char *path = json_string_value(json_object_get(h, "path"));
	const char *argv[HOOK_ARGS_MAX + 2], *envp[HOOK_ARGS_MAX + 2];
	json_t *args = json_object_get(h, "args"), *t = json_object_get(h, "timeout");
	long timeout = json_is_integer(t) ? (long)json_integer_value(t) : HOOK_TIMEOUT_S;
	int in[2], status;
	pid_t pid;

	if (!path || strv(args, argv, json_array_size(args) ? NULL : path) ||
	    strv(json_object_get(h, "env"), envp, NULL) || timeout <= 0 || timeout > 3600)
		return snprintf(err, errlen, "%s hook #%zu is malformed", kind, idx), -1;
	if (pipe2(in, O_CLOEXEC))
		return snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
	pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		execve(path, (char *const *)argv, (char *const *)envp);
		_exit(127);
	}
	close(in[0]);
	if (pid > 0) {
		signal(SIGPIPE, SIG_IGN); /* a hook that does not read its state */
		if (write(in[1], state, strlen(state)) < 0)
			oci_log("debug", "%s hook #%zu did not read its state", kind, idx);
	}
	close(in[1]);
	if (pid < 0)
		return snprintf(err, errlen, "fork: %s", strerror(errno)), -1;
	for (long waited = 0;; waited += 10) {
		struct timespec step = {0, 10 * 1000 * 1000};

		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		if (waited >= timeout * 1000) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return snprintf(err, errlen, "%s hook #%zu (%s) timed out after %ld s", kind,
					idx, path, timeout), -1;
		}
		nanosleep(&step, NULL);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return snprintf(err, errlen, "%s hook #%zu (%s) failed: %s %d", kind, idx, path,
				WIFEXITED(status) ? "exit status" : "signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status)), -1;
	oci_log("debug", "%s hook #%zu (%s) ran", kind, idx, path);
	return 0;
}

int oci_hooks_run(const char *hooks, const char *id, pid_t pid, const char *bundle,
		  char *err, size_t errlen)
{
	static const char *const kinds[] = {"prestart", "createRuntime"};
	json_t *h = hooks ? json_loads(hooks, 0, NULL) : NULL, *st;
	char *state;
	int r = 0;

	if (!h)
		return 0;
	st = json_pack("{s:s, s:s, s:s, s:i, s:s}", "ociVersion", OCI_VERSION, "id", id, "status",
		       "creating", "pid", (int)pid, "bundle", bundle);
	state = st ? json_dumps(st, JSON_COMPACT) : NULL;
	json_decref(st);
	for (unsigned k = 0; k < 2 && !r && state; k++) {
		json_t *list = json_object_get(h, kinds[k]), *one;
		size_t i;

		json_array_foreach(list, i, one) {
			r = run_one(one, kinds[k], i, state, err, errlen);
			if (r)
				break;
		}
	}
	free(state);
	json_decref(h);
	return r;
}
