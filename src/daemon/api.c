/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capsuled's REST API (docs/capsuled.md, docs/api/openapi.json) on the project's HTTP
 * server, unconfined (its handlers open files and start VMMs). Access control at accept:
 * root, or a member of the capsule group, by the connection's SO_PEERCRED and
 * SO_PEERGROUPS; anyone else gets 403 on every request. Domains are named in the query,
 * ?domain=NAME|ID|UUID, so that the routes stay exact paths.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capsule/api.h"
#include "daemon.h"

static const struct api_route routes[] = {
	{"GET", "/api/v1/daemon.info", api_daemon_info},
	{"GET", "/api/v1/domains", api_list},
	{"POST", "/api/v1/domains", api_create},
	{"GET", "/api/v1/domain.info", api_info},
	{"GET", "/api/v1/domain.attest", api_attest},
	{"GET", "/api/v1/daemon.attest-key", api_attest_key},
	{"PUT", "/api/v1/domain.pause", api_pause},
	{"PUT", "/api/v1/domain.unpause", api_unpause},
	{"PUT", "/api/v1/domain.shutdown", api_shutdown},
	{"PUT", "/api/v1/domain.reboot", api_reboot},
	{"PUT", "/api/v1/domain.destroy", api_destroy},
	{"PUT", "/api/v1/domain.mem-set", api_memset},
	{"PUT", "/api/v1/domain.memory", api_introspect},
	{"PUT", "/api/v1/domain.registers", api_introspect},
	{"PUT", "/api/v1/domain.translate", api_introspect},
	{"PUT", "/api/v1/domain.regions", api_introspect},
	{"PUT", "/api/v1/domain.watch", api_introspect},
	{"PUT", "/api/v1/domain.watch-rearm", api_introspect},
	{"PUT", "/api/v1/domain.watch-remove", api_introspect},
	{"PUT", "/api/v1/domain.dump-core", api_dump_core},
	{"PUT", "/api/v1/domain.save", api_save},
	{"PUT", "/api/v1/domain.snapshot", api_snapshot},
	{"POST", "/api/v1/domain.restore", api_restore},
	{"POST", "/api/v1/domain.clone", api_clone},
	{"POST", "/api/v1/domain.migrate", api_migrate},
	{"PUT", "/api/v1/domain.migrate-abort", api_migrate_abort},
	{"GET", "/api/v1/domain.console", api_console},
	{"POST", "/api/v1/domain.console", api_console_input},
	{"GET", "/api/v1/domain.log", api_log},
	{"GET", "/api/v1/sched", api_sched_get},
	{"PUT", "/api/v1/domain.sched", api_sched_put},
	{"GET", "/api/v1/domain.vcpus", api_vcpus},
	{"PUT", "/api/v1/domain.vcpu-pin", api_vcpu_pin},
	{"GET", "/api/v1/events", api_events},
	{"GET", "/metrics", api_metrics},
};

static int admit(void *ctx, int fd, char *why, size_t whylen)
{
	struct daemon *dm = ctx;
	struct ucred uc;
	socklen_t len = sizeof(uc);
	gid_t groups[256];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
		snprintf(why, whylen, "permission denied: the client's credentials are unknown");
		return 403;
	}
	if (uc.uid == 0)
		return 0;
	if (dm->group != (gid_t)-1) {
		if (uc.gid == dm->group)
			return 0;
		len = sizeof(groups);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
			for (size_t i = 0; i < len / sizeof(gid_t); i++)
				if (groups[i] == dm->group)
					return 0;
	}
	fprintf(stderr, "capsuled: refused a client: uid %u, pid %d (not root, not in the "
		"capsule group)\n", (unsigned)uc.uid, (int)uc.pid);
	snprintf(why, whylen, "permission denied: uid %u is neither root nor in the capsule "
		 "group (ask an administrator: usermod -aG capsule USER)", (unsigned)uc.uid);
	return 403;
}

const struct api_route *daemon_routes(size_t *n)
{
	*n = sizeof(routes) / sizeof(routes[0]);
	return routes;
}

/*
 * API_THREADS servers accept on the one socket, each on a thread of its own: a handler
 * waits for a VMM (up to VMM_TIMEOUT_MS, or a create's start), and one VMM that stopped
 * answering must not stop every other client with it.
 */
int daemon_api_start(struct daemon *dm, int listen_fd)
{
	struct api_server *s[API_THREADS];
	char name[16];
	int rc = 0;
	unsigned n;

	for (n = 0; n < API_THREADS; n++) {
		struct api_options o = {.thread_name = name, .unconfined = true, .admit = admit};

		snprintf(name, sizeof(name), "capsuled-api%u", n);
		if ((rc = api_server_start_opts(&s[n], listen_fd, routes,
						sizeof(routes) / sizeof(routes[0]), dm, &o)))
			break;
	}
	pthread_mutex_lock(&dm->lock);
	memcpy(dm->servers, s, n * sizeof(s[0]));
	dm->nr_servers = n;
	pthread_mutex_unlock(&dm->lock);
	return rc;
}

void daemon_api_stop(struct daemon *dm)
{
	struct api_server *s[API_THREADS];
	unsigned n;

	pthread_mutex_lock(&dm->lock);
	n = dm->nr_servers;
	memcpy(s, dm->servers, n * sizeof(s[0]));
	dm->nr_servers = 0;
	pthread_mutex_unlock(&dm->lock);
	for (unsigned i = 0; i < n; i++)
		api_server_stop(s[i]);
}

void streams_send(struct daemon *dm, uint64_t topic, const char *line)
{
	for (unsigned i = 0; i < dm->nr_servers; i++)
		api_stream_send_topic(dm->servers[i], topic, line);
}

unsigned streams_watchers(struct daemon *dm, uint64_t topic)
{
	unsigned n = 0;

	for (unsigned i = 0; i < dm->nr_servers; i++)
		n += api_stream_watchers(dm->servers[i], topic);
	return n;
}

bool query_get(const char *query, const char *key, char *out, size_t len)
{
	size_t k = strlen(key);

	for (const char *p = query; p && *p;) {
		const char *end = strchr(p, '&');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n > k && !strncmp(p, key, k) && p[k] == '=') {
			if (n - k - 1 >= len)
				return false;
			memcpy(out, p + k + 1, n - k - 1);
			out[n - k - 1] = 0;
			return true;
		}
		if (n == k && !strncmp(p, key, k)) {
			out[0] = 0;
			return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

struct ddom *req_domain(struct daemon *dm, const struct http_request *req,
			struct http_response *resp)
{
	char key[128];
	struct ddom *d;

	if (!query_get(req->query, "domain", key, sizeof(key)) || !key[0]) {
		api_error(resp, 400, "name the domain: ?domain=NAME, ID or UUID");
		return NULL;
	}
	if (strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
	    strlen(key)) {
		api_error(resp, 400, "domain: not a name, id or UUID");
		return NULL;
	}
	if (!(d = dom_find(dm, key)))
		api_error(resp, 404, "no domain %s", key);
	return d;
}

void log_request(const struct http_request *req, int status)
{
	fprintf(stderr, "capsuled: uid %u pid %d: %s %s%s%s -> %d\n", (unsigned)req->peer_uid,
		(int)req->peer_pid, req->method, req->path, req->query[0] ? "?" : "", req->query,
		status);
}
