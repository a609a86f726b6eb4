/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PUT /api/v1/vm.migrate (docs/api.md, docs/migration.md): migrate the domain over the
 * TCP connection the client made to the destination and passed with the request
 * (SCM_RIGHTS), so the VMM makes no sockets. Body: {"dest": "HOST:PORT" (for the log),
 * "downtime_ms": 50, "max_rounds": 30, "auto_converge": false, "postcopy": false}. Progress goes to vm.events as it happens.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsule/api.h"
#include "capsule/log.h"
#include "capsule/migrate.h"
#include "capsule/vmm_api.h"
#include "server.h"

/* The migration holds the API thread: hand each event to the streams now, not after. */
static void progress(void *opaque, const char *json)
{
	struct api_server *s = opaque;

	api_stream_send(s, json);
	stream_ready(NULL, &s->wake_src, 0);
}

void vm_api_migrate(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct vmm_api *a = ctx;
	struct migrate_opts o = {.downtime_ms = 50, .max_rounds = 30};
	struct migrate_report rep;
	json_error_t e;
	json_t *j = req->body_len ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &e)
				  : json_object();
	const char *key, *dest = "?";
	char err[512], *text;
	json_t *v;
	int rc;

	if (!j || !json_is_object(j)) {
		api_error(resp, 400, "the body must be a JSON object: {\"dest\": \"HOST:PORT\", "
			  "\"downtime_ms\": N, \"max_rounds\": N}");
		json_decref(j);
		return;
	}
	json_object_foreach(j, key, v) {
		if (!strcmp(key, "dest") && json_is_string(v)) {
			dest = json_string_value(v);
		} else if (!strcmp(key, "downtime_ms") && json_is_integer(v) &&
			   json_integer_value(v) >= 1 && json_integer_value(v) <= 60000) {
			o.downtime_ms = (uint64_t)json_integer_value(v);
		} else if (!strcmp(key, "max_rounds") && json_is_integer(v) &&
			   json_integer_value(v) >= 1 && json_integer_value(v) <= 1000) {
			o.max_rounds = (unsigned)json_integer_value(v);
		} else if (!strcmp(key, "auto_converge") && json_is_boolean(v)) {
			o.auto_converge = json_is_true(v);
		} else if (!strcmp(key, "postcopy") && json_is_boolean(v)) {
			o.postcopy = json_is_true(v);
		} else {
			api_error(resp, 400, "bad field \"%s\" (dest: a string, downtime_ms: 1 to "
				  "60000, max_rounds: 1 to 1000, auto_converge and postcopy: booleans)", key);
			json_decref(j);
			return;
		}
	}
	if (req->nr_fds != 1) {
		api_error(resp, 400, "pass the TCP connection to the destination as one descriptor "
			  "(SCM_RIGHTS) with the request; %u came", req->nr_fds);
		json_decref(j);
		return;
	}
	log_info("domain %s: migration to %s", a->dom->cfg.name, dest);
	json_decref(j);
	rc = migrate_send(a->dom, req->fds[0], &o, progress, a->server, &rep, err, sizeof(err));
	if (rc) {
		api_error(resp, rc == -EINVAL ? 409 : 502, "%s", err);
		return;
	}
	text = NULL;
	j = json_pack("{s:b, s:i, s:I, s:I, s:I, s:f, s:f, s:i, s:I, s:I}", "migrated", 1,
		      "rounds", (int)rep.rounds, "bytes", (json_int_t)rep.bytes, "pages",
		      (json_int_t)rep.pages, "last_pages", (json_int_t)rep.last_pages, "downtime_ms",
		      rep.downtime_ns / 1e6, "total_ms", rep.total_ns / 1e6, "throttle_pct",
		      (int)rep.throttle_pct, "postcopy_pages", (json_int_t)rep.pc_pushed,
		      "postcopy_requested", (json_int_t)rep.pc_requested);
	if (j)
		text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!text) {
		api_error(resp, 500, "out of memory");
		return;
	}
	resp->status = 200;
	resp->body = text;
	resp->body_len = strlen(text);
}
