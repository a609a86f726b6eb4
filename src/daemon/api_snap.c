/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshots through capsuled (docs/capsuled.md, docs/snapshot.md): save, snapshot, restore,
 * clone. A snapshot directory is the client's: capsuled touches it with the client's
 * filesystem identity (setfsuid and setfsgid on the handler's thread, so the kernel checks
 * the client's permissions, not root's), takes an absolute path without ".." only, makes
 * it mode 0700, and never follows a symlink for its last component nor for the files in
 * it. The directory is opened once and named from then on as /proc/self/fd/N, so a
 * directory swapped for a symlink mid-request changes nothing.
 *
 * save and snapshot: the files are made as .part (snapdir_begin), passed to the VMM
 * (PUT /api/v1/vm.snapshot, SCM_RIGHTS) and renamed into place only once it is done;
 * {"diff": true} asks for the pages dirtied since the previous snapshot only.
 * restore and clone: the state is read and checked here by the VMM's own parser, the
 * configuration it carries checked as a create's is (paths, kernel, memory); each new
 * domain's VMM gets a copy of those checked bytes (DOMDIR/snap/state) and the memory
 * file as an inherited descriptor (DOMDIR/snap/memory is a symlink to /proc/self/fd/4,
 * so the VMM maps exactly the file checked here, copy-on-write). All or nothing: every
 * VMM is seen running before the rows are committed in one transaction, and a failure
 * ends them all and removes their directories.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capsule/api.h"
#include "capsule/httpc.h"
#include "capsule/snapshot.h"
#include "capsule/vm.h"
#include "daemon.h"

#define SNAPSHOT_TIMEOUT_MS 120000 /* writing the memory of a large domain takes a while */
#define CLONE_MAX 1024u
#define START_TIMEOUT_MS 10000

/* The client's identity for filesystem access on this thread, or back to root's. */
static void as_client(const struct http_request *req, bool on)
{
	if (on && req->peer_known && req->peer_uid != 0) {
		setfsgid(req->peer_gid);
		setfsuid(req->peer_uid);
	} else if (!on) {
		setfsuid(0);
		setfsgid(0);
	}
}

/* An absolute path without "." or ".." components, of a sane length: 0, or -1 and err. */
static int check_dir_path(const char *dir, char *err, size_t errlen)
{
	if (!dir || dir[0] != '/') {
		snprintf(err, errlen, "dir: the path must be absolute (capsuled does not share the "
			 "client's working directory): %s", dir ? dir : "(none)");
		return -1;
	}
	if (strlen(dir) > 3900) {
		snprintf(err, errlen, "dir: the path is too long");
		return -1;
	}
	for (const char *p = dir; *p;) {
		size_t n = strcspn(p, "/");

		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
			snprintf(err, errlen, "dir: '.' and '..' components are refused: %s", dir);
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)p[i] < 0x20) {
				snprintf(err, errlen, "dir: control characters in the path");
				return -1;
			}
		p += n;
		p += *p == '/';
	}
	return 0;
}

/* The directory, made if missing (mode 0700) when make: an fd, or -errno with err. */
static int open_dir(const char *dir, bool make, char *err, size_t errlen)
{
	int fd;

	if (make && mkdir(dir, 0700) < 0 && errno != EEXIST) {
		int e = errno;

		snprintf(err, errlen, "cannot make %s: %s", dir, strerror(e));
		return -e;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		struct stat st;

		if (e == ENOTDIR && lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
			e = ELOOP; /* O_DIRECTORY | O_NOFOLLOW on a symlink says ENOTDIR */

		snprintf(err, errlen, "%s: %s", dir, e == ELOOP ? "a symlink (refused)"
			 : e == ENOTDIR ? "not a directory" : strerror(e));
		return -e;
	}
	return fd;
}

/* {"dir": "/abs"} and the other string keys listed: the dir, or NULL with a 400. */
static json_t *body_object(const struct http_request *req, struct http_response *resp,
			   const char *const *keys)
{
	json_t *j = req->body_len ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES,
					      NULL) : NULL;
	const char *key;
	json_t *v;

	if (!json_is_object(j)) {
		api_error(resp, 400, "send a JSON object: {\"dir\": \"/absolute/path\"%s}",
			  keys[1] ? ", ..." : "");
		json_decref(j);
		return NULL;
	}
	json_object_foreach(j, key, v) {
		bool known = false;

		for (unsigned i = 0; keys[i]; i++)
			known |= !strcmp(key, keys[i]);
		if (!known) {
			api_error(resp, 400, "unknown field \"%s\"", key);
			json_decref(j);
			return NULL;
		}
	}
	if (!json_is_string(json_object_get(j, "dir"))) {
		api_error(resp, 400, "dir: a string, the snapshot directory's absolute path");
		json_decref(j);
		return NULL;
	}
	return j;
}

/* ---- save, snapshot ---- */

static void take(struct daemon *dm, const struct http_request *req, struct http_response *resp,
		 bool save)
{
	static const char *const keys[] = {"dir", "diff", NULL};
	char sock[4200], err[1024], pdir[64], msg[512], vbody[64], *detail = NULL;
	struct httpc_reply r = {0};
	int fds[2] = {-1, -1}, dfd = -1, status;
	bool began = false;
	const char *dir;
	json_t *body, *out, *diff;
	struct ddom *d;
	int64_t id;

	if (!(body = body_object(req, resp, keys)))
		goto log;
	dir = json_string_value(json_object_get(body, "dir"));
	diff = json_object_get(body, "diff");
	if (diff && !json_is_boolean(diff)) {
		api_error(resp, 400, "diff: true or false (only the pages dirtied since the last "
			  "snapshot)");
		goto out;
	}
	snprintf(vbody, sizeof(vbody), "{\"save\": %s, \"diff\": %s}", save ? "true" : "false",
		 json_is_true(diff) ? "true" : "false");
	if (check_dir_path(dir, err, sizeof(err))) {
		api_error(resp, 400, "%s", err);
		goto out;
	}
	pthread_mutex_lock(&dm->lock);
	if (!(d = req_domain(dm, req, resp))) {
		pthread_mutex_unlock(&dm->lock);
		goto out;
	}
	if ((d->state != DS_RUNNING && d->state != DS_PAUSED) || d->pidfd < 0) {
		api_error(resp, 409, "domain %s is %s", d->name, dstate_name(d->state));
		pthread_mutex_unlock(&dm->lock);
		goto out;
	}
	id = d->id;
	dom_path(dm, d, "api.sock", sock, sizeof(sock));
	pthread_mutex_unlock(&dm->lock);

	as_client(req, true);
	if ((dfd = open_dir(dir, true, err, sizeof(err))) >= 0) {
		snprintf(pdir, sizeof(pdir), "/proc/self/fd/%d", dfd);
		began = snapdir_begin(pdir, fds, err, sizeof(err)) == 0;
	}
	as_client(req, false);
	if (!began) {
		api_error(resp, 400, "%s", err);
		goto out;
	}
	status = httpc_request_fds(sock, "PUT", "/api/v1/vm.snapshot", NULL, vbody,
				   strlen(vbody), fds, 2, SNAPSHOT_TIMEOUT_MS, &r, err, sizeof(err));
	as_client(req, true);
	if (status < 200 || status >= 300) {
		snapdir_end(pdir, fds, false);
		as_client(req, false);
		if (status < 0)
			api_error(resp, status == -ETIMEDOUT ? 504 : 502, "the domain's VMM does not "
				  "answer: %s", err);
		else
			api_error(resp, status, "%s", httpc_error_text(r.body, msg, sizeof(msg)));
		goto out;
	}
	status = snapdir_end(pdir, fds, true);
	as_client(req, false);
	if (status) {
		api_error(resp, 500, "cannot put the snapshot in place in %s: %s", dir,
			  strerror(-status));
		goto out;
	}
	out = json_loads(r.body ? r.body : "{}", 0, NULL);
	if (!json_is_object(out)) {
		json_decref(out);
		out = json_object();
	}
	json_object_set_new(out, "dir", json_string(dir));
	detail = json_dumps(out, JSON_COMPACT);
	pthread_mutex_lock(&dm->lock);
	if ((d = dom_find_id(dm, id))) {
		dom_event_uid(dm, d, req->peer_uid, save ? "save" : "snapshot",
			      detail ? detail : dir);
		if (save)
			db_set_snapshot(dm, id, "saved_to", dir);
	}
	pthread_mutex_unlock(&dm->lock);
	api_json(resp, 200, detail ? detail : "{}");
	json_decref(out);
out:
	if (dfd >= 0)
		close(dfd);
	free(detail);
	httpc_reply_free(&r);
	json_decref(body);
log:
	log_request(req, resp->status);
}

void api_save(void *ctx, const struct http_request *req, struct http_response *resp)
{
	take(ctx, req, resp, true);
}

void api_snapshot(void *ctx, const struct http_request *req, struct http_response *resp)
{
	take(ctx, req, resp, false);
}

/* ---- restore, clone ---- */

struct snap_source {
	char dir[4000];
	void *buf; /* the state, read and checked */
	size_t len;
	int mem_fd;
	json_t *cfg; /* its configuration */
};

static void source_close(struct snap_source *s)
{
	if (s->mem_fd >= 0)
		close(s->mem_fd);
	free(s->buf);
	json_decref(s->cfg);
}

static int read_state(int fd, void **out, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	size_t done = 0;
	char *buf;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "the state is not a regular file");
		return -1;
	}
	if (st.st_size > SNAP_MAX_STATE) {
		snprintf(err, errlen, "the state is %lld bytes; a snapshot's state is at most %u",
			 (long long)st.st_size, SNAP_MAX_STATE);
		return -1;
	}
	if (!(buf = malloc((size_t)st.st_size + 8))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	*out = buf;
	*len = done;
	return 0;
}

/* Open, read and check DIR's snapshot as the client: 0, or -1 with a 400 answered. */
static int source_open(struct snap_source *s, const char *dir, const struct http_request *req,
		       struct http_response *resp)
{
	static __thread struct domain_config c; /* large: one per API thread */
	struct snap_parsed p;
	char err[1024];
	struct stat st;
	int dfd = -1, sfd = -1, rc = -1;

	*s = (struct snap_source){.mem_fd = -1};
	if (check_dir_path(dir, err, sizeof(err))) {
		api_error(resp, 400, "%s", err);
		return -1;
	}
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	as_client(req, true);
	if ((dfd = open_dir(dir, false, err, sizeof(err))) >= 0) {
		sfd = openat(dfd, "state", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (sfd < 0)
			snprintf(err, sizeof(err), "%s/state: %s", dir,
				 errno == ELOOP ? "a symlink (refused)" : strerror(errno));
		s->mem_fd = sfd < 0 ? -1 : openat(dfd, "memory", O_RDONLY | O_NOFOLLOW |
						  O_NONBLOCK | O_CLOEXEC);
		if (sfd >= 0 && s->mem_fd < 0)
			snprintf(err, sizeof(err), "%s/memory: %s", dir,
				 errno == ELOOP ? "a symlink (refused)" : strerror(errno));
	}
	as_client(req, false);
	if (dfd < 0 || sfd < 0 || s->mem_fd < 0)
		goto fail;
	if (read_state(sfd, &s->buf, &s->len, err, sizeof(err)) ||
	    snapshot_parse_config(s->buf, s->len, &p, &c, err, sizeof(err)))
		goto fail;
	if (fstat(s->mem_fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != p.header.mem_bytes) {
		snprintf(err, sizeof(err), "%s/memory has %lld bytes; the state says the domain has "
			 "%llu bytes of memory", dir, (long long)st.st_size,
			 (unsigned long long)p.header.mem_bytes);
		goto fail;
	}
	/* Blocking again: the VMM maps it. */
	fcntl(s->mem_fd, F_SETFL, fcntl(s->mem_fd, F_GETFL) & ~O_NONBLOCK);
	if (!(s->cfg = json_loadb(p.config, p.config_len, 0, NULL)) || !json_is_object(s->cfg)) {
		snprintf(err, sizeof(err), "the snapshot's configuration is not a JSON object");
		goto fail;
	}
	rc = 0;
fail:
	if (rc)
		api_error(resp, 400, "the snapshot %s is refused: %s", dir, err);
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	if (rc) {
		source_close(s);
		*s = (struct snap_source){.mem_fd = -1};
	}
	return rc;
}

/* A locally administered, unicast MAC address. */
static void random_mac(char out[18])
{
	uint8_t b[6] = {0};

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		for (unsigned i = 0; i < 6; i++)
			b[i] = (uint8_t)rand();
	b[0] = (uint8_t)((b[0] & 0xfc) | 0x02);
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
}

struct launch {
	struct ddom *d;
	char *text;   /* the checked configuration */
	char dir[4200];
	char macs[SPAWN_MAX_MACS][18];
	char taps[SPAWN_MAX_MACS][16];
	unsigned nr_macs;
	bool spawned;
};

/* The new domain's configuration, its directory and its VMM: 0, or -1 with resp set. */
static int launch_one(struct daemon *dm, struct snap_source *s, const char *name,
		      bool new_macs, struct launch *l, struct http_response *resp)
{
	json_t *cfg = json_deep_copy(s->cfg), *nets, *net, *checked;
	char err[1024], kind[4] = "", path[4200], *text;
	struct spawn_restore sr = {.mem_fd = s->mem_fd, .incoming_fd = -1};
	struct ddom *d;
	size_t i;
	int fd;

	if (!cfg || !(l->d = d = calloc(1, sizeof(*d)))) {
		json_decref(cfg);
		api_error(resp, 500, "out of memory");
		return -1;
	}
	json_object_set_new(cfg, "name", json_string(name));
	nets = json_object_get(cfg, "net");
	/* A clone's net devices: a new MAC, and a TAP of its own (a TAP takes one VMM):
	 * the snapshot's name cut to 6 characters, '-', the MAC's last 3 bytes. */
	json_array_foreach(nets, i, net) {
		const char *tap = json_string_value(json_object_get(net, "tap"));
		char *m = l->macs[l->nr_macs];

		if (!new_macs || l->nr_macs == SPAWN_MAX_MACS || !json_is_object(net) || !tap)
			break;
		random_mac(m);
		snprintf(l->taps[l->nr_macs], sizeof(l->taps[0]), "%.6s-%c%c%c%c%c%c", tap, m[9],
			 m[10], m[12], m[13], m[15], m[16]);
		json_object_set_new(net, "mac", json_string(m));
		json_object_set_new(net, "tap", json_string(l->taps[l->nr_macs++]));
	}
	text = json_dumps(cfg, JSON_COMPACT);
	json_decref(cfg);
	snprintf(err, sizeof(err), "out of memory");
	checked = text ? daemon_config(dm, text, strlen(text), kind, err, sizeof(err)) : NULL;
	free(text);
	if (!checked) {
		api_error(resp, 400, "the snapshot %s: its configuration is refused: %s", s->dir,
			  err);
		return -1;
	}
	dom_from_config(d, checked, kind);
	snprintf(d->name, sizeof(d->name), "%s", name);
	l->text = json_dumps(checked, JSON_COMPACT);
	json_decref(checked);
	dom_path(dm, d, NULL, l->dir, sizeof(l->dir));
	if (!l->text || mkdir(l->dir, 0700) < 0 || write_config(l->dir, l->text)) {
		api_error(resp, 500, "cannot write the domain's directory %s: %s", l->dir,
			  strerror(errno));
		return -1;
	}
	/* The VMM restores from a copy of the bytes checked here, and the memory file
	 * capsuled opened, inherited as fd 4. */
	dom_path(dm, d, "snap", path, sizeof(path));
	if (mkdir(path, 0700) < 0) {
		api_error(resp, 500, "cannot make %s: %s", path, strerror(errno));
		return -1;
	}
	dom_path(dm, d, "snap/state", path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, s->buf, s->len) != (ssize_t)s->len) {
		if (fd >= 0)
			close(fd);
		api_error(resp, 500, "cannot write %s", path);
		return -1;
	}
	close(fd);
	dom_path(dm, d, "snap/memory", path, sizeof(path));
	if (symlink("/proc/self/fd/4", path) < 0) {
		api_error(resp, 500, "cannot make %s: %s", path, strerror(errno));
		return -1;
	}
	dom_path(dm, d, "snap", path, sizeof(path));
	sr.dir = path;
	sr.macs = l->macs;
	sr.taps = l->taps;
	sr.nr_macs = l->nr_macs;
	if (spawn_vmm_restore(dm, d, &sr, err, sizeof(err))) {
		api_error(resp, 500, "cannot start the VMM: %s", err);
		return -1;
	}
	l->spawned = true;
	return 0;
}

/* Is l's VMM running (its API answers)? 0, or -1 with resp set to why not. */
static int launch_wait(struct daemon *dm, struct launch *l, struct http_response *resp)
{
	struct httpc_reply r = {0};
	char sock[4200], err[512], tail[600], path[4200], rec[256] = "";
	struct ddom *d = l->d;
	ssize_t n = 0;
	int status, fd;

	dom_path(dm, d, "api.sock", sock, sizeof(sock));
	status = httpc_request(sock, "GET", "/api/v1/vm.info", NULL, NULL, 0, START_TIMEOUT_MS,
			       &r, err, sizeof(err));
	httpc_reply_free(&r);
	if (status == 200)
		return 0;
	vmm_log_tail(dm, d, tail, sizeof(tail));
	if (proc_start_time(d->pid) == d->pid_start) {
		api_error(resp, 500, "the domain did not start within %d ms: %s%s%s",
			  START_TIMEOUT_MS, err, tail[0] ? ": " : "", tail);
		return -1;
	}
	dom_path(dm, d, "exit", path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) >= 0) {
		n = read(fd, rec, sizeof(rec) - 1);
		close(fd);
	}
	rec[n > 0 ? n : 0] = 0;
	if (n <= 0 || strstr(rec, "\"reason\": \"error\"")) {
		api_error(resp, 400, "the snapshot did not restore: %s", tail[0] ? tail : err);
		return -1;
	}
	return 0; /* it ran, and ended already: recorded as it ended */
}

static void launch_undo(struct launch *l)
{
	if (l->spawned)
		kill_vmm(l->d);
	if (l->dir[0]) {
		char path[4300];

		snprintf(path, sizeof(path), "%s/snap/state", l->dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/snap/memory", l->dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/snap", l->dir);
		rmdir(path);
		remove_dom_dir(l->dir);
	}
	free(l->d);
	free(l->text);
}

static bool name_ok(const char *n)
{
	size_t len = strlen(n);

	return len && len < 64 && strspn(n, "0123456789") != len &&
	       strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

/* Start n domains named names[i] from s, all or nothing; the reply lists them. */
static void launch(struct daemon *dm, const struct http_request *req, struct http_response *resp,
		   struct snap_source *s, char (*names)[64], unsigned n, bool clone)
{
	struct launch *ls = calloc(n, sizeof(*ls));
	json_t *arr = json_array(), *out, *ev;
	char *text = NULL, *detail;
	unsigned started = 0;
	bool ok = false;

	if (!ls || !arr) {
		api_error(resp, 500, "out of memory");
		goto out;
	}
	pthread_mutex_lock(&dm->lock);
	for (unsigned i = 0; i < n; i++)
		if (dom_find(dm, names[i])) {
			api_error(resp, 409, "name: a domain named %s exists already", names[i]);
			pthread_mutex_unlock(&dm->lock);
			goto out;
		}
	if (dm->nr_doms + n > DAEMON_MAX_DOMAINS) {
		api_error(resp, 503, "capsuled manages %u domains at most", DAEMON_MAX_DOMAINS);
		pthread_mutex_unlock(&dm->lock);
		goto out;
	}
	pthread_mutex_unlock(&dm->lock);
	/* Every VMM started first, then each one waited for: they restore side by side. */
	for (; started < n; started++)
		if (launch_one(dm, s, names[started], clone, &ls[started], resp)) {
			started++;
			goto out;
		}
	for (unsigned i = 0; i < n; i++)
		if (launch_wait(dm, &ls[i], resp))
			goto out;
	pthread_mutex_lock(&dm->lock);
	for (unsigned i = 0; i < n; i++)
		if (dom_find(dm, names[i])) { /* a create of the same name meanwhile */
			pthread_mutex_unlock(&dm->lock);
			api_error(resp, 409, "name: a domain named %s exists already", names[i]);
			goto out;
		}
	if (db_begin(dm)) {
		pthread_mutex_unlock(&dm->lock);
		api_error(resp, 500, "cannot record the domains in the database");
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		struct ddom *d = ls[i].d;

		if (db_insert_domain(dm, d, ls[i].text) ||
		    db_set_snapshot(dm, d->id, "restored_from", s->dir) || dom_add(dm, d)) {
			for (unsigned k = 0; k < i; k++)
				dom_forget(dm, ls[k].d);
			db_rollback(dm);
			pthread_mutex_unlock(&dm->lock);
			api_error(resp, 500, "cannot record the domains in the database");
			goto out;
		}
		ev = json_pack("{s:s, s:i, s:i}", "dir", s->dir, "clone", clone ? (int)i + 1 : 0,
			       "of", clone ? (int)n : 0);
		if (ls[i].nr_macs) {
			json_object_set_new(ev, "mac", json_string(ls[i].macs[0]));
			json_object_set_new(ev, "tap", json_string(ls[i].taps[0]));
		}
		detail = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
		json_decref(ev);
		dom_event_uid(dm, d, req->peer_uid, "created", d->kind);
		dom_event_uid(dm, d, req->peer_uid, clone ? "clone" : "restore",
			      detail ? detail : s->dir);
		free(detail);
		dom_event(dm, d, "started", "VMM pid %d", (int)d->pid);
	}
	if (db_commit(dm)) {
		db_rollback(dm);
		for (unsigned i = 0; i < n; i++)
			dom_forget(dm, ls[i].d);
		pthread_mutex_unlock(&dm->lock);
		api_error(resp, 500, "cannot record the domains in the database");
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		struct ddom *d = ls[i].d;
		json_t *j = dom_json(d, true);

		json_object_set_new(j, "restored_from", json_string(s->dir));
		json_array_append_new(arr, j);
		free(ls[i].text);
		if (d->pidfd >= 0)
			monitor_watch(dm, d);
		else
			dom_vmm_ended(dm, d);
	}
	pthread_mutex_unlock(&dm->lock);
	ok = true;
	if (clone) {
		out = json_pack("{s:O}", "domains", arr);
	} else {
		out = json_incref(json_array_get(arr, 0));
	}
	text = out ? json_dumps(out, JSON_COMPACT) : NULL;
	json_decref(out);
	api_json(resp, 201, text ? text : "{}");
out:
	if (!ok && ls)
		for (unsigned i = 0; i < started; i++)
			launch_undo(&ls[i]);
	free(ls);
	free(text);
	json_decref(arr);
}

void api_restore(void *ctx, const struct http_request *req, struct http_response *resp)
{
	static const char *const keys[] = {"dir", "name", NULL};
	struct daemon *dm = ctx;
	struct snap_source s = {.mem_fd = -1};
	char names[1][64];
	json_t *body, *v;

	if (!(body = body_object(req, resp, keys)))
		goto log;
	if (source_open(&s, json_string_value(json_object_get(body, "dir")), req, resp))
		goto out;
	v = json_object_get(body, "name");
	if (v && (!json_is_string(v) || !name_ok(json_string_value(v)))) {
		api_error(resp, 400, "name: 1 to 63 letters, digits, '.', '_' or '-', not all "
			  "digits");
		goto out;
	}
	snprintf(names[0], sizeof(names[0]), "%s",
		 v ? json_string_value(v) : json_string_value(json_object_get(s.cfg, "name")));
	if (!name_ok(names[0])) {
		api_error(resp, 400, "name: the snapshot's domain name '%s' does not do; give one",
			  names[0]);
		goto out;
	}
	launch(dm, req, resp, &s, names, 1, false);
out:
	source_close(&s);
	json_decref(body);
log:
	log_request(req, resp->status);
}

void api_clone(void *ctx, const struct http_request *req, struct http_response *resp)
{
	static const char *const keys[] = {"dir", "count", "name_prefix", NULL};
	struct daemon *dm = ctx;
	struct snap_source s = {.mem_fd = -1};
	char prefix[64], (*names)[64] = NULL;
	json_t *body, *v, *c;
	long long count;

	if (!(body = body_object(req, resp, keys)))
		goto log;
	c = json_object_get(body, "count");
	if (!json_is_integer(c) || json_integer_value(c) < 1 ||
	    json_integer_value(c) > CLONE_MAX) {
		api_error(resp, 400, "count: a whole number from 1 to %u", CLONE_MAX);
		goto out;
	}
	count = json_integer_value(c);
	v = json_object_get(body, "name_prefix");
	if (v && (!json_is_string(v) || strlen(json_string_value(v)) > 50 ||
		  !name_ok(json_string_value(v)))) {
		api_error(resp, 400, "name_prefix: 1 to 50 letters, digits, '.', '_' or '-'");
		goto out;
	}
	if (source_open(&s, json_string_value(json_object_get(body, "dir")), req, resp))
		goto out;
	if (v) {
		snprintf(prefix, sizeof(prefix), "%s", json_string_value(v));
	} else { /* the directory's name */
		const char *base = strrchr(s.dir, '/') + 1;

		snprintf(prefix, 51, "%s", *base ? base : "clone");
		if (!name_ok(prefix))
			snprintf(prefix, sizeof(prefix), "clone");
	}
	if (!(names = calloc((size_t)count, sizeof(*names)))) {
		api_error(resp, 500, "out of memory");
		goto out;
	}
	for (long long i = 0; i < count; i++)
		snprintf(names[i], sizeof(names[i]), "%s-%lld", prefix, i + 1);
	launch(dm, req, resp, &s, names, (unsigned)count, true);
out:
	free(names);
	source_close(&s);
	json_decref(body);
log:
	log_request(req, resp->status);
}
