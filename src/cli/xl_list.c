/* SPDX-License-Identifier: Apache-2.0 */
/* capsule list [NAME...] and capsule info NAME: xl's table, and one domain in full. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xl.h"

/* xl's six-letter state: r b p s c d, one position each. */
static void state_field(const char *letter, char out[7])
{
	static const char order[] = "rbpscd";
	const char *at = letter && *letter ? strchr(order, *letter) : NULL;

	memcpy(out, "------", 7);
	if (at)
		out[at - order] = *at;
}

static bool wanted(const struct xl *x, json_t *d)
{
	char id[24];

	if (x->argc < 2)
		return true;
	snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(d, "id")));
	for (int i = 1; i < x->argc; i++)
		if (!strcmp(x->argv[i], json_string_value(json_object_get(d, "name"))) ||
		    !strcmp(x->argv[i], id) ||
		    !strcmp(x->argv[i], json_string_value(json_object_get(d, "uuid"))))
			return true;
	return false;
}

int cmd_list(int argc, char **argv)
{
	struct httpc_reply r;
	struct xl x;
	json_t *all, *d;
	size_t i;
	int rc = xl_init(&x, argc, argv, "[-S SOCKET] [--json] [NAME...]\n\nList the domains "
			 "(xl's columns; State: r running, b blocked, p paused, s shut off,\n"
			 "c crashed, d dying; Time(s): the VMM's CPU time).");

	if (rc)
		return rc < 0 ? 2 : 0;
	if (xl_call(&x, "GET", "/api/v1/domains", NULL, NULL, 0, &r))
		return 1;
	if (!(all = json_loads(r.body, 0, NULL))) {
		fprintf(stderr, "capsule list: capsuled sent no JSON\n");
		return 1;
	}
	if (x.json) {
		json_t *sel = json_array();

		json_array_foreach(json_object_get(all, "domains"), i, d)
			if (wanted(&x, d))
				json_array_append(sel, d);
		char *t = json_dumps(sel, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		printf("%s\n", t ? t : "[]");
		free(t);
		json_decref(sel);
	} else {
		printf("%-40s %5s %5s %5s     %-6s %9s\n", "Name", "ID", "Mem", "VCPUs", "State",
		       "Time(s)");
		json_array_foreach(json_object_get(all, "domains"), i, d) {
			char st[7];

			if (!wanted(&x, d))
				continue;
			state_field(json_string_value(json_object_get(d, "state_letter")), st);
			printf("%-40s %5lld %5lld %5lld     %-6s %9.1f\n",
			       json_string_value(json_object_get(d, "name")),
			       (long long)json_integer_value(json_object_get(d, "id")),
			       (long long)json_integer_value(json_object_get(d, "memory_mib")),
			       (long long)json_integer_value(json_object_get(d, "vcpus")), st,
			       json_real_value(json_object_get(d, "cpu_time_s")));
		}
	}
	json_decref(all);
	httpc_reply_free(&r);
	return 0;
}

int cmd_info(int argc, char **argv)
{
	static const char *const keys[] = {
		"name", "id", "uuid", "type", "state", "memory_mib", "vcpus", "cpu_time_s",
		"uptime_s", "pid", "restarts", "exit_status", "exit_reason", "on_poweroff",
		"on_reboot", "on_crash", "api_sock",
	};
	struct httpc_reply r;
	char path[256];
	struct xl x;
	json_t *d;
	int rc = xl_init(&x, argc, argv, "[-S SOCKET] [--json] NAME\n\nOne domain: its state, "
			 "configuration and what its VMM reports.");

	if (rc)
		return rc < 0 ? 2 : 0;
	if (x.argc != 2) {
		fprintf(stderr, "usage: capsule info NAME\n");
		return 2;
	}
	if (xl_dom_path(&x, "/api/v1/domain.info", x.argv[1], path, sizeof(path)) ||
	    xl_call(&x, "GET", path, NULL, NULL, 0, &r))
		return 1;
	if (x.json) {
		xl_print_json(r.body);
	} else if ((d = json_loads(r.body, 0, NULL))) {
		char *cfg = json_dumps(json_object_get(d, "config"), JSON_COMPACT);

		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			json_t *v = json_object_get(d, keys[i]);

			if (json_is_string(v))
				printf("%-12s: %s\n", keys[i], json_string_value(v));
			else if (json_is_integer(v))
				printf("%-12s: %lld\n", keys[i], (long long)json_integer_value(v));
			else if (json_is_real(v))
				printf("%-12s: %.2f\n", keys[i], json_real_value(v));
		}
		json_t *m = json_object_get(json_object_get(d, "vmm"), "measurement");

		if (json_is_string(m)) /* docs/measured-launch.md */
			printf("%-12s: %s\n", "measurement", json_string_value(m));
		json_t *ksm = json_object_get(d, "ksm"), *mp = json_object_get(d, "mem_policy");

		if (ksm) /* docs/resources.md */
			printf("%-12s: %lld pages merged (%lld KiB)\n", "ksm",
			       (long long)json_integer_value(json_object_get(ksm, "merging_pages")),
			       (long long)json_integer_value(json_object_get(ksm, "merging_pages")) * 4);
		if (mp)
			printf("%-12s: balloon %lld MiB, active %lld MiB, shares %lld, min %lld MiB, "
			       "rho %.4g\n", "mem_policy",
			       (long long)json_integer_value(json_object_get(mp, "balloon_mib")),
			       (long long)json_integer_value(json_object_get(mp, "active_mib")),
			       (long long)json_integer_value(json_object_get(mp, "shares")),
			       (long long)json_integer_value(json_object_get(mp, "min_mib")),
			       json_number_value(json_object_get(mp, "rho")));
		printf("%-12s: %s\n", "config", cfg ? cfg : "null");
		free(cfg);
		json_decref(d);
	}
	httpc_reply_free(&r);
	return 0;
}
