/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GET /api/v1/vm.measurement: the launch measurement (docs/measured-launch.md) with each
 * event's digest and the configuration text, so a verifier can recompute the chain.
 * Fixed for the domain's life: computed once, at its creation.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "capsule/api.h"
#include "capsule/domain.h"
#include "capsule/vmm_api.h"

void vm_api_measurement(void *ctx, const struct http_request *req, struct http_response *resp)
{
	const struct launch_measure *m = &((struct vmm_api *)ctx)->dom->measure;
	char hex[2 * MEASURE_LEN + 1];
	json_t *events = json_array(), *j;
	char *text;

	(void)req;
	for (unsigned i = 0; i < MEASURE_EVENTS; i++) {
		measure_hex(m->event[i], hex);
		json_array_append_new(events, json_pack("{s:s, s:s}", "name", measure_event_names[i],
							"digest", hex));
	}
	measure_hex(m->value, hex);
	j = json_pack("{s:s, s:s, s:o, s:s}", "algorithm", "sha256", "measurement", hex,
		      "events", events, "config", m->config);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (text)
		api_json(resp, 200, text);
	else
		api_error(resp, 500, "out of memory");
	free(text);
}
