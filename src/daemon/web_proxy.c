/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /api/v1/... and /metrics on the dashboard's listener (web.h): the same routes and the
 * same handlers as capsuled's API socket, called on the dashboard's thread once the
 * request has a session, and, when it changes state, its CSRF token and a same-origin
 * Origin. Without a session: 401. The streams (events, a followed console) are
 * WebSockets here (web_ws.c): an HTTP stream would need the daemon's stream queue.
 */
#include <string.h>

#include "web.h"

void web_api(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct web *w = ctx;
	struct web_session *s = web_session(w, req);
	const char *method = strcmp(req->method, "HEAD") ? req->method : "GET";
	char arg[8];

	if (!s) {
		api_error(resp, 401, "log in first (POST /login)");
	} else if (strcmp(method, "GET") && !web_csrf_ok(w, s, req, resp)) {
		; /* answered */
	} else if (!strcmp(req->path, "/api/v1/events") ||
		   (!strcmp(req->path, "/api/v1/domain.console") && !strcmp(method, "GET") &&
		    query_get(req->query, "follow", arg, sizeof(arg)) && strcmp(arg, "0"))) {
		api_error(resp, 400, "streams are WebSockets on the dashboard: /ws/events, "
			  "/ws/console?domain=D");
	} else {
		for (size_t i = 0; i < w->nr_api; i++)
			if (!strcmp(w->api[i].path, req->path) && !strcmp(w->api[i].method, method)) {
				w->api[i].fn(w->dm, req, resp);
				break;
			}
		if (!resp->status)
			api_error(resp, 405, "%s is not allowed on %s", req->method, req->path);
	}
	if (resp->stream) { /* a handler that streams: not through here (see above) */
		resp->stream = false;
		api_error(resp, 400, "a stream: use the dashboard's WebSockets");
	}
	resp->headers = web_headers(NULL);
}
