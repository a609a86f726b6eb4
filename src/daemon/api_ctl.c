/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pause, unpause, shutdown, reboot, mem-set: forwarded to the domain's VMM (its per-domain
 * API, docs/api.md) with a bounded wait, never under the daemon's lock; the VMM's refusal
 * comes back as it is (status and sentence). destroy ends the VMM at once (SIGKILL through
 * its pidfd, as `xl destroy`) and removes the domain.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "capsule/api.h"
#include "capsule/httpc.h"
#include "daemon.h"

#define DESTROY_WAIT_S 5
#define DUMP_TIMEOUT_MS 600000 /* a core dump writes all of the domain's memory */

void api_forward(struct daemon *dm, const struct http_request *req, struct http_response *resp,
		 enum fwd_need need, const char *path, const char *body, int next,
		 const char *event)
{
	api_forward_fds(dm, req, resp, need, path, body, next, event, NULL, 0);
}

void api_forward_fds(struct daemon *dm, const struct http_request *req,
		     struct http_response *resp, enum fwd_need need, const char *path,
		     const char *body, int next, const char *event, const int *fds,
		     unsigned nfds)
{
	struct httpc_reply r = {0};
	char sock[4200], err[512];
	struct ddom *d;
	int64_t id;
	int status;

	pthread_mutex_lock(&dm->lock);
	if (!(d = req_domain(dm, req, resp)))
		goto unlock;
	if ((need == FWD_RUNNING && d->state != DS_RUNNING) ||
	    (need == FWD_PAUSED && d->state != DS_PAUSED) ||
	    (need == FWD_LIVE && d->state != DS_RUNNING && d->state != DS_PAUSED) ||
	    d->pidfd < 0) {
		api_error(resp, 409, "domain %s is %s", d->name, dstate_name(d->state));
		goto unlock;
	}
	id = d->id;
	dom_path(dm, d, "api.sock", sock, sizeof(sock));
	pthread_mutex_unlock(&dm->lock);

	status = httpc_request_fds(sock, "PUT", path, NULL, body, body ? strlen(body) : 0, fds,
				   nfds, nfds ? DUMP_TIMEOUT_MS : VMM_TIMEOUT_MS, &r, err,
				   sizeof(err));
	if (status < 0) {
		api_error(resp, status == -ETIMEDOUT ? 504 : 502, "the domain's VMM does not "
			  "answer: %s", err);
		goto out;
	}
	if (status >= 300) {
		api_error(resp, status, "%s", httpc_error_text(r.body, err, sizeof(err)));
		goto out;
	}
	pthread_mutex_lock(&dm->lock);
	if ((d = dom_find_id(dm, id))) {
		if (next >= 0 && (d->state == DS_RUNNING || d->state == DS_PAUSED)) {
			d->state = (enum dstate)next;
			db_update_domain(dm, d);
		}
		if (event)
			dom_event_uid(dm, d, req->peer_uid, event, body ? body : "");
	}
	pthread_mutex_unlock(&dm->lock);
	api_json(resp, 200, r.body && r.len ? r.body : "{}");
out:
	httpc_reply_free(&r);
	log_request(req, resp->status);
	return;
unlock:
	pthread_mutex_unlock(&dm->lock);
	log_request(req, resp->status);
}

void api_pause(void *ctx, const struct http_request *req, struct http_response *resp)
{
	api_forward(ctx, req, resp, FWD_RUNNING, "/api/v1/vm.pause", NULL, DS_PAUSED, "paused");
}

void api_unpause(void *ctx, const struct http_request *req, struct http_response *resp)
{
	api_forward(ctx, req, resp, FWD_PAUSED, "/api/v1/vm.resume", NULL, DS_RUNNING, "resumed");
}

void api_reboot(void *ctx, const struct http_request *req, struct http_response *resp)
{
	api_forward(ctx, req, resp, FWD_LIVE, "/api/v1/vm.reboot", NULL, -1, "reboot-requested");
}

static bool body_number(const struct http_request *req, const char *key, long long min,
			long long max, long long *out, struct http_response *resp)
{
	json_t *j = req->body_len ? json_loadb(req->body, req->body_len, 0, NULL) : NULL;
	json_t *v = json_object_get(j, key);
	bool ok = json_is_integer(v) && json_integer_value(v) >= min &&
		  json_integer_value(v) <= max;

	if (ok)
		*out = json_integer_value(v);
	else
		api_error(resp, 400, "%s: a whole number from %lld to %lld", key, min, max);
	json_decref(j);
	return ok;
}

void api_shutdown(void *ctx, const struct http_request *req, struct http_response *resp)
{
	long long grace = 30;
	char body[64];

	if (req->body_len && !body_number(req, "grace_s", 0, 3600, &grace, resp)) {
		log_request(req, resp->status);
		return;
	}
	snprintf(body, sizeof(body), "{\"grace_s\": %lld}", grace);
	api_forward(ctx, req, resp, FWD_LIVE, "/api/v1/vm.shutdown", body, -1,
		"shutdown-requested");
}

void api_memset(void *ctx, const struct http_request *req, struct http_response *resp)
{
	long long mib;
	char body[64];

	if (!body_number(req, "target_mib", 0, 1 << 20, &mib, resp)) {
		log_request(req, resp->status);
		return;
	}
	snprintf(body, sizeof(body), "{\"target_mib\": %lld}", mib);
	api_forward(ctx, req, resp, FWD_LIVE, "/api/v1/vm.balloon", body, -1, "mem-set");
}

/*
 * Introspection (docs/introspection.md): the client's JSON object goes to the VMM as it
 * is (the VMM checks it), up to 4 KiB; the domain must be running or paused.
 */
void api_introspect(void *ctx, const struct http_request *req, struct http_response *resp)
{
	static const struct { const char *from, *to; } map[] = {
		{"/api/v1/domain.memory", "/api/v1/vm.memory"},
		{"/api/v1/domain.registers", "/api/v1/vm.registers"},
		{"/api/v1/domain.translate", "/api/v1/vm.translate"},
		{"/api/v1/domain.regions", "/api/v1/vm.regions"},
		{"/api/v1/domain.watch", "/api/v1/vm.watch"},
		{"/api/v1/domain.watch-rearm", "/api/v1/vm.watch-rearm"},
		{"/api/v1/domain.watch-remove", "/api/v1/vm.watch-remove"},
	};
	char body[4097];

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(req->path, map[i].from))
			continue;
		if (req->body_len >= sizeof(body) || memchr(req->body, 0, req->body_len)) {
			api_error(resp, 400, "the body must be a JSON object of at most 4 KiB");
			log_request(req, resp->status);
			return;
		}
		memcpy(body, req->body, req->body_len);
		body[req->body_len] = 0;
		if (strstr(map[i].to, "vm.watch") && !strstr(map[i].to, "remove"))
			watch_relay_ensure(ctx, req); /* before the watch exists: none is missed */
		api_forward(ctx, req, resp, FWD_LIVE, map[i].to, body, -1,
			strstr(map[i].to, "watch") ? "watch" : NULL);
		return;
	}
	api_error(resp, 404, "no such introspection call");
	log_request(req, resp->status);
}

/* dump-core: the client passes the core file (SCM_RIGHTS), the VMM writes it. */
void api_dump_core(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct stat st;

	if (req->nr_fds != 1 || fstat(req->fds[0], &st) < 0 || !S_ISREG(st.st_mode)) {
		api_error(resp, 400, "pass the core file, a regular file open for writing, as one "
			  "descriptor (SCM_RIGHTS): capsule dump-core NAME FILE");
		log_request(req, resp->status);
		return;
	}
	api_forward_fds(ctx, req, resp, FWD_LIVE, "/api/v1/vm.dump-core", "{}", -1, "dump-core",
			req->fds, 1);
}

void api_destroy(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct daemon *dm = ctx;
	struct timespec until;
	char name[64];
	struct ddom *d;
	int64_t id;

	pthread_mutex_lock(&dm->lock);
	if (!(d = req_domain(dm, req, resp)))
		goto out;
	id = d->id;
	snprintf(name, sizeof(name), "%s", d->name);
	dom_event_uid(dm, d, req->peer_uid, "destroyed", "");
	if (d->pidfd < 0) {
		dom_remove(dm, d);
	} else {
		d->state = DS_DYING;
		db_update_domain(dm, d);
		syscall(SYS_pidfd_send_signal, d->pidfd, SIGKILL, NULL, 0);
		/* The monitor removes it when the VMM is gone: milliseconds. */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += DESTROY_WAIT_S;
		while (dom_find_id(dm, id) &&
		       pthread_cond_timedwait(&dm->changed, &dm->lock, &until) != ETIMEDOUT)
			;
	}
	if (dom_find_id(dm, id))
		api_json(resp, 202, "{\"destroyed\": false, \"state\": \"dying\"}");
	else
		api_json(resp, 200, "{\"destroyed\": true}");
out:
	pthread_mutex_unlock(&dm->lock);
	log_request(req, resp->status);
}
