/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sampled write working set (include/capsule/wss.h) in the VMM's API: GET
 * /api/v1/vm.wss, the "write_working_set" of vm.counters, and its /metrics lines.
 */
#include <jansson.h>
#include <stdio.h>

#include "capsule/api.h"
#include "capsule/domain.h"
#include "capsule/vmm_api.h"
#include "capsule/wss.h"

json_t *vm_wss_json(struct domain *d)
{
	struct wss_report r;
	json_t *j;

	wss_report(d, &r);
	j = json_pack("{s:s, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:I}", "state",
		      wss_state_name(r.state), "period_ms", (json_int_t)r.period_ms,
		      "sample_pages", (json_int_t)r.sample, "periods", (json_int_t)r.periods,
		      "last", r.last, "fast", r.fast, "slow", r.slow, "active_fraction", r.estimate,
		      "active_bytes", (json_int_t)(r.estimate * (double)r.mem_bytes));
	if (r.why)
		json_object_set_new(j, "why", json_string(r.why));
	return j;
}

void vm_api_wss(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)req;
	vmm_api_reply(resp, 200, vm_wss_json(((struct vmm_api *)ctx)->dom));
}

void vm_metrics_wss(FILE *f, struct domain *d)
{
	static const char *const names[] = {"last", "fast", "slow", "max"};
	struct wss_report r;

	wss_report(d, &r);
	if (r.state != WSS_SAMPLING && !r.periods)
		return;
	fprintf(f, "# HELP capsule_wss_sampled_fraction Fraction of the sampled pages written "
		   "per period: the last period, the fast and slow moving averages, their max.\n"
		   "# TYPE capsule_wss_sampled_fraction gauge\n");
	for (unsigned i = 0; i < 4; i++) {
		double v = i == 0 ? r.last : i == 1 ? r.fast : i == 2 ? r.slow : r.estimate;

		fprintf(f, "capsule_wss_sampled_fraction{domain=\"%s\",average=\"%s\"} %.4f\n",
			d->cfg.name, names[i], v);
	}
	fprintf(f, "# HELP capsule_wss_periods_total Sampling periods of the current boot.\n"
		   "# TYPE capsule_wss_periods_total counter\n"
		   "capsule_wss_periods_total{domain=\"%s\"} %llu\n"
		   "# HELP capsule_wss_active_bytes The write working set: the estimate times the "
		   "domain's memory.\n# TYPE capsule_wss_active_bytes gauge\n"
		   "capsule_wss_active_bytes{domain=\"%s\"} %.0f\n", d->cfg.name,
		(unsigned long long)r.periods, d->cfg.name, r.estimate * (double)r.mem_bytes);
}
