/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GET /api/v1/vm.vcpus and PUT /api/v1/vm.vcpu-pin (docs/api/openapi.json,
 * docs/resources.md): each vCPU's thread, CPU time and affinity, and xl's vcpu-pin. The
 * domain keeps each vCPU's set (d->affinity) across reboots; a running vCPU thread is
 * pinned at once with sched_setaffinity on its tid.
 */
#include <errno.h>
#include <jansson.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsule/api.h"
#include "capsule/cgroup.h"
#include "capsule/domain.h"
#include "capsule/vmm_api.h"

static void reply(struct http_response *resp, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (!text) {
		api_error(resp, 500, "out of memory");
		return;
	}
	api_json(resp, 200, text);
	free(text);
}

void vm_api_vcpus(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct domain *d = ((struct vmm_api *)ctx)->dom;
	unsigned nr_host = cpulist_host_cpus();
	json_t *arr = json_array();
	char list[1024];

	(void)req;
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; arr && i < d->cfg.vcpus; i++) {
		struct vcpu *v = d->vm && i < d->vm->nr_vcpus ? &d->vm->vcpus[i] : NULL;
		pid_t tid = v ? __atomic_load_n(&v->tid, __ATOMIC_SEQ_CST) : 0;
		const char *state = !v || d->state == DOMAIN_SHUTOFF || d->state == DOMAIN_CRASHED
					    ? "offline"
				    : d->state == DOMAIN_PAUSED ? "paused"
				    : v->state == VCPU_RUNNING ? "running" : "blocked";

		cpulist_format(&d->affinity[i], nr_host, list, sizeof(list));
		json_array_append_new(arr, json_pack("{s:i, s:i, s:s, s:f, s:s}", "id", (int)i,
						     "tid", (int)tid, "state", state, "cpu_s",
						     v ? vcpu_cpu_ns(v) / 1e9 : 0.0, "affinity",
						     list));
	}
	pthread_mutex_unlock(&d->lock);
	reply(resp, arr ? json_pack("{s:o}", "vcpus", arr) : NULL);
}

void vm_api_vcpu_pin(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct domain *d = ((struct vmm_api *)ctx)->dom;
	json_t *j = NULL, *jv, *jc;
	unsigned first, last;
	char err[300];
	json_error_t e;
	cpu_set_t set;
	const char *k;
	json_t *val;
	int failed = 0;

	if (req->body_len)
		j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &e);
	if (!j || !json_is_object(j)) {
		api_error(resp, 400, "the body must be a JSON object: {\"vcpu\": N or \"all\", "
			  "\"cpus\": \"0-3,^1\"}");
		goto out;
	}
	json_object_foreach(j, k, val)
		if (strcmp(k, "vcpu") && strcmp(k, "cpus")) {
			api_error(resp, 400, "unknown field \"%s\" (vcpu, cpus)", k);
			goto out;
		}
	jv = json_object_get(j, "vcpu");
	jc = json_object_get(j, "cpus");
	if (!json_is_string(jc)) {
		api_error(resp, 400, "\"cpus\" must be a CPU list such as \"0-3,^1\" or \"all\"");
		goto out;
	}
	if (cpulist_parse(json_string_value(jc), cpulist_host_cpus(), &set, err, sizeof(err))) {
		api_error(resp, 400, "%s", err);
		goto out;
	}
	if (json_is_string(jv) && !strcmp(json_string_value(jv), "all")) {
		first = 0;
		last = d->cfg.vcpus - 1;
	} else if (json_is_integer(jv) && json_integer_value(jv) >= 0 &&
		   json_integer_value(jv) < d->cfg.vcpus) {
		first = last = (unsigned)json_integer_value(jv);
	} else {
		api_error(resp, 400, "\"vcpu\" must be \"all\" or a vCPU of the domain (0-%u)",
			  d->cfg.vcpus - 1);
		goto out;
	}
	pthread_mutex_lock(&d->lock);
	for (unsigned i = first; i <= last; i++) {
		struct vcpu *v = d->vm && i < d->vm->nr_vcpus ? &d->vm->vcpus[i] : NULL;
		pid_t tid;

		d->affinity[i] = set; /* before the tid is read: see vcpu_thread() */
		tid = v ? __atomic_load_n(&v->tid, __ATOMIC_SEQ_CST) : 0;
		if (tid > 0 && sched_setaffinity(tid, sizeof(set), &set) < 0 && errno != ESRCH)
			failed = errno;
	}
	pthread_mutex_unlock(&d->lock);
	if (failed)
		api_error(resp, 500, "cannot pin the vCPU thread: %s", strerror(failed));
	else
		resp->status = 204;
out:
	json_decref(j);
}
