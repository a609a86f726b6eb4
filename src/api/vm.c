/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-domain VMM API (docs/api/openapi.json): what `capsule run --api-sock` serves,
 * shaped after Cloud Hypervisor's /api/v1/vmm.* and vm.*, with Capsule's own where it has
 * more (balloon, lifecycle events, Prometheus metrics). Handlers run on the API thread and
 * read the domain under its lock.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capsule/api.h"
#include "capsule/devices.h"
#include "capsule/domain.h"
#include "capsule/introspect.h"
#include "capsule/log.h"
#include "capsule/snapshot.h"
#include "capsule/vmm_api.h"

#ifndef CAPSULE_VERSION
#define CAPSULE_VERSION "unknown"
#endif

void vmm_api_reply(struct http_response *resp, int status, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	if (!text) {
		api_error(resp, 500, "out of memory");
		return;
	}
	resp->status = status;
	resp->body = text;
	resp->body_len = strlen(text);
}

/* A body that must be empty or a JSON object (of the keys the caller then takes). */
static json_t *body_object(const struct http_request *req, struct http_response *resp)
{
	json_error_t e;
	json_t *j;

	if (req->body_len == 0)
		return json_object();
	j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		api_error(resp, 400, "bad JSON: %s (line %d, column %d)", e.text, e.line, e.column);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		api_error(resp, 400, "the body must be a JSON object");
		return NULL;
	}
	return j;
}

/* Refuse any key but those listed (NULL-terminated). */
static bool only_keys(json_t *j, const char *const *keys, struct http_response *resp)
{
	const char *k;
	json_t *v;

	json_object_foreach(j, k, v) {
		bool known = false;

		for (unsigned i = 0; keys[i]; i++)
			known |= !strcmp(k, keys[i]);
		if (!known) {
			api_error(resp, 400, "unknown field \"%s\"", k);
			return false;
		}
	}
	return true;
}

json_t *vmm_api_body(const struct http_request *req, struct http_response *resp,
		     const char *const *keys)
{
	json_t *j = body_object(req, resp);

	if (j && !only_keys(j, keys, resp)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static void ping(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)ctx, (void)req;
	vmm_api_reply(resp, 200, json_pack("{s:s, s:i}", "version", CAPSULE_VERSION, "pid",
					(int)getpid()));
}

static void vmm_shutdown(void *ctx, const struct http_request *req,
			 struct http_response *resp)
{
	struct vmm_api *a = ctx;

	(void)req;
	domain_end(a->dom, VM_END_POWEROFF, 0);
	resp->status = 204;
}

static void info(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct vmm_api *a = ctx;
	struct domain *d = a->dom;
	char hex[2 * MEASURE_LEN + 1];
	json_t *j;
	char *body;

	(void)req;
	pthread_mutex_lock(&d->lock);
	/* The rest of the answer is the domain's configuration, fixed for its life. */
	if (a->info && a->info_state == (unsigned)d->state && a->info_boots == d->boots) {
		pthread_mutex_unlock(&d->lock);
		body = malloc(a->info_len + 1);
		if (!body) {
			api_error(resp, 500, "out of memory");
			return;
		}
		memcpy(body, a->info, a->info_len + 1);
		resp->status = 200;
		resp->body = body;
		resp->body_len = a->info_len;
		return;
	}
	a->info_state = (unsigned)d->state;
	a->info_boots = d->boots;
	measure_hex(d->measure.value, hex);
	j = json_pack("{s:s, s:s, s:s, s:I, s:i, s:i, s:s, s:{s:s, s:s, s:s, s:s, s:s}}",
		      "name", d->cfg.name, "kind", d->kind == DOMAIN_PV ? "pv" : "hvm",
		      "state", domain_state_name(d->state), "memory_mib",
		      (json_int_t)d->cfg.mem_mib, "vcpus", (int)d->cfg.vcpus, "boots",
		      (int)d->boots, "measurement", hex, "config", "image", d->cfg.image,
		      "cmdline", d->cfg.cmdline,
		      "on_poweroff", domain_action_name(d->cfg.on_poweroff), "on_reboot",
		      domain_action_name(d->cfg.on_reboot), "on_crash",
		      domain_action_name(d->cfg.on_crash));
	if (j && d->restore) /* a restore's working-set prefetch (docs/snapshot.md) */
		json_object_set_new(j, "prefetched_pages", json_integer(d->restore->prefetched));
	pthread_mutex_unlock(&d->lock);
	vmm_api_reply(resp, 200, j);
	free(a->info);
	a->info = resp->status == 200 ? strdup(resp->body) : NULL;
	a->info_len = a->info ? resp->body_len : 0;
}

static void wrong_state(struct domain *d, struct http_response *resp, const char *what)
{
	pthread_mutex_lock(&d->lock);
	api_error(resp, 409, "cannot %s a domain that is %s", what, domain_state_name(d->state));
	pthread_mutex_unlock(&d->lock);
}

static void pause_vm(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct domain *d = ((struct vmm_api *)ctx)->dom;
	int r = domain_pause(d);

	(void)req;
	if (r == -ETIMEDOUT)
		api_error(resp, 500, "the vCPUs did not stop in time; the domain runs on");
	else if (r < 0)
		wrong_state(d, resp, "pause");
	else
		resp->status = 204;
}

static void resume_vm(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct domain *d = ((struct vmm_api *)ctx)->dom;

	(void)req;
	if (domain_resume(d) < 0)
		wrong_state(d, resp, "resume");
	else
		resp->status = 204;
}

/* vm.shutdown {"grace_s": N}, vm.reboot, vm.power-button: ask the guest. */
static void request(struct vmm_api *a, const struct http_request *req,
		    struct http_response *resp, bool reboot)
{
	static const char *const keys[] = {"grace_s", NULL};
	json_t *j = body_object(req, resp), *g;
	json_int_t grace = DOMAIN_SHUTDOWN_GRACE_S;
	int r;

	if (!j)
		return;
	if (!only_keys(j, keys, resp)) {
		json_decref(j);
		return;
	}
	g = json_object_get(j, "grace_s");
	if (g && (reboot || !json_is_integer(g) || json_integer_value(g) < 0 ||
		  json_integer_value(g) > 3600)) {
		json_decref(j);
		api_error(resp, 400, "\"grace_s\" must be an integer from 0 to 3600 (shutdown only)");
		return;
	}
	if (g)
		grace = json_integer_value(g);
	json_decref(j);
	r = domain_shutdown(a->dom, reboot, (unsigned)grace);
	if (r == -ENOTSUP)
		api_error(resp, 501, "an HVM domain cannot be asked to reboot (it has a power button only)");
	else if (r < 0)
		wrong_state(a->dom, resp, reboot ? "reboot" : "shut down");
	else
		resp->status = 204;
}

static void shutdown_vm(void *ctx, const struct http_request *req, struct http_response *resp)
{
	request(ctx, req, resp, false);
}

static void reboot_vm(void *ctx, const struct http_request *req, struct http_response *resp)
{
	request(ctx, req, resp, true);
}

static void counters(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct domain *d = ((struct vmm_api *)ctx)->dom;
	json_t *j = json_object(), *vcpus = json_array(), *devs = json_array();

	(void)req;
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; d->vm && i < d->vm->nr_vcpus; i++)
		json_array_append_new(vcpus, json_pack("{s:i, s:I, s:f}", "id", (int)i, "exits",
						       (json_int_t)d->vm->vcpus[i].exits, "cpu_s",
						       vcpu_cpu_ns(&d->vm->vcpus[i]) / 1e9));
	for (unsigned i = 0; i < d->nr_devices; i++) {
		const struct virtio_dev *dev = d->devices[i].dev;

		if (dev)
			json_array_append_new(devs, json_pack("{s:s, s:I, s:I, s:I}", "name",
							      dev->ops->name, "requests",
							      (json_int_t)dev->stats.requests, "kicks",
							      (json_int_t)dev->stats.kicks, "interrupts",
							      (json_int_t)dev->stats.interrupts));
	}
	if (d->vm && d->kind == DOMAIN_PV) {
		json_t *hc = json_array();

		for (unsigned i = 0; i < CAP_HC_COUNT; i++)
			json_array_append_new(hc, json_integer((json_int_t)d->k.pv.hypercalls[i]));
		json_object_set_new(j, "hypercalls", hc);
	}
	json_object_set_new(j, "state", json_string(domain_state_name(d->state)));
	json_object_set_new(j, "write_working_set", vm_wss_json(d));
	{
		struct dev_io blk, net;

		uint64_t target = 0, actual = 0;

		vm_io_totals(d, &blk, &net);
		if (d->balloon)
			balloon_sizes(d->balloon, &target, &actual);
		/* shared_bytes: pages KSM merged, filled in where the domain's memory is
		 * mergeable (docs/resources.md); 0 until then. */
		json_object_set_new(j, "memory", json_pack("{s:I, s:I, s:I, s:I}", "memory_bytes",
			(json_int_t)(d->cfg.mem_mib << 20), "balloon_target_bytes",
			(json_int_t)target, "ballooned_bytes", (json_int_t)actual, "shared_bytes",
			(json_int_t)0));
		json_object_set_new(j, "io", json_pack("{s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I}}",
			"block", "read_bytes", (json_int_t)blk.rd_bytes, "write_bytes",
			(json_int_t)blk.wr_bytes, "reads", (json_int_t)blk.rd_reqs, "writes",
			(json_int_t)blk.wr_reqs, "net", "rx_bytes", (json_int_t)net.rd_bytes,
			"tx_bytes", (json_int_t)net.wr_bytes, "rx_packets", (json_int_t)net.rd_reqs,
			"tx_packets", (json_int_t)net.wr_reqs));
	}
	pthread_mutex_unlock(&d->lock);
	json_object_set_new(j, "vcpus", vcpus);
	json_object_set_new(j, "devices", devs);
	vmm_api_reply(resp, 200, j);
}

static void balloon_get(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct domain *d = ((struct vmm_api *)ctx)->dom;
	char text[1024];

	(void)req;
	pthread_mutex_lock(&d->lock);
	if (d->balloon)
		balloon_describe(d->balloon, text, sizeof(text));
	pthread_mutex_unlock(&d->lock);
	if (!d->balloon) {
		api_error(resp, 404, "this domain has no balloon (capsule run --balloon MIB)");
		return;
	}
	vmm_api_reply(resp, 200, json_pack("{s:s}", "stats", text));
}

static void balloon_put(void *ctx, const struct http_request *req, struct http_response *resp)
{
	static const char *const keys[] = {"target_mib", NULL};
	struct domain *d = ((struct vmm_api *)ctx)->dom;
	json_t *j = body_object(req, resp), *t;
	json_int_t mib;

	if (!j)
		return;
	if (!only_keys(j, keys, resp)) {
		json_decref(j);
		return;
	}
	t = json_object_get(j, "target_mib");
	mib = t && json_is_integer(t) ? json_integer_value(t) : -1;
	json_decref(j);
	pthread_mutex_lock(&d->lock);
	if (!d->balloon)
		api_error(resp, 404, "this domain has no balloon (capsule run --balloon MIB)");
	else if (mib < 0 || (uint64_t)mib > d->cfg.mem_mib)
		api_error(resp, 400, "\"target_mib\" must be an integer from 0 to %llu",
			  (unsigned long long)d->cfg.mem_mib);
	else
		balloon_set_target(d->balloon, (uint64_t)mib), resp->status = 204;
	pthread_mutex_unlock(&d->lock);
}

static void events(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct domain *d = ((struct vmm_api *)ctx)->dom;
	char line[256];

	(void)req;
	/* The stream starts with the state now; then every change (vmm_api_event). */
	pthread_mutex_lock(&d->lock);
	snprintf(line, sizeof(line), "{\"event\":\"state\",\"state\":\"%s\"}\n",
		 domain_state_name(d->state));
	pthread_mutex_unlock(&d->lock);
	resp->status = 200;
	resp->content_type = "application/x-ndjson";
	resp->body = strdup(line);
	resp->body_len = resp->body ? strlen(line) : 0;
	resp->stream = true;
}

/* Prometheus text exposition (version 0.0.4). */
static void metrics(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct domain *d = ((struct vmm_api *)ctx)->dom;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)req;
	if (!f) {
		api_error(resp, 500, "out of memory");
		return;
	}
	pthread_mutex_lock(&d->lock);
	fprintf(f, "# HELP capsule_domain_up 1 while the domain runs or is paused.\n"
		   "# TYPE capsule_domain_up gauge\n"
		   "capsule_domain_up{domain=\"%s\"} %d\n",
		d->cfg.name, d->state == DOMAIN_RUNNING || d->state == DOMAIN_PAUSED);
	fprintf(f, "# HELP capsule_domain_boots Boots of the domain (reboots restart it).\n"
		   "# TYPE capsule_domain_boots counter\n"
		   "capsule_domain_boots{domain=\"%s\"} %u\n", d->cfg.name, d->boots);
	fprintf(f, "# HELP capsule_memory_bytes Guest memory.\n# TYPE capsule_memory_bytes gauge\n"
		   "capsule_memory_bytes{domain=\"%s\"} %llu\n", d->cfg.name,
		(unsigned long long)d->cfg.mem_mib << 20);
	fprintf(f, "# HELP capsule_vcpu_exits_total Exits to the VMM per vCPU.\n"
		   "# TYPE capsule_vcpu_exits_total counter\n");
	for (unsigned i = 0; d->vm && i < d->vm->nr_vcpus; i++)
		fprintf(f, "capsule_vcpu_exits_total{domain=\"%s\",vcpu=\"%u\"} %llu\n", d->cfg.name,
			i, (unsigned long long)d->vm->vcpus[i].exits);
	vm_metrics_vcpus(f, d);
	vm_metrics_wss(f, d);
	fprintf(f, "# HELP capsule_device_requests_total Requests a device completed.\n"
		   "# TYPE capsule_device_requests_total counter\n");
	for (unsigned i = 0; i < d->nr_devices; i++) {
		const struct virtio_dev *dev = d->devices[i].dev;

		if (dev)
			fprintf(f, "capsule_device_requests_total{domain=\"%s\",device=\"%s\","
				   "index=\"%u\"} %llu\n", d->cfg.name, dev->ops->name, i,
				(unsigned long long)dev->stats.requests);
	}
	fprintf(f, "# HELP capsule_device_kicks_total Queue notifications a device took.\n"
		   "# TYPE capsule_device_kicks_total counter\n");
	for (unsigned i = 0; i < d->nr_devices; i++) {
		const struct virtio_dev *dev = d->devices[i].dev;

		if (dev)
			fprintf(f, "capsule_device_kicks_total{domain=\"%s\",device=\"%s\","
				   "index=\"%u\"} %llu\n", d->cfg.name, dev->ops->name, i,
				(unsigned long long)dev->stats.kicks);
	}
	if (d->vm && d->kind == DOMAIN_PV) {
		fprintf(f, "# HELP capsule_hypercalls_total Hypercalls by number.\n"
			   "# TYPE capsule_hypercalls_total counter\n");
		for (unsigned i = 0; i < CAP_HC_COUNT; i++)
			fprintf(f, "capsule_hypercalls_total{domain=\"%s\",nr=\"%u\"} %llu\n",
				d->cfg.name, i, (unsigned long long)d->k.pv.hypercalls[i]);
	}
	pthread_mutex_unlock(&d->lock);
	fclose(f);
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4";
	resp->body = buf;
	resp->body_len = len;
}

/* The console's history: the last 64 KiB (or ?bytes=N), oldest first, as text. */
static void console_history(void *ctx, const struct http_request *req,
			    struct http_response *resp)
{
	struct domain *d = ((struct vmm_api *)ctx)->dom;
	unsigned long want = CONSOLE_LOG_SIZE;
	char *buf;

	if (req->query[0]) {
		char *end;

		if (strncmp(req->query, "bytes=", 6) || !req->query[6] ||
		    (want = strtoul(req->query + 6, &end, 10), *end) || want == 0 ||
		    want > CONSOLE_LOG_SIZE) {
			api_error(resp, 400, "the query is bytes=N, N from 1 to %u", CONSOLE_LOG_SIZE);
			return;
		}
	}
	buf = malloc(want);
	if (!buf) {
		api_error(resp, 500, "out of memory");
		return;
	}
	resp->status = 200;
	resp->content_type = "text/plain; charset=utf-8";
	resp->body = buf;
	resp->body_len = console_log_read(&d->console_log, buf, want, NULL);
}

static const struct api_route routes[] = {
	{"GET", "/api/v1/vmm.ping", ping},
	{"PUT", "/api/v1/vmm.shutdown", vmm_shutdown},
	{"GET", "/api/v1/vm.info", info},
	{"PUT", "/api/v1/vm.pause", pause_vm},
	{"PUT", "/api/v1/vm.resume", resume_vm},
	{"PUT", "/api/v1/vm.shutdown", shutdown_vm},
	{"PUT", "/api/v1/vm.reboot", reboot_vm},
	{"PUT", "/api/v1/vm.power-button", shutdown_vm},
	{"GET", "/api/v1/vm.counters", counters},
	{"GET", "/api/v1/vm.balloon", balloon_get},
	{"GET", "/api/v1/vm.wss", vm_api_wss},
	{"PUT", "/api/v1/vm.balloon", balloon_put},
	{"GET", "/api/v1/vm.events", events},
	{"GET", "/api/v1/vm.console", console_history},
	{"PUT", "/api/v1/vm.snapshot", vm_api_snapshot},
	{"PUT", "/api/v1/vm.working-set", vm_api_working_set},
	{"PUT", "/api/v1/vm.migrate", vm_api_migrate},
	{"GET", "/api/v1/vm.vcpus", vm_api_vcpus},
	{"PUT", "/api/v1/vm.vcpu-pin", vm_api_vcpu_pin},
	{"GET", "/api/v1/vm.measurement", vm_api_measurement},
	{"PUT", "/api/v1/vm.memory", vm_api_memory},
	{"PUT", "/api/v1/vm.registers", vm_api_registers},
	{"PUT", "/api/v1/vm.translate", vm_api_translate},
	{"PUT", "/api/v1/vm.regions", vm_api_regions},
	{"PUT", "/api/v1/vm.watch", vm_api_watch},
	{"PUT", "/api/v1/vm.watch-rearm", vm_api_watch_rearm},
	{"PUT", "/api/v1/vm.watch-remove", vm_api_watch_remove},
	{"GET", "/api/v1/vm.watches", vm_api_watches},
	{"PUT", "/api/v1/vm.dump-core", vm_api_dump_core},
	{"GET", "/metrics", metrics},
};

static void on_state(void *opaque, enum domain_state s)
{
	struct vmm_api *a = opaque;
	char line[128];

	snprintf(line, sizeof(line), "{\"event\":\"state\",\"state\":\"%s\"}\n",
		 domain_state_name(s));
	api_stream_send(a->server, line);
}

int vmm_api_start(struct vmm_api *a, struct domain *d, int listen_fd)
{
	int rc;

	a->dom = d;
	a->info = NULL;
	rc = api_server_start(&a->server, listen_fd, routes, sizeof(routes) / sizeof(routes[0]),
			      a);
	if (!rc)
		domain_set_observer(d, on_state, a);
	if (!rc)
		watch_set_notify(d, vm_api_watch_event, a);
	if (!rc)
		log_info("domain %s: API served (docs/api.md)", d->cfg.name);
	return rc;
}

void vmm_api_stop(struct vmm_api *a)
{
	if (!a->server)
		return;
	domain_set_observer(a->dom, NULL, NULL);
	watch_set_notify(a->dom, NULL, NULL);
	api_server_stop(a->server);
	a->server = NULL;
	free(a->info);
	a->info = NULL;
}
