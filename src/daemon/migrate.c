/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `capsule migrate NAME HOST[:PORT]` through capsuled (docs/migration.md, "Through
 * capsuled"). The source capsuled connects to the destination capsuled's migration
 * listener (--migrate-listen), mutually authenticated TLS with --migrate-tls DIR unless
 * the request says insecure, and sends a header: the domain's name and configuration. The
 * destination checks them as a create is checked (paths on the shared storage, the name
 * free), answers, starts `capsule run --insecure --incoming fd=4` on one end of a
 * socketpair and relays the stream to it; the source relays its VMM's stream the same way
 * (PUT /api/v1/vm.migrate with the other end of its own socketpair). The relays see where
 * the migration stands (include/capsule/relay.h): the destination records the domain only
 * once the source's go went through to its VMM, the source drops it only once its VMM
 * says it migrated; anything before leaves the source running and listed and nothing at
 * the destination. An abort (PUT domain.migrate-abort) stops the source's relay if the
 * destination has not answered yet.
 *
 * The header, each way: u32 length (little-endian, at most MIG_HEADER_MAX), then JSON:
 * to the destination {"capsule_migrate": 1, "name": N, "config": "{...}"}, back
 * {"ok": true} or {"error": "why"}.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "capsule/api.h"
#include "capsule/httpc.h"
#include "capsule/migrate.h"
#include "capsule/relay.h"
#include "capsule/tls.h"
#include "daemon.h"

#define MIG_HEADER_MAX (256u << 10)
#define MIGRATE_TIMEOUT_MS 600000 /* the VMM's migration: rounds bounded by its limits */
#define START_TIMEOUT_MS 10000

struct conn {
	int fd;
	struct tls_conn *tls;
};

static int conn_write(struct conn *c, const void *b, size_t n)
{
	return c->tls ? tls_write_all(c->tls, b, n) : relay_write_all(c->fd, b, n);
}

static int conn_read(struct conn *c, void *b, size_t n)
{
	char *p = b;

	while (n) {
		ssize_t k = c->tls ? tls_read(c->tls, p, n) : read(c->fd, p, n);

		if (k < 0 && (errno == EINTR || (c->tls && errno == EAGAIN)))
			continue;
		if (k <= 0)
			return -1;
		p += k, n -= (size_t)k;
	}
	return 0;
}

static int send_header(struct conn *c, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);
	uint32_t len = text ? (uint32_t)strlen(text) : 0;
	int rc = text && conn_write(c, &len, 4) == 0 && conn_write(c, text, len) == 0 ? 0 : -1;

	free(text);
	json_decref(j);
	return rc;
}

static json_t *read_header(struct conn *c)
{
	uint32_t len;
	char *buf;
	json_t *j = NULL;

	if (conn_read(c, &len, 4) || !len || len > MIG_HEADER_MAX || !(buf = malloc(len)))
		return NULL;
	if (!conn_read(c, buf, len))
		j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	free(buf);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

static void timeouts(int fd, int s)
{
	struct timeval tv = {.tv_sec = s};

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
}

static void peer_name(const struct sockaddr_storage *sa, char *out, size_t len)
{
	if (sa->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
	else if (sa->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)len);
}

/* ---- the destination ---- */

static void refuse(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refuse(struct conn *c, const char *fmt, ...)
{
	char why[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	fprintf(stderr, "capsuled: incoming migration refused: %s\n", why);
	send_header(c, json_pack("{s:s}", "error", why));
}

/* The new domain's record, directory and configuration, as a create makes them. */
static struct ddom *incoming_domain(struct daemon *dm, json_t *checked, const char *kind,
				    char *dir, size_t dirlen, char **text)
{
	struct ddom *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	dom_from_config(d, checked, kind);
	dom_path(dm, d, NULL, dir, dirlen);
	*text = json_dumps(checked, JSON_COMPACT);
	if (!*text || mkdir(dir, 0700) < 0 || write_config(dir, *text)) {
		free(*text);
		*text = NULL;
		free(d);
		return NULL;
	}
	return d;
}

/* The VMM answers its API: the domain runs. */
static bool vmm_answers(struct daemon *dm, struct ddom *d)
{
	struct httpc_reply r = {0};
	char sock[4200], err[256];
	int status;

	dom_path(dm, d, "api.sock", sock, sizeof(sock));
	status = httpc_request(sock, "GET", "/api/v1/vm.info", NULL, NULL, 0, START_TIMEOUT_MS,
			       &r, err, sizeof(err));
	httpc_reply_free(&r);
	return status == 200;
}

/* Record the domain that now runs here: all or nothing. */
static int record(struct daemon *dm, struct ddom *d, const char *text, const char *from)
{
	int rc = -1;

	pthread_mutex_lock(&dm->lock);
	if (!dom_find(dm, d->name) && dm->nr_doms < DAEMON_MAX_DOMAINS && !db_begin(dm)) {
		if (db_insert_domain(dm, d, text) || dom_add(dm, d) || db_commit(dm)) {
			dom_forget(dm, d);
			db_rollback(dm);
		} else {
			rc = 0;
			dom_event(dm, d, "created", "%s", d->kind);
			dom_event(dm, d, "migrated-in", "from %s; VMM pid %d", from, (int)d->pid);
			monitor_watch(dm, d);
		}
	}
	pthread_mutex_unlock(&dm->lock);
	return rc;
}

static void incoming(struct daemon *dm, struct conn *c, const char *from)
{
	char kind[4] = "", err[1024] = "", dir[4200];
	struct relay rl = {.vmm = -1, .abort_fd = -1, .answer_from_vmm = true};
	const char *name, *cfg;
	struct spawn_restore sr = {.mem_fd = -1, .incoming_fd = -1};
	json_t *h = read_header(c), *checked = NULL;
	struct ddom *d = NULL;
	char *text = NULL;
	int pair[2] = {-1, -1}, slot = -1;
	bool exists, ok = false;

	name = json_string_value(json_object_get(h, "name"));
	cfg = json_string_value(json_object_get(h, "config"));
	if (!h || json_integer_value(json_object_get(h, "capsule_migrate")) != 1 || !name ||
	    !cfg) {
		refuse(c, "not a capsuled migration header");
		goto out;
	}
	checked = daemon_config(dm, cfg, strlen(cfg), kind, err, sizeof(err));
	if (!checked) {
		refuse(c, "the domain's configuration is refused here: %s", err);
		goto out;
	}
	if (strcmp(json_string_value(json_object_get(checked, "name")), name)) {
		refuse(c, "the header's name and the configuration's differ");
		goto out;
	}
	/* The name is taken from here on: two sources cannot both bring one. */
	pthread_mutex_lock(&dm->lock);
	exists = dom_find(dm, name) != NULL;
	for (unsigned i = 0; i < MIGRATE_IN_MAX && !exists; i++)
		exists = !strcmp(dm->migrate_in_names[i], name);
	for (unsigned i = 0; i < MIGRATE_IN_MAX && !exists && slot < 0; i++)
		if (!dm->migrate_in_names[i][0])
			slot = (int)i;
	if (slot >= 0)
		snprintf(dm->migrate_in_names[slot], sizeof(dm->migrate_in_names[0]), "%s", name);
	pthread_mutex_unlock(&dm->lock);
	if (exists || slot < 0) {
		refuse(c, "a domain named %s exists here already", name);
		goto out;
	}
	if (!(d = incoming_domain(dm, checked, kind, dir, sizeof(dir), &text))) {
		refuse(c, "cannot make the domain's directory here: %s", strerror(errno));
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
		refuse(c, "cannot make a socketpair: %s", strerror(errno));
		goto out;
	}
	sr.incoming_fd = pair[1];
	if (spawn_vmm_restore(dm, d, &sr, err, sizeof(err))) {
		refuse(c, "cannot start the VMM: %s", err);
		goto out;
	}
	close(pair[1]);
	pair[1] = -1;
	if (send_header(c, json_pack("{s:b}", "ok", 1)))
		goto out;
	rl.vmm = pair[0];
	rl.net = c->fd;
	rl.tls = c->tls;
	if (relay_start(&rl))
		goto out;
	relay_join(&rl);
	/* Only a go that went through makes the domain ours: before it the source keeps it
	 * (its VMM exits without running anything). */
	if (!relay_committed(&rl) || !vmm_answers(dm, d)) {
		fprintf(stderr, "capsuled: incoming migration of %s from %s did not complete; "
			"nothing kept\n", name, from);
		goto out;
	}
	if (record(dm, d, text, from)) {
		fprintf(stderr, "capsuled: cannot record the migrated domain %s; it is destroyed\n",
			name);
		goto out;
	}
	fprintf(stderr, "capsuled: domain %s migrated in from %s\n", name, from);
	ok = true;
out:
	if (!ok && d) {
		if (d->pidfd >= 0)
			kill_vmm(d);
		remove_dom_dir(dir);
		free(d);
	}
	for (int i = 0; i < 2; i++)
		if (pair[i] >= 0)
			close(pair[i]);
	if (slot >= 0) {
		pthread_mutex_lock(&dm->lock);
		dm->migrate_in_names[slot][0] = 0;
		pthread_mutex_unlock(&dm->lock);
	}
	free(text);
	json_decref(checked);
	json_decref(h);
}

struct worker {
	struct daemon *dm;
	int fd;
	char from[64];
};

/* One incoming connection, on a thread of its own: a peer that connects and says nothing
 * holds its thread for the 10 s handshake limit, not the listener. */
static void *worker(void *arg)
{
	struct worker *w = arg;
	struct conn c = {.fd = w->fd};
	char err[512];

	if (w->dm->migrate_tls && tls_connect(c.fd, w->dm->migrate_tls, true, &c.tls, err,
					      sizeof(err)))
		fprintf(stderr, "capsuled: migration from %s refused: %s\n", w->from, err);
	else
		incoming(w->dm, &c, w->from);
	tls_close(c.tls);
	close(c.fd);
	pthread_mutex_lock(&w->dm->lock);
	w->dm->migrate_in_active--;
	pthread_mutex_unlock(&w->dm->lock);
	free(w);
	return NULL;
}

static void *listener(void *arg)
{
	struct daemon *dm = arg;

	for (;;) {
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		int fd = accept4(dm->migrate_fd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
		struct worker *w;
		pthread_t t;
		bool room;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break; /* shut down: capsuled stops */
		}
		timeouts(fd, 10);
		pthread_mutex_lock(&dm->lock);
		room = dm->migrate_in_active < MIGRATE_IN_MAX;
		dm->migrate_in_active += room;
		pthread_mutex_unlock(&dm->lock);
		if (!room || !(w = calloc(1, sizeof(*w)))) {
			fprintf(stderr, "capsuled: a migration connection refused: %u at once "
				"already\n", MIGRATE_IN_MAX);
			close(fd);
			if (room) {
				pthread_mutex_lock(&dm->lock);
				dm->migrate_in_active--;
				pthread_mutex_unlock(&dm->lock);
			}
			continue;
		}
		w->dm = dm;
		w->fd = fd;
		snprintf(w->from, sizeof(w->from), "?");
		peer_name(&peer, w->from, sizeof(w->from));
		if (pthread_create(&t, NULL, worker, w)) {
			close(fd);
			free(w);
			pthread_mutex_lock(&dm->lock);
			dm->migrate_in_active--;
			pthread_mutex_unlock(&dm->lock);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

int migrate_listen_start(struct daemon *dm, const char *spec, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	socklen_t sl;
	int one = 1;

	dm->migrate_fd = -1;
	if (!spec)
		return 0;
	if (migrate_parse_addr(spec, &sa, &sl)) {
		snprintf(err, errlen, "--migrate-listen %s: give ADDR:PORT, numeric", spec);
		return -1;
	}
	if (!dm->migrate_tls && !dm->migrate_insecure) {
		snprintf(err, errlen, "--migrate-listen: give --migrate-tls DIR (mutually "
			 "authenticated) or --migrate-insecure (plain TCP)");
		return -1;
	}
	dm->migrate_fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (dm->migrate_fd < 0 ||
	    setsockopt(dm->migrate_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(dm->migrate_fd, (struct sockaddr *)&sa, sl) < 0 || listen(dm->migrate_fd, 4) < 0 ||
	    (errno = pthread_create(&dm->migrate_thread, NULL, listener, dm))) {
		snprintf(err, errlen, "--migrate-listen %s: %s", spec, strerror(errno));
		if (dm->migrate_fd >= 0)
			close(dm->migrate_fd);
		dm->migrate_fd = -1;
		return -1;
	}
	fprintf(stderr, "capsuled: migrations in on %s (%s)\n", spec,
		dm->migrate_tls ? "TLS" : "plain TCP");
	return 0;
}

void migrate_listen_stop(struct daemon *dm)
{
	bool busy = true;

	if (dm->migrate_fd < 0)
		return;
	shutdown(dm->migrate_fd, SHUT_RDWR); /* accept returns: the thread ends */
	pthread_join(dm->migrate_thread, NULL);
	/* Incoming migrations record into the table and the database: let them finish (a
	 * stalled one gives up within its 15 s of silence). */
	for (int i = 0; i < 400 && busy; i++) {
		pthread_mutex_lock(&dm->lock);
		busy = dm->migrate_in_active > 0;
		pthread_mutex_unlock(&dm->lock);
		if (busy)
			usleep(50000);
	}
	close(dm->migrate_fd);
	dm->migrate_fd = -1;
}

/* ---- the source ---- */

struct outgoing {
	char dest[128], sock[4200], name[64];
	int64_t id;
	char *config;
	bool insecure;
	char vbody[256];
};

/* Connect, authenticate, and have the destination accept the domain: 0 or -1 with err. */
static int dial(struct daemon *dm, struct outgoing *o, struct conn *c, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	socklen_t sl;
	json_t *h;
	int rc = -1;

	if (migrate_parse_addr(o->dest, &sa, &sl)) {
		snprintf(err, errlen, "dest: HOST:PORT, numeric ([ADDR]:PORT for IPv6): %s", o->dest);
		return -1;
	}
	c->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || (timeouts(c->fd, 10), connect(c->fd, (struct sockaddr *)&sa, sl) < 0)) {
		snprintf(err, errlen, "cannot connect to %s: %s", o->dest, strerror(errno));
		return -1;
	}
	if (!o->insecure && tls_connect(c->fd, dm->migrate_tls, false, &c->tls, err, errlen))
		return -1;
	if (send_header(c, json_pack("{s:i, s:s, s:s}", "capsule_migrate", 1, "name", o->name,
				     "config", o->config))) {
		snprintf(err, errlen, "cannot send to %s: %s", o->dest, strerror(errno));
		return -1;
	}
	if (!(h = read_header(c)))
		snprintf(err, errlen, "%s did not answer as a capsuled does", o->dest);
	else if (!json_is_true(json_object_get(h, "ok")))
		snprintf(err, errlen, "%s refused: %s", o->dest,
			 json_string_value(json_object_get(h, "error")) ?: "(no reason)");
	else
		rc = 0;
	json_decref(h);
	return rc;
}

/* The VMM's migration events (its vm.events stream, opened before the migration, which
 * holds the VMM's API thread) as capsuled's: migration-progress, one per round. */
struct progress {
	struct daemon *dm;
	int64_t id;
	int fd;
	pthread_t thread;
};

static void *relay_progress(void *arg)
{
	struct progress *p = arg;
	char buf[8192];
	size_t have = 0;

	for (;;) {
		ssize_t k = read(p->fd, buf + have, sizeof(buf) - 1 - have);
		char *nl;

		if (k <= 0)
			break;
		have += (size_t)k;
		buf[have] = 0;
		while ((nl = strchr(buf, '\n'))) {
			struct ddom *d;

			*nl = 0;
			if (strstr(buf, "\"event\":\"migration\"")) {
				pthread_mutex_lock(&p->dm->lock);
				if ((d = dom_find_id(p->dm, p->id)))
					dom_event(p->dm, d, "migration-progress", "%s", buf);
				pthread_mutex_unlock(&p->dm->lock);
			}
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have + 1);
		}
		if (have == sizeof(buf) - 1) /* a line longer than any event: drop it */
			have = 0;
	}
	return NULL;
}

static void progress_start(struct daemon *dm, struct outgoing *o, struct progress *p)
{
	char err[256];

	p->dm = dm;
	p->id = o->id;
	p->fd = httpc_stream(o->sock, "/api/v1/vm.events", VMM_TIMEOUT_MS, err, sizeof(err));
	if (p->fd >= 0 && pthread_create(&p->thread, NULL, relay_progress, p)) {
		close(p->fd);
		p->fd = -1;
	}
	if (p->fd < 0)
		fprintf(stderr, "capsuled: domain %s: no migration progress: %s\n", o->name, err);
}

static void progress_stop(struct progress *p)
{
	if (p->fd < 0)
		return;
	/* The VMM handed every event to the stream before it answered; read what is left. */
	shutdown(p->fd, SHUT_WR);
	usleep(100000);
	shutdown(p->fd, SHUT_RDWR);
	pthread_join(p->thread, NULL);
	close(p->fd);
}

/* The domain migrated: it is the destination's, and its record goes here. */
static void drop(struct daemon *dm, int64_t id, const char *detail)
{
	struct ddom *d;

	pthread_mutex_lock(&dm->lock);
	if ((d = dom_find_id(dm, id))) {
		d->migrating = NULL;
		dom_event(dm, d, "migrated", "%s", detail);
		if (d->pidfd < 0) {
			dom_remove(dm, d);
		} else { /* the monitor removes it when its VMM, done, is gone */
			d->state = DS_DYING;
			db_update_domain(dm, d);
		}
	}
	pthread_mutex_unlock(&dm->lock);
}

static void set_migrating(struct daemon *dm, int64_t id, struct relay *r, const char *event,
			  const char *detail)
{
	struct ddom *d;

	pthread_mutex_lock(&dm->lock);
	if ((d = dom_find_id(dm, id))) {
		d->migrating = r;
		dom_event(dm, d, event, "%s", detail);
	}
	pthread_mutex_unlock(&dm->lock);
}

static int parse_out(struct daemon *dm, const struct http_request *req,
		     struct http_response *resp, struct outgoing *o)
{
	json_error_t e;
	json_t *j = json_loadb(req->body ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES,
			       &e), *v;
	const char *key;
	int64_t downtime = 50, rounds = 30;
	bool converge = false, postcopy = false;

	if (!json_is_object(j)) {
		api_error(resp, 400, "the body must be a JSON object: {\"dest\": \"HOST:PORT\", "
			  "\"insecure\": false, \"downtime_ms\": 50, \"max_rounds\": 30, "
			  "\"auto_converge\": false}");
		json_decref(j);
		return -1;
	}
	json_object_foreach(j, key, v) {
		if (!strcmp(key, "dest") && json_is_string(v) && strlen(json_string_value(v)) <
		    sizeof(o->dest))
			snprintf(o->dest, sizeof(o->dest), "%s", json_string_value(v));
		else if (!strcmp(key, "insecure") && json_is_boolean(v))
			o->insecure = json_is_true(v);
		else if (!strcmp(key, "auto_converge") && json_is_boolean(v))
			converge = json_is_true(v);
		else if (!strcmp(key, "postcopy") && json_is_boolean(v))
			postcopy = json_is_true(v);
		else if (!strcmp(key, "downtime_ms") && json_is_integer(v) &&
			 json_integer_value(v) >= 1 && json_integer_value(v) <= 60000)
			downtime = json_integer_value(v);
		else if (!strcmp(key, "max_rounds") && json_is_integer(v) &&
			 json_integer_value(v) >= 1 && json_integer_value(v) <= 1000)
			rounds = json_integer_value(v);
		else {
			api_error(resp, 400, "bad field \"%s\" (dest: \"HOST:PORT\", insecure, "
				  "auto_converge and postcopy: booleans, downtime_ms: 1 to 60000, max_rounds: 1 "
				  "to 1000)", key);
			json_decref(j);
			return -1;
		}
	}
	json_decref(j);
	if (!o->dest[0]) {
		api_error(resp, 400, "dest: the destination capsuled's HOST:PORT is needed");
		return -1;
	}
	if (!o->insecure && !dm->migrate_tls) {
		api_error(resp, 400, "this capsuled has no --migrate-tls DIR: give one, or ask for "
			  "plain TCP with \"insecure\": true");
		return -1;
	}
	snprintf(o->vbody, sizeof(o->vbody), "{\"dest\": \"%s\", \"downtime_ms\": %lld, "
		 "\"max_rounds\": %lld, \"auto_converge\": %s, \"postcopy\": %s}", o->dest,
		 (long long)downtime, (long long)rounds, converge ? "true" : "false",
		 postcopy ? "true" : "false");
	return 0;
}

void api_migrate(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct daemon *dm = ctx;
	struct outgoing o = {0};
	struct conn c = {.fd = -1};
	struct relay rl = {.vmm = -1, .abort_fd = -1};
	struct progress pg = {.fd = -1};
	struct httpc_reply r = {0};
	char err[1024], msg[600];
	int pair[2] = {-1, -1}, status;
	struct ddom *d;

	if (parse_out(dm, req, resp, &o))
		goto log;
	pthread_mutex_lock(&dm->lock);
	if (!(d = req_domain(dm, req, resp))) {
		pthread_mutex_unlock(&dm->lock);
		goto log;
	}
	if ((d->state != DS_RUNNING && d->state != DS_PAUSED) || d->pidfd < 0 || d->migrating) {
		api_error(resp, 409, "domain %s is %s", d->name,
			  d->migrating ? "migrating already" : dstate_name(d->state));
		pthread_mutex_unlock(&dm->lock);
		goto log;
	}
	o.id = d->id;
	snprintf(o.name, sizeof(o.name), "%s", d->name);
	dom_path(dm, d, "api.sock", o.sock, sizeof(o.sock));
	o.config = db_domain_config(dm, d->id);
	d->migrating = &rl; /* taken: a second migrate is refused; abort waits for the relay */
	pthread_mutex_unlock(&dm->lock);
	if (!o.config) {
		api_error(resp, 500, "cannot read the domain's configuration");
		goto out;
	}
	if (dial(dm, &o, &c, err, sizeof(err))) {
		api_error(resp, 502, "%s; domain %s runs on here", err, o.name);
		goto out;
	}
	rl.net = c.fd;
	rl.tls = c.tls;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0 ||
	    (rl.vmm = pair[0], relay_start(&rl))) {
		rl.vmm = -1;
		api_error(resp, 500, "cannot relay: %s", strerror(errno));
		goto out;
	}
	set_migrating(dm, o.id, &rl, "migrating", o.dest);
	progress_start(dm, &o, &pg);
	status = httpc_request_fds(o.sock, "PUT", "/api/v1/vm.migrate", NULL, o.vbody,
				   strlen(o.vbody), &pair[1], 1, MIGRATE_TIMEOUT_MS, &r, err,
				   sizeof(err));
	progress_stop(&pg);
	close(pair[1]);
	pair[1] = -1;
	pthread_mutex_lock(&dm->lock); /* no abort reaches the relay once it is joined */
	if ((d = dom_find_id(dm, o.id)) && d->migrating == &rl)
		d->migrating = NULL;
	pthread_mutex_unlock(&dm->lock);
	relay_join(&rl);
	rl.vmm = -1;
	if (status == 200) {
		drop(dm, o.id, r.body ? r.body : o.dest);
		api_json(resp, 200, r.body ? r.body : "{}");
		goto out;
	}
	if (status < 0)
		snprintf(msg, sizeof(msg), "the domain's VMM does not answer: %s", err);
	else
		httpc_error_text(r.body, msg, sizeof(msg));
	pthread_mutex_lock(&dm->lock);
	api_error(resp, status < 0 ? 502 : status, "%s%s; domain %s runs on here", rl.aborted ?
		  "aborted: " : "", msg, o.name);
	pthread_mutex_unlock(&dm->lock);
	set_migrating(dm, o.id, NULL, "migration-failed", msg);
out:
	pthread_mutex_lock(&dm->lock);
	if ((d = dom_find_id(dm, o.id)) && d->migrating == &rl)
		d->migrating = NULL;
	pthread_mutex_unlock(&dm->lock);
	for (int i = 0; i < 2; i++)
		if (pair[i] >= 0)
			close(pair[i]);
	tls_close(c.tls);
	if (c.fd >= 0)
		close(c.fd);
	free(o.config);
	httpc_reply_free(&r);
log:
	log_request(req, resp->status);
}

void api_migrate_abort(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct daemon *dm = ctx;
	struct ddom *d;

	pthread_mutex_lock(&dm->lock);
	if (!(d = req_domain(dm, req, resp)))
		goto out;
	if (!d->migrating || d->migrating->abort_fd < 0)
		api_error(resp, 409, "domain %s is not migrating", d->name);
	else if (!relay_abort(d->migrating))
		api_error(resp, 409, "too late: the destination of %s is ready and owns it now",
			  d->name);
	else
		api_json(resp, 200, "{\"aborted\": true}");
out:
	pthread_mutex_unlock(&dm->lock);
	log_request(req, resp->status);
}
