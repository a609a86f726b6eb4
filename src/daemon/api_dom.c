/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Create, list, info. A create is all or nothing: the config is checked, the VMM started
 * on the domain's directory and seen running (its API answers), and only then is the row
 * committed, in one transaction with its first events; a failure at any step removes what
 * was made, and a kill -9 in between leaves a directory without a row, which the next
 * start removes (reattach.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "capsule/api.h"
#include "capsule/httpc.h"
#include "capsule/vm.h"
#include "daemon.h"

#define START_TIMEOUT_MS 10000

void make_uuid(char out[37])
{
	uint8_t b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		for (unsigned i = 0; i < 16; i++) /* never in practice: getrandom blocks */
			b[i] = (uint8_t)(rand() ^ (int)time(NULL));
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* the RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

int write_config(const char *dir, const char *text)
{
	char path[4200], tmp[4200];
	size_t n = strlen(text);
	int fd;

	snprintf(path, sizeof(path), "%s/config.json", dir);
	snprintf(tmp, sizeof(tmp), "%s/config.json.tmp", dir);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return -errno;
	/* No fsync: the database holds the configuration (committed with full sync); this
	 * file is what the VMM reads, and restart() writes it again from the row. */
	if (write(fd, text, n) != (ssize_t)n) {
		close(fd);
		return -EIO;
	}
	close(fd);
	return rename(tmp, path) < 0 ? -errno : 0;
}

/* The last lines of the VMM's stderr, for an error message. */
void vmm_log_tail(struct daemon *dm, struct ddom *d, char *out, size_t len)
{
	char path[4200], buf[1024];
	ssize_t n = 0;
	int fd;

	dom_path(dm, d, "vmm.log", path, sizeof(path));
	out[0] = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return;
	off_t size = lseek(fd, 0, SEEK_END);
	if (size > 0) {
		off_t at = size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0;

		n = pread(fd, buf, sizeof(buf) - 1, at);
	}
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	while (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	snprintf(out, len, "%s", buf);
}

void kill_vmm(struct ddom *d)
{
	if (d->pidfd >= 0) {
		struct pollfd p = {.fd = d->pidfd, .events = POLLIN};

		syscall(SYS_pidfd_send_signal, d->pidfd, SIGKILL, NULL, 0);
		poll(&p, 1, 2000);
		close(d->pidfd);
		d->pidfd = -1;
	}
}

void api_create(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct daemon *dm = ctx;
	char err[1024], kind[4] = "", dir[4200], sock[4200], tail[600];
	struct httpc_reply r = {0};
	struct ddom *d = NULL, *other;
	json_t *cfg, *out;
	char *text = NULL;
	int status;

	if (!req->body_len) {
		api_error(resp, 400, "send the domain's configuration (JSON or xl.cfg) as the body");
		goto log;
	}
	if (!(cfg = daemon_config(dm, req->body, req->body_len, kind, err, sizeof(err)))) {
		api_error(resp, 400, "%s", err);
		goto log;
	}
	if (!(d = calloc(1, sizeof(*d))) || !(text = json_dumps(cfg, JSON_COMPACT))) {
		api_error(resp, 500, "out of memory");
		json_decref(cfg);
		goto log;
	}
	snprintf(d->name, sizeof(d->name), "%s", json_string_value(json_object_get(cfg, "name")));
	snprintf(d->kind, sizeof(d->kind), "%s", kind);
	d->mem_mib = (unsigned)json_integer_value(json_object_get(cfg, "memory"));
	d->vcpus = (unsigned)json_integer_value(json_object_get(cfg, "vcpus"));
	snprintf(d->on_poweroff, sizeof(d->on_poweroff), "%s",
		 json_string_value(json_object_get(cfg, "on_poweroff")));
	snprintf(d->on_reboot, sizeof(d->on_reboot), "%s",
		 json_string_value(json_object_get(cfg, "on_reboot")));
	snprintf(d->on_crash, sizeof(d->on_crash), "%s",
		 json_string_value(json_object_get(cfg, "on_crash")));
	dom_sched_from_config(d, cfg);
	json_decref(cfg);
	d->state = DS_RUNNING;
	d->exit_status = -1;
	d->pidfd = d->con_in = -1;
	d->created_at = d->started_at = time(NULL);
	make_uuid(d->uuid);

	pthread_mutex_lock(&dm->lock);
	other = dom_find(dm, d->name);
	status = other ? 409 : dm->nr_doms >= DAEMON_MAX_DOMAINS ? 503 : 0;
	pthread_mutex_unlock(&dm->lock);
	if (status == 409) {
		api_error(resp, 409, "name: a domain named %s exists already", d->name);
		goto fail;
	}
	if (status) {
		api_error(resp, 503, "capsuled manages %u domains already (its limit)",
			  DAEMON_MAX_DOMAINS);
		goto fail;
	}
	dom_path(dm, d, NULL, dir, sizeof(dir));
	dom_path(dm, d, "api.sock", sock, sizeof(sock));
	if (mkdir(dir, 0700) < 0 || write_config(dir, text)) {
		api_error(resp, 500, "cannot write the domain's directory %s: %s", dir,
			  strerror(errno));
		goto fail_dir;
	}
	if (spawn_vmm(dm, d, err, sizeof(err))) {
		api_error(resp, 500, "cannot start the VMM: %s", err);
		goto fail_dir;
	}
	/* Running once its API answers: the VMM serves it from the guest's first instruction. */
	status = httpc_request(sock, "GET", "/api/v1/vm.info", NULL, NULL, 0, START_TIMEOUT_MS,
			       &r, err, sizeof(err));
	httpc_reply_free(&r);
	if (status != 200 && proc_start_time(d->pid) == d->pid_start) {
		vmm_log_tail(dm, d, tail, sizeof(tail));
		api_error(resp, 500, "the domain did not start within %d ms: %s%s%s",
			  START_TIMEOUT_MS, err, tail[0] ? ": " : "", tail);
		goto fail_vmm;
	}
	if (status != 200) { /* gone already: it started and ended, or never started */
		char path[4200], rec[256] = "";
		ssize_t n = 0;
		int fd;

		dom_path(dm, d, "exit", path, sizeof(path));
		if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) >= 0) {
			n = read(fd, rec, sizeof(rec) - 1);
			close(fd);
		}
		rec[n > 0 ? n : 0] = 0;
		if (n <= 0 || strstr(rec, "\"reason\": \"error\"")) {
			vmm_log_tail(dm, d, tail, sizeof(tail));
			api_error(resp, 400, "the domain did not start: %s", tail[0] ? tail : err);
			goto fail_vmm;
		}
	}
	pthread_mutex_lock(&dm->lock);
	if (dom_find(dm, d->name)) { /* a create of the same name on another API thread */
		pthread_mutex_unlock(&dm->lock);
		api_error(resp, 409, "name: a domain named %s exists already", d->name);
		goto fail_vmm;
	}
	if (db_begin(dm) || db_insert_domain(dm, d, text) || dom_add(dm, d)) {
		db_rollback(dm);
		pthread_mutex_unlock(&dm->lock);
		api_error(resp, 500, "cannot record the domain in the database");
		goto fail_vmm;
	}
	dom_event_uid(dm, d, req->peer_uid, "created", d->kind);
	dom_event(dm, d, "started", "VMM pid %d", (int)d->pid);
	if (db_commit(dm)) {
		db_rollback(dm);
		dom_forget(dm, d);
		pthread_mutex_unlock(&dm->lock);
		api_error(resp, 500, "cannot record the domain in the database");
		goto fail_vmm;
	}
	if (d->pidfd >= 0)
		monitor_watch(dm, d);
	else
		dom_vmm_ended(dm, d); /* it ended before we could watch it */
	out = dom_json(d, true);
	pthread_mutex_unlock(&dm->lock);
	text = (free(text), json_dumps(out, JSON_COMPACT));
	json_decref(out);
	api_json(resp, 201, text ? text : "{}");
	free(text);
	log_request(req, resp->status);
	return;
fail_vmm:
	kill_vmm(d);
fail_dir:
	remove_dom_dir(dir);
fail:
	free(d);
	free(text);
log:
	log_request(req, resp->status);
}

/* ?stats=1: each live VMM's counters (exits, block and net requests), bounded. */
static void add_stats(json_t *arr, char (*socks)[4200], unsigned n)
{
	uint64_t t0 = monotonic_ns();

	for (unsigned i = 0; i < n; i++) {
		struct httpc_reply r = {0};
		json_t *d = json_array_get(arr, i), *c, *v;
		long long exits = 0, blk = 0, net = 0;
		char err[128];
		size_t k;

		if (!socks[i][0] || monotonic_ns() - t0 > 3000000000ull)
			continue;
		if (httpc_request(socks[i], "GET", "/api/v1/vm.counters", NULL, NULL, 0, 200, &r,
				  err, sizeof(err)) == 200 && (c = json_loads(r.body, 0, NULL))) {
			json_array_foreach(json_object_get(c, "vcpus"), k, v)
				exits += json_integer_value(json_object_get(v, "exits"));
			json_array_foreach(json_object_get(c, "devices"), k, v) {
				const char *name = json_string_value(json_object_get(v, "name"));
				long long req = json_integer_value(json_object_get(v, "requests"));

				if (name && strstr(name, "blk"))
					blk += req;
				else if (name && strstr(name, "net"))
					net += req;
			}
			json_object_set_new(d, "exits", json_integer(exits));
			json_object_set_new(d, "blk_requests", json_integer(blk));
			json_object_set_new(d, "net_requests", json_integer(net));
			/* Accounting (docs/resources.md): bytes as the devices moved them. */
			json_object_set(d, "io", json_object_get(c, "io") ?: json_null());
			json_decref(c);
		}
		httpc_reply_free(&r);
	}
}

void api_list(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct daemon *dm = ctx;
	json_t *arr = json_array(), *out;
	char (*socks)[4200] = NULL, arg[8];
	bool stats = query_get(req->query, "stats", arg, sizeof(arg));
	unsigned n;
	char *text;

	pthread_mutex_lock(&dm->lock);
	n = dm->nr_doms;
	if (stats)
		socks = calloc(n + 1, sizeof(*socks));
	for (unsigned i = 0; i < n; i++) {
		struct ddom *d = dm->doms[i];

		json_t *j = dom_cpu_time(dm, d, dom_json(d, false));
		struct ksm_proc_stat ks;

		/* Pages KSM merged (docs/resources.md): capsule top's SHR column. */
		if (stats && d->pidfd >= 0 && ksm_proc(d->pid, &ks) == 0)
			json_object_set_new(j, "ksm_merging_pages",
					    json_integer((json_int_t)ks.merging_pages));
		json_array_append_new(arr, j);
		if (socks && d->pidfd >= 0 && (d->state == DS_RUNNING || d->state == DS_PAUSED))
			dom_path(dm, d, "api.sock", socks[i], sizeof(socks[i]));
	}
	pthread_mutex_unlock(&dm->lock);
	if (socks)
		add_stats(arr, socks, n);
	free(socks);
	out = json_pack("{s:o}", "domains", arr);
	text = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	api_json(resp, 200, text ? text : "{\"domains\": []}");
	free(text);
}

void api_info(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct daemon *dm = ctx;
	struct httpc_reply r = {0};
	char sock[4200], err[256], *cfgtext, *text, uuid[37];
	pid_t pid;
	json_t *out, *cfg;
	struct ddom *d;
	bool live;

	pthread_mutex_lock(&dm->lock);
	if (!(d = req_domain(dm, req, resp))) {
		pthread_mutex_unlock(&dm->lock);
		return;
	}
	out = dom_cpu_time(dm, d, dom_json(d, true));
	live = d->pidfd >= 0 && d->state != DS_DYING;
	dom_path(dm, d, "api.sock", sock, sizeof(sock));
	snprintf(uuid, sizeof(uuid), "%s", d->uuid);
	pid = d->pid;
	cfgtext = db_domain_config(dm, d->id);
	db_snapshot_fields(dm, d->id, out);
	pthread_mutex_unlock(&dm->lock);
	cfg = cfgtext ? json_loads(cfgtext, 0, NULL) : NULL;
	free(cfgtext);
	json_object_set_new(out, "config", cfg ? cfg : json_null());
	json_object_set_new(out, "api_sock", json_string(sock));
	/* What the VMM says, bounded: a VMM that does not answer is reported, not waited for. */
	if (live && httpc_request(sock, "GET", "/api/v1/vm.info", NULL, NULL, 0, 1000, &r, err,
				  sizeof(err)) == 200) {
		json_t *v = json_loads(r.body, 0, NULL);

		json_object_set_new(out, "vmm", v ? v : json_null());
	} else if (live) {
		json_object_set_new(out, "vmm_error", json_string(err));
	}
	httpc_reply_free(&r);
	if (live)
		dom_accounting(dm, uuid, pid, sock, out); /* sched.c */
	text = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	api_json(resp, 200, text ? text : "{}");
	free(text);
}

void api_daemon_info(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct daemon *dm = ctx;
	json_t *out;
	char *text;

	(void)req;
	pthread_mutex_lock(&dm->lock);
	out = json_pack("{s:s, s:i, s:i, s:I, s:I, s:I, s:s, s:s, s:s, s:i}", "version",
			CAPSULE_VERSION, "pid", (int)getpid(), "domains", (int)dm->nr_doms,
			"rss_kib", (json_int_t)proc_rss_kib(getpid()), "db_domains",
			(json_int_t)db_count(dm, "domains"), "db_events",
			(json_int_t)db_count(dm, "events"), "state_dir", dm->state_dir, "socket",
			dm->socket_path, "vmm", dm->vmm_path, "cgroup", dm->cg.version);
	json_object_set_new(out, "mem_policy", mempolicy_json(dm));
	pthread_mutex_unlock(&dm->lock);
	json_object_set_new(out, "ksm", ksm_host_json(dm));
	text = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	api_json(resp, 200, text ? text : "{}");
	free(text);
}
