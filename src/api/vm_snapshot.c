/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PUT /api/v1/vm.snapshot (docs/api.md): snapshot the domain into two files the client
 * opened and passed with the request (SCM_RIGHTS, state first, then memory), so that the
 * VMM, which opens no files once confined, writes only where its client chose.
 * Body {"save": true} ends the domain afterwards (xl save); default: it runs on.
 * {"diff": true}: only the pages written since the previous snapshot of this boot
 * (src/snapshot/diff.c); the reply names the snapshot and its parent by id.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "capsule/api.h"
#include "capsule/snapshot.h"
#include "capsule/vmm_api.h"

void vm_api_snapshot(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct domain *d = ((struct vmm_api *)ctx)->dom;
	struct snapshot_report rep;
	json_error_t e;
	json_t *j = req->body_len ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &e)
				  : json_object();
	json_t *save, *diff;
	struct snapshot_opts o = {0};
	char err[512], *text, id[2 * SNAP_ID_LEN + 1], parent[2 * SNAP_ID_LEN + 1];
	const char *key;
	json_t *v;
	int rc;

	if (!j || !json_is_object(j)) {
		api_error(resp, 400, "the body must be a JSON object: {\"save\": true|false, "
			  "\"diff\": true|false}");
		json_decref(j);
		return;
	}
	json_object_foreach(j, key, v)
		if (strcmp(key, "save") && strcmp(key, "diff")) {
			api_error(resp, 400, "unknown field \"%s\" (save, diff)", key);
			json_decref(j);
			return;
		}
	save = json_object_get(j, "save");
	diff = json_object_get(j, "diff");
	if ((save && !json_is_boolean(save)) || (diff && !json_is_boolean(diff))) {
		api_error(resp, 400, "\"save\" and \"diff\" must be booleans");
		json_decref(j);
		return;
	}
	o.end_after = save && json_is_true(save);
	o.diff = diff && json_is_true(diff);
	json_decref(j);
	if (req->nr_fds != 2) {
		api_error(resp, 400, "pass the state file and the memory file, open for writing, as "
			  "two descriptors (SCM_RIGHTS) with the request; %u came", req->nr_fds);
		return;
	}
	rc = snapshot_take_opts(d, req->fds[0], req->fds[1], &o, &rep, err, sizeof(err));
	if (rc) {
		api_error(resp, rc == -EINVAL ? 409 : 500, "%s", err);
		return;
	}
	text = NULL;
	for (unsigned i = 0; i < SNAP_ID_LEN; i++) {
		snprintf(id + 2 * i, 3, "%02x", rep.id[i]);
		snprintf(parent + 2 * i, 3, "%02x", rep.parent[i]);
	}
	j = json_pack("{s:f, s:f, s:I, s:i, s:b, s:b, s:I, s:s, s:s}", "pause_ms",
		      rep.pause_ns / 1e6, "state_ms", rep.state_ns / 1e6, "memory_bytes",
		      (json_int_t)rep.memory_bytes, "generation", (int)d->generation, "saved",
		      o.end_after, "diff", o.diff, "pages", (json_int_t)rep.pages, "id", id,
		      "parent", o.diff ? parent : "");
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

/*
 * PUT /api/v1/vm.working-set: record the pages this restored domain has touched so far
 * into the file the client passed (one descriptor, open for writing), as a working-set
 * file for the next restore from its snapshot (docs/snapshot.md, src/snapshot/
 * workingset.c). 409 for a domain not restored from a snapshot directory.
 */
void vm_api_working_set(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct domain *d = ((struct vmm_api *)ctx)->dom;
	uint64_t pages = 0, ranges = 0;
	char err[256];
	json_t *j;
	int rc;

	if (req->nr_fds != 1) {
		api_error(resp, 400, "pass the working-set file, open for writing, as one "
			  "descriptor (SCM_RIGHTS) with the request; %u came", req->nr_fds);
		return;
	}
	pthread_mutex_lock(&d->lock); /* d->vm stays while it is held */
	if (!d->vm || !d->restore || d->restore->pagemap_fd < 0 || d->boots > 1) {
		pthread_mutex_unlock(&d->lock);
		api_error(resp, 409, "only the first boot of a domain restored from a snapshot "
			  "directory (capsule run --restore DIR) has a working set");
		return;
	}
	rc = ws_record(&d->vm->mem, d->restore->pagemap_fd, req->fds[0], &pages, &ranges, err,
		       sizeof(err));
	pthread_mutex_unlock(&d->lock);
	if (rc) {
		api_error(resp, 500, "%s", err);
		return;
	}
	j = json_pack("{s:I, s:I}", "pages", (json_int_t)pages, "ranges", (json_int_t)ranges);
	vmm_api_reply(resp, 200, j);
}
