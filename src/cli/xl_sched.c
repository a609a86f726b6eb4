/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capsule sched-credit, vcpu-pin, vcpu-list: xl's CPU verbs (docs/resources.md), clients of
 * capsuled's /api/v1/sched, domain.sched, domain.vcpus and domain.vcpu-pin. capsuled and
 * the VMM check every value; what the CLI checks itself is only that a number is one.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xl.h"

/* A whole number, all of s (a sign allowed: capsuled says what the range is). */
static int number(const struct xl *x, const char *what, const char *s, long long *out)
{
	char *end;

	errno = 0;
	*out = s && *s ? strtoll(s, &end, 10) : 0;
	if (!s || !*s || *end || errno) {
		fprintf(stderr, "capsule %s: %s '%s' is not a whole number\n", x->verb, what,
			s ? s : "");
		return -1;
	}
	return 0;
}

static void sched_print(json_t *all)
{
	json_t *d;
	size_t i;

	printf("Cpupool Pool-0: cgroup=v%lld period=%lldus\n",
	       (long long)json_integer_value(json_object_get(all, "cgroup")),
	       (long long)json_integer_value(json_object_get(all, "period_us")));
	printf("%-32s %5s %6s %4s\n", "Name", "ID", "Weight", "Cap");
	json_array_foreach(json_object_get(all, "domains"), i, d)
		printf("%-32s %5lld %6lld %4lld\n", json_string_value(json_object_get(d, "name")),
		       (long long)json_integer_value(json_object_get(d, "id")),
		       (long long)json_integer_value(json_object_get(d, "weight")),
		       (long long)json_integer_value(json_object_get(d, "cap")));
}

int cmd_sched_credit(int argc, char **argv)
{
	const char *name = NULL, *w = NULL, *c = NULL;
	long long weight = 0, cap = 0;
	struct httpc_reply r;
	char path[256], *body;
	struct xl x;
	json_t *all;
	int rc = xl_init(&x, argc, argv, "[-S SOCKET] [--json] [[-d] NAME [-w WEIGHT] "
			 "[-c CAP]]\n\nShow or set domains' CPU weight (1-65535, default 256: "
			 "twice the weight,\ntwice the CPU when CPUs are short) and cap (percent of "
			 "one physical CPU,\n0 = none). No NAME: every domain.\n\n"
			 "  -d, --domain NAME  the domain (or give it as the first argument)\n"
			 "  -w, --weight W     set its weight\n"
			 "  -c, --cap C        set its cap");

	if (rc)
		return rc < 0 ? 2 : 0;
	for (int i = 1; i < x.argc; i++) {
		const char *a = x.argv[i], **to = !strcmp(a, "-d") || !strcmp(a, "--domain") ? &name
					    : !strcmp(a, "-w") || !strcmp(a, "--weight") ? &w
					    : !strcmp(a, "-c") || !strcmp(a, "--cap") ? &c : NULL;

		if (to && i + 1 < x.argc) {
			*to = x.argv[++i];
		} else if (to) {
			fprintf(stderr, "capsule sched-credit: %s needs a value\n", a);
			return 2;
		} else if (a[0] == '-' || name) {
			fprintf(stderr, "capsule sched-credit: unexpected '%s'; see "
				"'capsule sched-credit --help'\n", a);
			return 2;
		} else {
			name = a;
		}
	}
	if ((w || c) && !name) {
		fprintf(stderr, "capsule sched-credit: -w and -c need a domain (-d NAME)\n");
		return 2;
	}
	if ((w && number(&x, "weight", w, &weight)) || (c && number(&x, "cap", c, &cap)))
		return 1;
	if (w || c) {
		json_t *j = json_object();

		if (w)
			json_object_set_new(j, "weight", json_integer(weight));
		if (c)
			json_object_set_new(j, "cap", json_integer(cap));
		body = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		if (!body)
			return 1;
		if (xl_dom_path(&x, "/api/v1/domain.sched", name, path, sizeof(path)) ||
		    xl_call(&x, "PUT", path, NULL, body, strlen(body), &r)) {
			free(body);
			return 1;
		}
		free(body);
		httpc_reply_free(&r);
		return 0;
	}
	if (name ? xl_dom_path(&x, "/api/v1/sched", name, path, sizeof(path))
		 : (snprintf(path, sizeof(path), "/api/v1/sched"), 0))
		return 1;
	if (xl_call(&x, "GET", path, NULL, NULL, 0, &r))
		return 1;
	if (x.json)
		xl_print_json(r.body);
	else if ((all = json_loads(r.body, 0, NULL))) {
		sched_print(all);
		json_decref(all);
	}
	httpc_reply_free(&r);
	return 0;
}

int cmd_vcpu_pin(int argc, char **argv)
{
	struct httpc_reply r;
	char path[256], *body;
	long long vcpu = -1;
	struct xl x;
	json_t *j;
	int rc = xl_init(&x, argc, argv, "[-S SOCKET] NAME VCPU|all CPUS [-]\n\nPin a vCPU (or "
			 "all) of a running domain to CPUS, xl's CPU list: N, N-M,\n^N to leave "
			 "out, comma-separated, or all (e.g. 0-3,^1). Soft affinity is\nnot "
			 "supported: a fourth argument may only be '-' or 'all'.");

	if (rc)
		return rc < 0 ? 2 : 0;
	if (x.argc != 4 && x.argc != 5) {
		fprintf(stderr, "usage: capsule vcpu-pin NAME VCPU|all CPUS\n");
		return 2;
	}
	if (x.argc == 5 && strcmp(x.argv[4], "-") && strcmp(x.argv[4], "all")) {
		fprintf(stderr, "capsule vcpu-pin: soft affinity is not supported (give '-' or "
			"leave it out)\n");
		return 1;
	}
	if (strcmp(x.argv[2], "all") && (number(&x, "vCPU", x.argv[2], &vcpu) || vcpu < 0)) {
		if (vcpu < 0 && errno == 0 && x.argv[2][0] == '-')
			fprintf(stderr, "capsule vcpu-pin: vCPU %s: vCPUs count from 0\n",
				x.argv[2]);
		return 1;
	}
	j = json_pack("{s:o, s:s}", "vcpu", vcpu < 0 ? json_string("all") : json_integer(vcpu),
		      "cpus", x.argv[3]);
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!body) {
		fprintf(stderr, "capsule vcpu-pin: the CPU list is not valid text\n");
		return 1;
	}
	rc = xl_dom_path(&x, "/api/v1/domain.vcpu-pin", x.argv[1], path, sizeof(path)) ||
	     xl_call(&x, "PUT", path, NULL, body, strlen(body), &r);
	free(body);
	if (rc)
		return 1;
	httpc_reply_free(&r);
	return 0;
}

static const char *vcpu_state(const char *s)
{
	return !s ? "---" : !strcmp(s, "running") ? "r--" : !strcmp(s, "paused") ? "--p"
	       : !strcmp(s, "blocked") ? "-b-" : "---";
}

int cmd_vcpu_list(int argc, char **argv)
{
	struct httpc_reply r;
	char path[256];
	struct xl x;
	json_t *all, *d, *v;
	size_t i, k;
	int rc = xl_init(&x, argc, argv, "[-S SOCKET] [--json] [NAME]\n\nEach vCPU of the "
			 "running domains (or of NAME): the CPU its thread last ran on,\nits state "
			 "(r running, b blocked, p paused), CPU time and affinity.");

	if (rc)
		return rc < 0 ? 2 : 0;
	if (x.argc > 2) {
		fprintf(stderr, "usage: capsule vcpu-list [NAME]\n");
		return 2;
	}
	if (x.argc == 2 ? xl_dom_path(&x, "/api/v1/domain.vcpus", x.argv[1], path, sizeof(path))
			: (snprintf(path, sizeof(path), "/api/v1/domain.vcpus"), 0))
		return 1;
	if (xl_call(&x, "GET", path, NULL, NULL, 0, &r))
		return 1;
	if (x.json) {
		xl_print_json(r.body);
	} else if ((all = json_loads(r.body, 0, NULL))) {
		printf("%-32s %5s %5s %5s %5s %9s %s\n", "Name", "ID", "VCPU", "CPU", "State",
		       "Time(s)", "Affinity (Hard / Soft)");
		json_array_foreach(json_object_get(all, "domains"), i, d)
			json_array_foreach(json_object_get(d, "vcpus"), k, v) {
				long long cpu = json_integer_value(json_object_get(v, "cpu"));
				char cpus[16];

				snprintf(cpus, sizeof(cpus), cpu < 0 ? "-" : "%lld", cpu);
				printf("%-32s %5lld %5lld %5s %5s %9.1f %s / all\n",
				       json_string_value(json_object_get(d, "name")),
				       (long long)json_integer_value(json_object_get(d, "id")),
				       (long long)json_integer_value(json_object_get(v, "id")), cpus,
				       vcpu_state(json_string_value(json_object_get(v, "state"))),
				       json_real_value(json_object_get(v, "cpu_s")),
				       json_string_value(json_object_get(v, "affinity")));
			}
		json_decref(all);
	}
	httpc_reply_free(&r);
	return 0;
}
