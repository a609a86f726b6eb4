/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-domain VMM API (src/api/vm.c, docs/api/openapi.json): the domain's endpoints on
 * the HTTP server of include/capsule/api.h, and its lifecycle events on vm.events.
 */
#ifndef CAPSULE_VMM_API_H
#define CAPSULE_VMM_API_H

#include <stdio.h>

struct domain;
struct api_server;

struct vmm_api {
	struct domain *dom;
	struct api_server *server;
	/* vm.info's answer, made again only when what it says can have changed (the state
	 * or a new boot): the API thread's alone. */
	char *info;
	size_t info_len;
	unsigned info_state, info_boots;
};

/* Serve d's API on a listening socket (the server owns it): 0 or a negative errno. */
int vmm_api_start(struct vmm_api *a, struct domain *d, int listen_fd);
void vmm_api_stop(struct vmm_api *a);
/* PUT /api/v1/vm.snapshot (src/api/vm_snapshot.c). */
struct http_request;
struct http_response;
/* The vCPUs' lines of /metrics (src/api/vm_metrics.c). */
void vm_metrics_vcpus(FILE *f, struct domain *d);
/* The domain's disks' and NICs' accounting, summed (include/capsule/devices.h). */
struct dev_io;
void vm_io_totals(struct domain *d, struct dev_io *blk, struct dev_io *net);
void vm_api_snapshot(void *ctx, const struct http_request *req, struct http_response *resp);
void vm_api_working_set(void *ctx, const struct http_request *req,
			struct http_response *resp);
/* GET /api/v1/vm.vcpus, PUT /api/v1/vm.vcpu-pin (src/api/vm_vcpus.c). */
void vm_api_vcpus(void *ctx, const struct http_request *req, struct http_response *resp);
void vm_api_vcpu_pin(void *ctx, const struct http_request *req, struct http_response *resp);
/* The sampled write working set (src/api/vm_wss.c): GET /api/v1/vm.wss, its JSON (for
 * vm.counters) and its lines of /metrics. */
struct json_t *vm_wss_json(struct domain *d);
void vm_api_wss(void *ctx, const struct http_request *req, struct http_response *resp);
void vm_metrics_wss(FILE *f, struct domain *d);
/* GET vm.measurement (src/api/vm_measure.c). */
void vm_api_measurement(void *ctx, const struct http_request *req, struct http_response *resp);
/* For the endpoints' files (src/api/vm.c): the request's body, empty or a JSON object of
 * only these keys (NULL-terminated), or NULL with the 400 answered; and a JSON answer
 * (j is taken). */
typedef struct json_t json_t;
json_t *vmm_api_body(const struct http_request *req, struct http_response *resp,
		     const char *const *keys);
void vmm_api_reply(struct http_response *resp, int status, json_t *j);
/* Introspection (src/api/vm_introspect.c, docs/introspection.md). */
void vm_api_memory(void *ctx, const struct http_request *req, struct http_response *resp);
void vm_api_registers(void *ctx, const struct http_request *req, struct http_response *resp);
void vm_api_translate(void *ctx, const struct http_request *req, struct http_response *resp);
void vm_api_regions(void *ctx, const struct http_request *req, struct http_response *resp);
void vm_api_watch(void *ctx, const struct http_request *req, struct http_response *resp);
void vm_api_watch_rearm(void *ctx, const struct http_request *req, struct http_response *resp);
void vm_api_watch_remove(void *ctx, const struct http_request *req, struct http_response *resp);
void vm_api_watches(void *ctx, const struct http_request *req, struct http_response *resp);
void vm_api_dump_core(void *ctx, const struct http_request *req, struct http_response *resp);
struct watch_event;
void vm_api_watch_event(void *opaque, const struct watch_event *e);
/* PUT /api/v1/vm.migrate (src/api/vm_migrate.c). */
void vm_api_migrate(void *ctx, const struct http_request *req, struct http_response *resp);

#endif
