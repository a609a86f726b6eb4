/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CPU control (docs/resources.md): each domain's cgroup (include/capsule/cgroup.h), made
 * and set before its VMM starts, which joins it before it runs anything (spawn.c); Xen's
 * weight and cap as `capsule sched-credit` sets them (kept in the domain's stored config,
 * so a restart keeps them); and the vCPUs' threads, CPUs and pinning, forwarded to the VMM
 * (vm.vcpus, vm.vcpu-pin) with each thread's current CPU read here from /proc.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capsule/api.h"
#include "capsule/httpc.h"
#include "daemon.h"

int sched_init(struct daemon *dm, char *err, size_t errlen)
{
	const char *mode = dm->cg_mode ? dm->cg_mode : "auto";
	const char *parent = dm->cg_parent ? dm->cg_parent : "capsule";
	enum cg_mode m;
	char e[512];

	if (!strcmp(mode, "off")) {
		snprintf(dm->cg_why, sizeof(dm->cg_why), "capsuled runs with --cgroup off");
		return 0;
	}
	if (!strcmp(mode, "auto"))
		m = CG_AUTO;
	else if (!strcmp(mode, "v1"))
		m = CG_V1;
	else if (!strcmp(mode, "v2"))
		m = CG_V2;
	else {
		snprintf(err, errlen, "--cgroup %s: expected auto, v1, v2 or off", mode);
		return -1;
	}
	if (cgroup_host_init(&dm->cg, m, NULL, parent, e, sizeof(e))) {
		memset(&dm->cg, 0, sizeof(dm->cg));
		if (m != CG_AUTO) {
			snprintf(err, errlen, "--cgroup %s: %s", mode, e);
			return -1;
		}
		snprintf(dm->cg_why, sizeof(dm->cg_why), "%s", e);
		fprintf(stderr, "capsuled: no CPU control (weights, caps): %s\n", e);
		return 0;
	}
	fprintf(stderr, "capsuled: CPU control through cgroup v%d in %s\n", dm->cg.version,
		dm->cg.cpu);
	return 0;
}

void dom_sched_from_config(struct ddom *d, json_t *cfg)
{
	json_t *w = json_object_get(cfg, "cpu_weight"), *c = json_object_get(cfg, "cap");

	d->cpu_weight = json_is_integer(w) ? (unsigned)json_integer_value(w) : CG_WEIGHT_DEFAULT;
	d->cap = json_is_integer(c) ? (unsigned)json_integer_value(c) : 0;
}

void dom_sched_load(struct daemon *dm, struct ddom *d)
{
	char *text = db_domain_config(dm, d->id);
	json_t *cfg = text ? json_loads(text, 0, NULL) : NULL;

	dom_sched_from_config(d, cfg);
	json_decref(cfg);
	free(text);
}

static bool acct_apart(const struct cgroup_host *h)
{
	return h->version == 1 && h->cpuacct[0] && strcmp(h->cpuacct, h->cpu);
}

int dom_cgroup_prepare(struct daemon *dm, struct ddom *d, int fds[2], char *err,
		       size_t errlen)
{
	char path[PATH_MAX + 64];

	fds[0] = fds[1] = -1;
	if (!dm->cg.version)
		return 0;
	if (cgroup_dom_create(&dm->cg, d->uuid, err, errlen) ||
	    cgroup_dom_set_cpu(&dm->cg, d->uuid, d->cpu_weight, d->cap, err, errlen))
		return -1;
	cgroup_dom_path(&dm->cg, d->uuid, "cgroup.procs", path, sizeof(path));
	if ((fds[0] = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		goto fail;
	if (acct_apart(&dm->cg)) {
		snprintf(path, sizeof(path), "%s/%s/cgroup.procs", dm->cg.cpuacct, d->uuid);
		if ((fds[1] = open(path, O_WRONLY | O_CLOEXEC)) < 0)
			goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
	if (fds[0] >= 0)
		close(fds[0]);
	fds[0] = -1;
	return -1;
}

void dom_cgroup_remove(struct daemon *dm, struct ddom *d)
{
	int rc;

	if (dm->cg.version && (rc = cgroup_dom_remove(&dm->cg, d->uuid)) < 0)
		fprintf(stderr, "capsuled: cannot remove the cgroup of %s: %s\n", d->name,
			strerror(-rc));
}

int64_t dom_cgroup_cpu_ns(struct daemon *dm, const struct ddom *d)
{
	int64_t ns = dm->cg.version ? cgroup_dom_cpu_ns(&dm->cg, d->uuid) : -1;

	return ns < 0 ? -1 : ns;
}

json_t *dom_cpu_time(struct daemon *dm, const struct ddom *d, json_t *j)
{
	int64_t ns;

	if (j && d->pid > 0 && (d->state == DS_RUNNING || d->state == DS_PAUSED) &&
	    (ns = dom_cgroup_cpu_ns(dm, d)) >= 0)
		json_object_set_new(j, "cpu_time_s", json_real(ns / 1e9));
	return j;
}

void dom_accounting(struct daemon *dm, const char *uuid, pid_t pid, const char *sock,
		    json_t *out)
{
	struct ksm_proc_stat ksm;
	int64_t cg = dm->cg.version ? cgroup_dom_cpu_ns(&dm->cg, uuid) : -1;
	json_t *a = json_object(), *c = NULL, *v, *times = json_array();
	struct httpc_reply r = {0};
	char err[256];
	size_t i;

	if (httpc_request(sock, "GET", "/api/v1/vm.counters", NULL, NULL, 0, 1000, &r, err,
			  sizeof(err)) == 200)
		c = json_loadb(r.body, r.len, 0, NULL);
	httpc_reply_free(&r);
	json_object_set_new(a, "cpu_time_s", json_incref(json_object_get(out, "cpu_time_s")));
	json_object_set_new(a, "cgroup_cpu_s", cg >= 0 ? json_real(cg / 1e9) : json_null());
	json_array_foreach(json_object_get(c, "vcpus"), i, v)
		json_array_append(times, json_object_get(v, "cpu_s"));
	json_object_set_new(a, "vcpu_cpu_s", times);
	/* shared: the VMM's pages KSM merged with others (ksm.c), where it reports them. */
	if (json_is_object(json_object_get(c, "memory")) && ksm_proc(pid, &ksm) == 0)
		json_object_set_new(json_object_get(c, "memory"), "shared_bytes",
				    json_integer((json_int_t)(ksm.merging_pages *
							      (uint64_t)sysconf(_SC_PAGESIZE))));
	json_object_set(a, "memory", json_object_get(c, "memory") ?: json_null());
	json_object_set(a, "block", json_object_get(json_object_get(c, "io"), "block") ?: json_null());
	json_object_set(a, "net", json_object_get(json_object_get(c, "io"), "net") ?: json_null());
	json_decref(c);
	json_object_set_new(out, "accounting", a);
}

static void reply(struct http_response *resp, int status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (text)
		api_json(resp, status, text);
	else
		api_error(resp, 500, "out of memory");
	free(text);
}

static json_t *sched_row(const struct ddom *d)
{
	return json_pack("{s:I, s:s, s:i, s:i}", "id", (json_int_t)d->id, "name", d->name,
			 "weight", (int)d->cpu_weight, "cap", (int)d->cap);
}

/* GET /api/v1/sched[?domain=]: one domain's weight and cap, or every domain's. */
void api_sched_get(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct daemon *dm = ctx;
	json_t *rows = json_array(), *out;
	char key[128];
	struct ddom *d;

	pthread_mutex_lock(&dm->lock);
	if (query_get(req->query, "domain", key, sizeof(key))) {
		if (!(d = req_domain(dm, req, resp)))
			goto unlock;
		json_array_append_new(rows, sched_row(d));
	} else {
		for (unsigned i = 0; i < dm->nr_doms; i++)
			json_array_append_new(rows, sched_row(dm->doms[i]));
	}
	out = json_pack("{s:s, s:i, s:s, s:i, s:o}", "scheduler", "credit", "cgroup",
			dm->cg.version, "cgroup_off_why", dm->cg.version ? "" : dm->cg_why,
			"period_us", (int)CG_PERIOD_US, "domains", rows);
	rows = NULL;
	pthread_mutex_unlock(&dm->lock);
	reply(resp, 200, out);
	log_request(req, resp->status);
	return;
unlock:
	pthread_mutex_unlock(&dm->lock);
	json_decref(rows);
	log_request(req, resp->status);
}

/* The stored config with the new weight and cap, so a restart keeps them. */
static void store_sched(struct daemon *dm, const struct ddom *d)
{
	char *text = db_domain_config(dm, d->id), *out;
	json_t *cfg = text ? json_loads(text, 0, NULL) : NULL;

	free(text);
	if (!json_is_object(cfg)) {
		json_decref(cfg);
		return;
	}
	json_object_set_new(cfg, "cpu_weight", json_integer(d->cpu_weight));
	json_object_set_new(cfg, "cap", json_integer(d->cap));
	if ((out = json_dumps(cfg, JSON_COMPACT)))
		db_set_domain_config(dm, d->id, out);
	free(out);
	json_decref(cfg);
}

/* PUT /api/v1/domain.sched?domain= {"weight": W, "cap": C}: either or both. */
void api_sched_put(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct daemon *dm = ctx;
	json_t *j = req->body_len ? json_loadb(req->body, req->body_len, 0, NULL) : NULL;
	json_t *w = json_object_get(j, "weight"), *c = json_object_get(j, "cap"), *v;
	unsigned weight, cap;
	char err[512];
	const char *k;
	struct ddom *d;

	pthread_mutex_lock(&dm->lock);
	if (!(d = req_domain(dm, req, resp)))
		goto out;
	if (!json_is_object(j) || (!w && !c)) {
		api_error(resp, 400, "the body must be a JSON object: {\"weight\": 1-65535, "
			  "\"cap\": 0-%u}", 100 * d->vcpus);
		goto out;
	}
	json_object_foreach(j, k, v)
		if (strcmp(k, "weight") && strcmp(k, "cap")) {
			api_error(resp, 400, "unknown field \"%s\" (weight, cap)", k);
			goto out;
		}
	if (w && (!json_is_integer(w) || json_integer_value(w) < CG_WEIGHT_MIN ||
		  json_integer_value(w) > CG_WEIGHT_MAX)) {
		api_error(resp, 400, "weight must be a whole number from %d to %d (Xen's; default "
			  "%d)", CG_WEIGHT_MIN, CG_WEIGHT_MAX, CG_WEIGHT_DEFAULT);
		goto out;
	}
	if (c && (!json_is_integer(c) || json_integer_value(c) < 0 ||
		  json_integer_value(c) > 100 * (json_int_t)d->vcpus)) {
		api_error(resp, 400, "cap must be a whole number from 0 (no cap) to %u (percent of "
			  "one CPU; the domain has %u vCPU%s)", 100 * d->vcpus, d->vcpus,
			  d->vcpus > 1 ? "s" : "");
		goto out;
	}
	if (!dm->cg.version) {
		api_error(resp, 409, "CPU control is off: %s", dm->cg_why);
		goto out;
	}
	weight = w ? (unsigned)json_integer_value(w) : d->cpu_weight;
	cap = c ? (unsigned)json_integer_value(c) : d->cap;
	/* The cgroup lives as long as the domain: set even while no VMM runs. */
	if (cgroup_dom_create(&dm->cg, d->uuid, err, sizeof(err)) ||
	    cgroup_dom_set_cpu(&dm->cg, d->uuid, weight, cap, err, sizeof(err))) {
		api_error(resp, 500, "%s", err);
		goto out;
	}
	d->cpu_weight = weight;
	d->cap = cap;
	store_sched(dm, d);
	snprintf(err, sizeof(err), "weight %u cap %u", weight, cap);
	dom_event_uid(dm, d, req->peer_uid, "sched-credit", err);
	reply(resp, 200, sched_row(d));
out:
	pthread_mutex_unlock(&dm->lock);
	json_decref(j);
	log_request(req, resp->status);
}

/* The CPU a thread last ran on (/proc/PID/task/TID/stat, field 39), or -1. */
static int thread_cpu(pid_t pid, int tid)
{
	char path[64], buf[1024], *p;
	int cpu = -1, fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	if (!(p = strrchr(buf, ')')))
		return -1;
	/* After the name: field 3 (state) ... field 39 (processor), 37 fields. */
	for (unsigned f = 3; f < 39 && p; f++)
		p = strchr(p + 1, ' ');
	if (p)
		sscanf(p + 1, "%d", &cpu);
	return cpu;
}

/* One domain's vm.vcpus, with each thread's current CPU: NULL if the VMM does not answer. */
static json_t *dom_vcpus(const char *sock, pid_t pid)
{
	struct httpc_reply r = {0};
	json_t *j = NULL, *arr, *v;
	char err[256];
	size_t i;

	if (httpc_request(sock, "GET", "/api/v1/vm.vcpus", NULL, NULL, 0, VMM_TIMEOUT_MS, &r,
			  err, sizeof(err)) == 200)
		j = json_loadb(r.body, r.len, 0, NULL);
	httpc_reply_free(&r);
	arr = json_object_get(j, "vcpus");
	if (!json_is_array(arr)) {
		json_decref(j);
		return NULL;
	}
	json_incref(arr);
	json_decref(j);
	json_array_foreach(arr, i, v) {
		json_t *tid = json_object_get(v, "tid");
		int cpu = json_is_integer(tid) && json_integer_value(tid) > 0
				  ? thread_cpu(pid, (int)json_integer_value(tid)) : -1;

		json_object_set_new(v, "cpu", json_integer(cpu));
	}
	return arr;
}

/* GET /api/v1/domain.vcpus[?domain=]: xl vcpu-list's rows, for one domain or all. */
void api_vcpus(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct daemon *dm = ctx;
	struct row {
		char sock[4200], name[64];
		int64_t id;
		pid_t pid;
	} *rows = NULL;
	json_t *out = json_array();
	struct ddom *d = NULL;
	char key[128] = "";
	unsigned n = 0;

	pthread_mutex_lock(&dm->lock);
	rows = calloc(dm->nr_doms + 1, sizeof(*rows));
	if (!rows) {
		api_error(resp, 500, "out of memory");
		goto unlock;
	}
	if (query_get(req->query, "domain", key, sizeof(key))) {
		if (!(d = req_domain(dm, req, resp)))
			goto unlock;
		if (d->pidfd < 0 || (d->state != DS_RUNNING && d->state != DS_PAUSED)) {
			api_error(resp, 409, "domain %s is %s", d->name, dstate_name(d->state));
			goto unlock;
		}
	}
	for (unsigned i = 0; i < dm->nr_doms; i++) {
		struct ddom *x = dm->doms[i];

		if ((key[0] && strcmp(x->name, d->name)) || x->pidfd < 0 ||
		    (x->state != DS_RUNNING && x->state != DS_PAUSED))
			continue;
		dom_path(dm, x, "api.sock", rows[n].sock, sizeof(rows[n].sock));
		snprintf(rows[n].name, sizeof(rows[n].name), "%s", x->name);
		rows[n].id = x->id;
		rows[n++].pid = x->pid;
	}
	pthread_mutex_unlock(&dm->lock);
	for (unsigned i = 0; i < n; i++) { /* not under the lock: VMMs may be slow */
		json_t *v = dom_vcpus(rows[i].sock, rows[i].pid);

		if (v)
			json_array_append_new(out, json_pack("{s:I, s:s, s:o}", "id",
							     (json_int_t)rows[i].id, "name",
							     rows[i].name, "vcpus", v));
	}
	free(rows);
	reply(resp, 200, json_pack("{s:o}", "domains", out));
	log_request(req, resp->status);
	return;
unlock:
	pthread_mutex_unlock(&dm->lock);
	free(rows);
	json_decref(out);
	log_request(req, resp->status);
}

/* PUT /api/v1/domain.vcpu-pin?domain= {"vcpu": N|"all", "cpus": "LIST"}: the VMM checks it. */
void api_vcpu_pin(void *ctx, const struct http_request *req, struct http_response *resp)
{
	json_t *j = req->body_len ? json_loadb(req->body, req->body_len, 0, NULL) : NULL;
	char *body = json_is_object(j) ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (!body) {
		api_error(resp, 400, "the body must be a JSON object: {\"vcpu\": N or \"all\", "
			  "\"cpus\": \"0-3,^1\"}");
		log_request(req, resp->status);
		return;
	}
	api_forward(ctx, req, resp, FWD_LIVE, "/api/v1/vm.vcpu-pin", body, -1, "vcpu-pin");
	free(body);
}
