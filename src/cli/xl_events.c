/* SPDX-License-Identifier: Apache-2.0 */
/* capsule events (the lifecycle stream, as it happens) and capsule log NAME (one domain's
 * history and its VMM's last words). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xl.h"

static void print_event(json_t *e)
{
	time_t t = (time_t)(json_integer_value(json_object_get(e, "time_ns")) / 1000000000);
	const char *detail = json_string_value(json_object_get(e, "detail"));
	char when[32];
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
	printf("%s %-12s %s (id %lld)%s%s\n", when,
	       json_string_value(json_object_get(e, "event")),
	       json_string_value(json_object_get(e, "domain")),
	       (long long)json_integer_value(json_object_get(e, "id")),
	       detail && *detail ? ": " : "", detail ? detail : "");
}

int cmd_events(int argc, char **argv)
{
	char path[64] = "/api/v1/events", err[512], buf[65536];
	size_t len = 0;
	struct xl x;
	int fd, rc = xl_init(&x, argc, argv, "[-S SOCKET] [--json] [-n N]\n\nFollow the "
			     "domains' lifecycle events (created, started, paused, resumed,\n"
			     "shutdown, crashed, restarted, destroyed); -n N replays the last N first.");

	if (rc)
		return rc < 0 ? 2 : 0;
	if (x.argc == 3 && !strcmp(x.argv[1], "-n"))
		snprintf(path, sizeof(path), "/api/v1/events?history=%u",
			 (unsigned)strtoul(x.argv[2], NULL, 10));
	else if (x.argc != 1) {
		fprintf(stderr, "usage: capsule events [-n N]\n");
		return 2;
	}
	if ((fd = httpc_stream(x.sock, path, XL_TIMEOUT_MS, err, sizeof(err))) < 0) {
		xl_conn_error(&x, fd, err);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		ssize_t got = read(fd, buf + len, sizeof(buf) - 1 - len);
		char *nl;

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
		buf[len] = 0;
		while ((nl = memchr(buf, '\n', len))) {
			json_t *e;

			*nl = 0;
			if (x.json)
				printf("%s\n", buf);
			else if ((e = json_loads(buf, 0, NULL))) {
				print_event(e);
				json_decref(e);
			}
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
		}
		if (len == sizeof(buf) - 1)
			len = 0;
	}
	close(fd);
	return 0;
}

int cmd_log(int argc, char **argv)
{
	struct httpc_reply r;
	char path[256];
	struct xl x;
	json_t *j, *e;
	size_t i;
	int rc = xl_init(&x, argc, argv, "[-S SOCKET] [--json] NAME\n\nThe domain's lifecycle "
			 "history and the last of its VMM's log.");

	if (rc)
		return rc < 0 ? 2 : 0;
	if (x.argc != 2) {
		fprintf(stderr, "usage: capsule log NAME\n");
		return 2;
	}
	if (xl_dom_path(&x, "/api/v1/domain.log", x.argv[1], path, sizeof(path)) ||
	    xl_call(&x, "GET", path, NULL, NULL, 0, &r))
		return 1;
	if (x.json) {
		xl_print_json(r.body);
	} else if ((j = json_loads(r.body, 0, NULL))) {
		const char *vlog = json_string_value(json_object_get(j, "vmm_log"));

		json_array_foreach(json_object_get(j, "events"), i, e)
			print_event(e);
		if (vlog && *vlog)
			printf("--- the VMM's log ---\n%s%s", vlog,
			       vlog[strlen(vlog) - 1] == '\n' ? "" : "\n");
		json_decref(j);
	}
	httpc_reply_free(&r);
	return 0;
}
