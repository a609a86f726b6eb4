/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Console, events, log and metrics.
 *
 * Console output is the VMM's ring file (console_ring.h), mapped read-only here: history
 * is read from it, even for a domain whose VMM crashed or while capsuled was down, and
 * the monitor's tick relays new bytes to every reader of the domain's console stream, as
 * JSON lines {"b64": ...}. Input goes to the VMM's stdin, a FIFO in the domain's
 * directory; one writer at a time (the last to type keeps it for WRITER_HOLD_S).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "capsule/api.h"
#include "capsule/console_ring.h"
#include "capsule/httpc.h"
#include "capsule/vm.h"
#include "daemon.h"

#define LINE_RAW 12288u      /* console bytes per stream line */
#define RELAY_MAX (48u << 10) /* per domain per tick */
#define WRITER_HOLD_S 10

static void *map_ring(struct daemon *dm, struct ddom *d)
{
	char path[4200];
	void *m;
	int fd;

	if (d->ring)
		return d->ring;
	dom_path(dm, d, "console.ring", path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return NULL;
	/* A file shorter than the mapping would fault past its end: only a whole ring. */
	if (lseek(fd, 0, SEEK_END) != (off_t)CONSOLE_RING_FILE_SIZE) {
		close(fd);
		return NULL;
	}
	m = mmap(NULL, CONSOLE_RING_FILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return NULL;
	d->ring = m;
	return m;
}

/* The ring's bytes [from, total) (the last cap of them): length, or 0. */
static size_t ring_bytes(struct ddom *d, uint64_t from, char *out, size_t cap, uint64_t *total)
{
	long n;

	*total = 0;
	if (!d->ring)
		return 0;
	n = console_ring_read(d->ring, CONSOLE_RING_FILE_SIZE, from, out, cap, total);
	return n > 0 ? (size_t)n : 0;
}

/* Console bytes as stream lines {"b64": ...}\n, appended to a malloc'd buffer. */
static char *b64_lines(const char *data, size_t n, const char *extra, size_t *len)
{
	size_t cap = (n / LINE_RAW + 2) * (LINE_RAW / 3 * 4 + 64) + 256, o = 0;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	for (size_t at = 0; at < n; at += LINE_RAW) {
		size_t take = n - at < LINE_RAW ? n - at : LINE_RAW;

		o += (size_t)snprintf(out + o, cap - o, "{\"b64\": \"");
		o += base64_encode(data + at, take, out + o);
		o += (size_t)snprintf(out + o, cap - o, "\"%s}\n", extra);
	}
	*len = o;
	return out;
}

void api_console(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct daemon *dm = ctx;
	char arg[32], *buf = malloc(CONSOLE_RING_DATA);
	uint64_t total = 0, cap = CONSOLE_RING_DATA;
	bool follow = query_get(req->query, "follow", arg, sizeof(arg)) && strcmp(arg, "0");
	struct ddom *d;
	size_t n;

	if (!buf) {
		api_error(resp, 500, "out of memory");
		return;
	}
	if (query_get(req->query, "bytes", arg, sizeof(arg))) {
		char *end;

		cap = strtoull(arg, &end, 10);
		if (*end || !arg[0] || cap > CONSOLE_RING_DATA) {
			api_error(resp, 400, "bytes: a whole number up to %u", CONSOLE_RING_DATA);
			free(buf);
			return;
		}
	}
	pthread_mutex_lock(&dm->lock);
	if (!(d = req_domain(dm, req, resp)))
		goto out;
	map_ring(dm, d);
	n = ring_bytes(d, 0, buf, CONSOLE_RING_DATA, &total);
	if (follow) {
		uint64_t topic = TOPIC_CONSOLE(d->id);

		/* Readers already there get output from con_sent on: history ends there, so
		 * that nothing comes twice; with none, the relay starts from now. */
		if (streams_watchers(dm, topic) == 0)
			d->con_sent = total;
		if (total > d->con_sent && total - d->con_sent <= n)
			n -= (size_t)(total - d->con_sent);
	}
	if (n > cap) {
		memmove(buf, buf + n - cap, cap);
		n = (size_t)cap;
	}
	if (follow) {
		bool ended = d->state == DS_SHUTOFF || d->state == DS_CRASHED;
		size_t len = 0;
		char *lines = n ? b64_lines(buf, n, ", \"history\": true", &len) : NULL;
		char *body = malloc(len + 64);

		/* A domain that has ended: its history, then the end, and the client stops. */
		if (body) {
			if (lines)
				memcpy(body, lines, len);
			if (ended)
				len += (size_t)snprintf(body + len, 64, "{\"end\": \"%s\"}\n",
							dstate_name(d->state));
			else if (!len)
				len = (size_t)snprintf(body, 64, "{\"b64\": \"\"}\n");
		}
		free(lines);
		resp->status = 200;
		resp->content_type = "application/x-ndjson";
		resp->body = body;
		resp->body_len = body ? len : 0;
		resp->stream = true;
		resp->stream_topic = TOPIC_CONSOLE(d->id);
	} else {
		resp->status = 200;
		resp->content_type = "application/octet-stream";
		resp->body = buf;
		resp->body_len = n;
		buf = NULL;
	}
out:
	pthread_mutex_unlock(&dm->lock);
	free(buf);
}

void api_console_input(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct daemon *dm = ctx;
	char path[4200], arg[8];
	int64_t now = time(NULL);
	struct ddom *d;
	ssize_t w;

	pthread_mutex_lock(&dm->lock);
	if (!(d = req_domain(dm, req, resp)))
		goto out;
	if (query_get(req->query, "release", arg, sizeof(arg))) {
		if (d->writer_pid == req->peer_pid)
			d->writer_pid = 0;
		api_json(resp, 200, "{\"written\": 0}");
		goto out;
	}
	if (d->state != DS_RUNNING && d->state != DS_PAUSED) {
		api_error(resp, 409, "domain %s is %s", d->name, dstate_name(d->state));
		goto out;
	}
	if (d->writer_pid && d->writer_pid != req->peer_pid && now - d->writer_at < WRITER_HOLD_S) {
		api_error(resp, 409, "another client (pid %d) is typing on %s's console: one "
			  "writer at a time", (int)d->writer_pid, d->name);
		goto out;
	}
	d->writer_pid = req->peer_pid;
	d->writer_at = now;
	if (d->con_in < 0) {
		dom_path(dm, d, "console.in", path, sizeof(path));
		d->con_in = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	}
	w = d->con_in >= 0 && req->body_len ? write(d->con_in, req->body, req->body_len) : 0;
	if (w < 0 && errno == EAGAIN)
		api_error(resp, 503, "the console's input is full: the guest does not read it");
	else if (w < 0 || d->con_in < 0)
		api_error(resp, 500, "cannot write to the console: %s", strerror(errno));
	else {
		char body[48];

		snprintf(body, sizeof(body), "{\"written\": %zd}", w);
		api_json(resp, 200, body);
	}
out:
	pthread_mutex_unlock(&dm->lock);
}

/* New output of d to its readers; under dm->lock. buf: RELAY_MAX bytes, or NULL. */
static void relay_one(struct daemon *dm, struct ddom *d, char **buf)
{
	uint64_t total, topic = TOPIC_CONSOLE(d->id);
	size_t n, len;
	char *lines;

	if (!d->ring || !dm->nr_servers)
		return;
	total = __atomic_load_n(&((struct console_ring_head *)d->ring)->total, __ATOMIC_ACQUIRE);
	if (total == d->con_sent)
		return;
	if (streams_watchers(dm, topic) == 0) {
		d->con_sent = total;
		return;
	}
	if (!*buf && !(*buf = malloc(RELAY_MAX)))
		return;
	{
		n = ring_bytes(d, d->con_sent, *buf, RELAY_MAX, &total);
		d->con_sent = total;
		if (n && (lines = b64_lines(*buf, n, "", &len))) {
			/* One stream line per call: split at the newlines b64_lines put in. */
			for (char *p = lines, *nl; p < lines + len; p = nl + 1) {
				nl = memchr(p, '\n', (size_t)(lines + len - p));
				*nl = 0;
				streams_send(dm, topic, p);
			}
			free(lines);
		}
	}
}

void console_relay_one(struct daemon *dm, struct ddom *d)
{
	char *buf = NULL;

	relay_one(dm, d, &buf);
	free(buf);
}

void console_relay(struct daemon *dm)
{
	char *buf = NULL;

	pthread_mutex_lock(&dm->lock);
	for (unsigned i = 0; i < dm->nr_doms; i++)
		relay_one(dm, dm->doms[i], &buf);
	pthread_mutex_unlock(&dm->lock);
	free(buf);
}

void api_events(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct daemon *dm = ctx;
	char arg[16];
	unsigned n = 0;
	json_t *arr, *e;
	size_t i, len = 0, cap = 0;
	FILE *f;

	if (query_get(req->query, "history", arg, sizeof(arg)))
		n = (unsigned)strtoul(arg, NULL, 10) > 1000 ? 1000 : (unsigned)strtoul(arg, NULL, 10);
	pthread_mutex_lock(&dm->lock);
	arr = db_events(dm, -1, n);
	pthread_mutex_unlock(&dm->lock);
	resp->body = NULL;
	f = open_memstream(&resp->body, &len);
	json_array_foreach(arr, i, e) {
		char *t = json_dumps(e, JSON_COMPACT);

		if (f && t)
			fprintf(f, "%s\n", t);
		free(t);
	}
	if (f)
		fclose(f);
	(void)cap;
	json_decref(arr);
	resp->body_len = len;
	resp->status = 200;
	resp->content_type = "application/x-ndjson";
	resp->stream = true;
	resp->stream_topic = TOPIC_EVENTS;
	if (!len) { /* nothing yet: the stream starts with a comment-free empty object */
		free(resp->body);
		resp->body = NULL;
	}
}

/* The last bytes of the VMM's stderr, as valid text. */
static json_t *log_tail(struct daemon *dm, struct ddom *d)
{
	char path[4200], buf[8192];
	ssize_t n = 0;
	off_t size;
	int fd;

	dom_path(dm, d, "vmm.log", path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return json_string("");
	size = lseek(fd, 0, SEEK_END);
	if (size > 0)
		n = pread(fd, buf, sizeof(buf) - 1, size > (off_t)sizeof(buf) - 1
							   ? size - (off_t)sizeof(buf) + 1 : 0);
	close(fd);
	n = n < 0 ? 0 : n;
	for (ssize_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] >= 0x80 || (buf[i] < 0x20 && buf[i] != '\n'))
			buf[i] = '?';
	return json_stringn(buf, (size_t)n);
}

void api_log(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct daemon *dm = ctx;
	struct ddom *d;
	json_t *out;
	char *text;

	pthread_mutex_lock(&dm->lock);
	if (!(d = req_domain(dm, req, resp))) {
		pthread_mutex_unlock(&dm->lock);
		return;
	}
	out = json_pack("{s:s, s:o, s:o}", "domain", d->name, "events", db_events(dm, d->id, 500),
			"vmm_log", log_tail(dm, d));
	pthread_mutex_unlock(&dm->lock);
	text = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	api_json(resp, 200, text ? text : "{}");
	free(text);
}

/* One VMM's /metrics with domain="name" added to every sample; # lines once (first). */
static void relabel(FILE *f, const char *text, const char *name, bool comments)
{
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		const char *brace = memchr(p, '{', n), *space = memchr(p, ' ', n);

		if (n && p[0] == '#') {
			if (comments)
				fprintf(f, "%.*s\n", (int)n, p);
		} else if (n && brace && (!space || brace < space) &&
			   memmem(brace, n - (size_t)(brace - p), "domain=\"", 8)) {
			fprintf(f, "%.*s\n", (int)n, p); /* labelled by the VMM already */
		} else if (n && brace && (!space || brace < space)) {
			fprintf(f, "%.*sdomain=\"%s\",%.*s\n", (int)(brace + 1 - p), p, name,
				(int)(n - (size_t)(brace + 1 - p)), brace + 1);
		} else if (n && space) {
			fprintf(f, "%.*s{domain=\"%s\"}%.*s\n", (int)(space - p), p, name,
				(int)(n - (size_t)(space - p)), space);
		}
		p = nl ? nl + 1 : NULL;
	}
}

void api_metrics(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct daemon *dm = ctx;
	unsigned counts[DS_DYING + 1] = {0}, n;
	char (*socks)[4200], (*names)[64];
	size_t len = 0;
	uint64_t t0 = monotonic_ns();
	bool first = true;
	FILE *f;

	(void)req;
	resp->body = NULL;
	if (!(f = open_memstream(&resp->body, &len))) {
		api_error(resp, 500, "out of memory");
		return;
	}
	pthread_mutex_lock(&dm->lock);
	n = dm->nr_doms;
	socks = calloc(n + 1, sizeof(*socks));
	names = calloc(n + 1, sizeof(*names));
	fprintf(f, "# HELP capsule_domain_cpu_seconds_total CPU time of the domain's VMM.\n"
		   "# TYPE capsule_domain_cpu_seconds_total counter\n");
	for (unsigned i = 0; i < n; i++) {
		struct ddom *d = dm->doms[i];
		bool live = d->pidfd >= 0 && (d->state == DS_RUNNING || d->state == DS_PAUSED);

		counts[d->state]++;
		if (live) { /* the cgroup's (every thread, ns) where it has one (sched.c) */
			int64_t cg = dom_cgroup_cpu_ns(dm, d);

			fprintf(f, "capsule_domain_cpu_seconds_total{domain=\"%s\"} %.3f\n", d->name,
				(cg >= 0 ? (uint64_t)cg : proc_cpu_ns(d->pid)) / 1e9);
		}
		if (socks && names && live) {
			dom_path(dm, d, "api.sock", socks[i], sizeof(socks[i]));
			snprintf(names[i], sizeof(names[i]), "%s", d->name);
		}
	}
	fprintf(f, "# HELP capsule_domain_ksm_merging_pages The VMM's pages KSM merged.\n"
		   "# TYPE capsule_domain_ksm_merging_pages gauge\n");
	for (unsigned i = 0; i < n; i++) {
		struct ksm_proc_stat ks;

		if (dm->doms[i]->pidfd >= 0 && ksm_proc(dm->doms[i]->pid, &ks) == 0)
			fprintf(f, "capsule_domain_ksm_merging_pages{domain=\"%s\"} %llu\n",
				dm->doms[i]->name, (unsigned long long)ks.merging_pages);
	}
	mempolicy_metrics(dm, f);
	pthread_mutex_unlock(&dm->lock);
	fprintf(f, "# HELP capsuled_domains Domains capsuled manages, by state.\n"
		   "# TYPE capsuled_domains gauge\n");
	for (unsigned s = 0; s <= DS_DYING; s++)
		fprintf(f, "capsuled_domains{state=\"%s\"} %u\n", dstate_name((enum dstate)s),
			counts[s]);
	fprintf(f, "# HELP capsuled_resident_bytes capsuled's resident memory.\n"
		   "# TYPE capsuled_resident_bytes gauge\ncapsuled_resident_bytes %llu\n",
		(unsigned long long)proc_rss_kib(getpid()) * 1024);
	fprintf(f, "# HELP capsule_host_memory_bytes The host's memory.\n"
		   "# TYPE capsule_host_memory_bytes gauge\ncapsule_host_memory_bytes %llu\n",
		(unsigned long long)dm->host_mem_mib << 20);
	ksm_metrics(f);
	/* Each VMM's own metrics, bounded: 300 ms each, 5 s in all. */
	for (unsigned i = 0; socks && names && i < n; i++) {
		struct httpc_reply r = {0};
		char err[128];

		if (!socks[i][0] || monotonic_ns() - t0 > 5000000000ull)
			continue;
		if (httpc_request(socks[i], "GET", "/metrics", NULL, NULL, 0, 300, &r, err,
				  sizeof(err)) == 200) {
			relabel(f, r.body, names[i], first);
			first = false;
		}
		httpc_reply_free(&r);
	}
	free(socks);
	free(names);
	fclose(f);
	resp->body_len = len;
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4";
}
