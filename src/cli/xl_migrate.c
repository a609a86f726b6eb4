/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capsule migrate NAME HOST[:PORT] [--insecure] [--downtime MS] [--auto-converge]
 * [--max-rounds N] [--postcopy], and capsule migrate-abort NAME: clients of capsuled's migration routes
 * (docs/migration.md, "Through capsuled"). HOST is the destination capsuled's
 * --migrate-listen address; PORT defaults to MIGRATE_PORT.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xl.h"

#define MIGRATE_PORT "8002" /* xend's relocation port */
#define MIGRATE_TIMEOUT_MS 900000

static const char *const migrate_usage =
	"[-S SOCKET] NAME HOST[:PORT] [--insecure] [--downtime MS] [--auto-converge]\n"
	"          [--max-rounds N] [--postcopy]\n\n"
	"Live-migrate the running domain to the capsuled on HOST (its --migrate-listen, port\n"
	MIGRATE_PORT " unless given), mutually authenticated TLS with this capsuled's\n"
	"--migrate-tls DIR; --insecure: plain TCP. Pre-copy rounds until the last would take\n"
	"at most MS (50), or N rounds (30); --auto-converge throttles a guest that dirties\n"
	"faster than the link; --postcopy switches over at once and the pages follow, asked\n"
	"for as the guest touches them and pushed meanwhile. On success the domain is the\n"
	"destination's and leaves this host's list; on any failure before the switch-over\n"
	"it runs on here. 'capsule migrate-abort NAME' stops it before the switch-over.";

static bool number(const char *s, long lo, long hi, long *out)
{
	char *end;

	*out = s ? strtol(s, &end, 10) : 0;
	return s && *s && !*end && *out >= lo && *out <= hi;
}

int cmd_migrate(int argc, char **argv)
{
	char path[256], dest[160], err[512], *text;
	bool insecure = false, converge = false, postcopy = false;
	long downtime = 50, rounds = 30;
	struct httpc_reply r;
	const char *pos[2] = {NULL, NULL};
	unsigned npos = 0;
	json_t *body, *out;
	struct xl x;
	int rc = xl_init(&x, argc, argv, migrate_usage);

	if (rc)
		return rc < 0 ? 2 : 0;
	for (int i = 1; i < x.argc; i++) {
		const char *a = x.argv[i];

		if (!strcmp(a, "--insecure"))
			insecure = true;
		else if (!strcmp(a, "--auto-converge"))
			converge = true;
		else if (!strcmp(a, "--postcopy"))
			postcopy = true;
		else if (!strcmp(a, "--downtime") && i + 1 < x.argc &&
			 number(x.argv[i + 1], 1, 60000, &downtime))
			i++;
		else if (!strcmp(a, "--max-rounds") && i + 1 < x.argc &&
			 number(x.argv[i + 1], 1, 1000, &rounds))
			i++;
		else if (a[0] != '-' && npos < 2)
			pos[npos++] = a;
		else
			npos = 3;
	}
	if (npos != 2) {
		fprintf(stderr, "usage: capsule migrate NAME HOST[:PORT] [--insecure] [--downtime MS "
			"(1-60000)] [--auto-converge] [--max-rounds N (1-1000)] [--postcopy]\n");
		return 2;
	}
	/* HOST, HOST:PORT, [V6], [V6]:PORT */
	if (strchr(pos[1], ']') ? strstr(pos[1], "]:") != NULL
				: strchr(pos[1], ':') != NULL)
		snprintf(dest, sizeof(dest), "%s", pos[1]);
	else
		snprintf(dest, sizeof(dest), "%s:%s", pos[1], MIGRATE_PORT);
	if (xl_dom_path(&x, "/api/v1/domain.migrate", pos[0], path, sizeof(path)))
		return 1;
	body = json_pack("{s:s, s:b, s:i, s:i, s:b, s:b}", "dest", dest, "insecure", insecure,
			 "downtime_ms", (int)downtime, "max_rounds", (int)rounds, "auto_converge",
			 converge, "postcopy", postcopy);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text)
		return 1;
	rc = httpc_request(x.sock, "POST", path, NULL, text, strlen(text), MIGRATE_TIMEOUT_MS, &r,
			   err, sizeof(err));
	free(text);
	if (rc < 0) {
		xl_conn_error(&x, rc, err);
		return 1;
	}
	if (rc >= 300) {
		fprintf(stderr, "capsule migrate: %s\n", httpc_error_text(r.body, err, sizeof(err)));
		httpc_reply_free(&r);
		return 1;
	}
	if (x.json) {
		xl_print_json(r.body ? r.body : "{}");
	} else if ((out = json_loads(r.body ? r.body : "{}", 0, NULL))) {
		printf("migrated %s to %s: %lld rounds, %lld bytes, down %.2f ms\n", pos[0], dest,
		       (long long)json_integer_value(json_object_get(out, "rounds")),
		       (long long)json_integer_value(json_object_get(out, "bytes")),
		       json_number_value(json_object_get(out, "downtime_ms")));
		json_decref(out);
	}
	httpc_reply_free(&r);
	return 0;
}

int cmd_migrate_abort(int argc, char **argv)
{
	struct httpc_reply r;
	char p[256];
	struct xl x;
	int rc = xl_init(&x, argc, argv, "[-S SOCKET] NAME\n\nStop the domain's migration "
			 "before its switch-over: it runs on here.");

	if (rc)
		return rc < 0 ? 2 : 0;
	if (x.argc != 2) {
		fprintf(stderr, "usage: capsule migrate-abort NAME\n");
		return 2;
	}
	if (xl_dom_path(&x, "/api/v1/domain.migrate-abort", x.argv[1], p, sizeof(p)) ||
	    xl_call(&x, "PUT", p, NULL, NULL, 0, &r))
		return 1;
	httpc_reply_free(&r);
	return 0;
}
