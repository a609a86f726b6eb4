/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A container's state: ROOT/ID/state.json, written through a temporary file and a rename
 * so a reader never sees half of it, read back by every later command (each is a new
 * process). The status is not stored: it follows from the VMM's pid (gone or a zombie:
 * stopped; alive: created until start ran, then what its API says).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capsule/oci.h"
#include "capsule/procstat.h"

/* runc's rule: letters, digits, '_', '+', '-', '.', and not "." or "..". */
int oci_id_check(const char *id, char *err, size_t errlen)
{
	size_t n = strlen(id);

	if (!n || n > OCI_ID_MAX || !strcmp(id, ".") || !strcmp(id, "..") ||
	    strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.") != n) {
		snprintf(err, errlen, "invalid container id format: %.*s", OCI_ID_MAX, id);
		return -1;
	}
	return 0;
}

int oci_path(const struct oci_opts *o, const char *id, const char *file, char *out, size_t len)
{
	int n = file ? snprintf(out, len, "%s/%s/%s", o->root, id, file)
		     : snprintf(out, len, "%s/%s", o->root, id);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int oci_write_atomic(const char *path, const char *text, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	size_t len = strlen(text);
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) || close(fd)) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path)) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

bool oci_pid_alive(pid_t pid, unsigned long long starttime)
{
	return pid > 0 && starttime && proc_start_time(pid) == starttime;
}

int oci_state_write(const struct oci_opts *o, const struct oci_state *st, char *err,
		    size_t errlen)
{
	char path[PATH_MAX], *text;
	json_t *ann = st->annotations ? json_loads(st->annotations, 0, NULL) : NULL;
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:b, s:b, s:o}",
			      "ociVersion", OCI_VERSION, "id", st->id, "bundle", st->bundle,
			      "rootfs", st->rootfs, "created", st->created, "pid", (int)st->pid,
			      "starttime", (json_int_t)st->starttime, "started", st->started,
			      "cgroup", st->cgroup, "annotations", ann ? ann : json_object());
	int r;

	if (!j || oci_path(o, st->id, "state.json", path, sizeof(path))) {
		json_decref(j);
		snprintf(err, errlen, "cannot write the state of %s", st->id);
		return -1;
	}
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	r = text ? oci_write_atomic(path, text, err, errlen) : -1;
	free(text);
	return r;
}

int oci_state_read(const struct oci_opts *o, const char *id, struct oci_state *st, char *err,
		   size_t errlen)
{
	char path[PATH_MAX];
	const char *sid = NULL, *bundle = NULL, *rootfs = "", *created = "";
	json_int_t pid = 0, start = 0;
	int started = 0, cg = 0;
	json_t *j, *ann = NULL;
	json_error_t je;

	memset(st, 0, sizeof(*st));
	if (oci_id_check(id, err, errlen))
		return -1;
	if (oci_path(o, id, "state.json", path, sizeof(path))) {
		snprintf(err, errlen, "%s: state path too long", id);
		return -1;
	}
	j = json_load_file(path, 0, &je);
	if (!j) {
		if (access(path, F_OK) && errno == ENOENT)
			return -ENOENT;
		snprintf(err, errlen, "cannot read %s: %s", path, je.text);
		return -1;
	}
	if (json_unpack_ex(j, &je, 0, "{s:s, s:s, s?s, s?s, s:I, s:I, s:b, s?b, s?o}", "id", &sid,
			   "bundle", &bundle, "rootfs", &rootfs, "created", &created, "pid", &pid,
			   "starttime", &start, "started", &started, "cgroup", &cg,
			   "annotations", &ann) ||
	    strcmp(sid, id) || pid <= 0 || pid > 0x7fffffff) {
		snprintf(err, errlen, "%s is not a capsule-oci state file", path);
		json_decref(j);
		return -1;
	}
	snprintf(st->id, sizeof(st->id), "%s", sid);
	snprintf(st->bundle, sizeof(st->bundle), "%s", bundle);
	snprintf(st->rootfs, sizeof(st->rootfs), "%s", rootfs);
	snprintf(st->created, sizeof(st->created), "%s", created);
	st->pid = (pid_t)pid;
	st->starttime = (unsigned long long)start;
	st->started = started;
	st->cgroup = cg;
	st->annotations = ann ? json_dumps(ann, JSON_COMPACT) : NULL;
	json_decref(j);
	return 0;
}

void oci_state_free(struct oci_state *st)
{
	free(st->annotations);
	st->annotations = NULL;
}

const char *oci_status(const struct oci_opts *o, const struct oci_state *st)
{
	char reply[4096];
	json_t *j;
	const char *s = "running";

	if (!oci_pid_alive(st->pid, st->starttime))
		return "stopped";
	if (!st->started)
		return "created";
	if (oci_api(o, st->id, "GET", "/api/v1/vm.info", NULL, reply, sizeof(reply)) == 200 &&
	    (j = json_loads(reply, 0, NULL))) {
		const char *state = json_string_value(json_object_get(j, "state"));

		if (state && !strcmp(state, "paused"))
			s = "paused";
		json_decref(j);
	}
	return s;
}

void oci_state_remove(const struct oci_opts *o, const char *id)
{
	static const char *const files[] = {"state.json", "api.sock", "api.sock.lock",
					    "exit.json", NULL};
	char path[PATH_MAX];

	for (unsigned i = 0; files[i]; i++)
		if (!oci_path(o, id, files[i], path, sizeof(path)))
			unlink(path);
	if (!oci_path(o, id, NULL, path, sizeof(path)))
		rmdir(path);
}
