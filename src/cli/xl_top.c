/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capsule top: a table of every domain refreshed every DELAY seconds, like xentop: CPU
 * (seconds and % of one CPU since the last refresh), memory, vCPUs, VM exits per second,
 * block and network requests per second, and the bytes they moved (accounting: disk
 * read and written, network received and sent). -b prints plain frames (no screen control),
 * -n N stops after N frames.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capsule/vm.h"
#include "xl.h"

#define TOP_MAX 4096

struct sample {
	long long id;
	double cpu;
	long long exits, blk, net;
};

static struct sample *find(struct sample *s, unsigned n, long long id)
{
	for (unsigned i = 0; i < n; i++)
		if (s[i].id == id)
			return &s[i];
	return NULL;
}

static long long num(json_t *d, const char *key)
{
	return (long long)json_integer_value(json_object_get(d, key));
}

int cmd_top(int argc, char **argv)
{
	static struct sample prev[TOP_MAX], cur[TOP_MAX];
	unsigned nprev = 0, frames = 0, limit = 0;
	double delay = 1.0;
	bool batch = false;
	uint64_t last = 0;
	struct xl x;
	int rc = xl_init(&x, argc, argv, "[-S SOCKET] [-b] [-n N] [-d DELAY]\n\nA live table "
			 "of the domains (like xentop).\n"
			 "  -b        batch mode: plain frames, no screen control\n"
			 "  -n N      stop after N frames\n"
			 "  -d DELAY  seconds between frames (1)");

	if (rc)
		return rc < 0 ? 2 : 0;
	for (int i = 1; i < x.argc; i++) {
		if (!strcmp(x.argv[i], "-b"))
			batch = true;
		else if (!strcmp(x.argv[i], "-n") && i + 1 < x.argc)
			limit = (unsigned)strtoul(x.argv[++i], NULL, 10);
		else if (!strcmp(x.argv[i], "-d") && i + 1 < x.argc)
			delay = strtod(x.argv[++i], NULL);
		else {
			fprintf(stderr, "usage: capsule top [-b] [-n N] [-d DELAY]\n");
			return 2;
		}
	}
	if (delay < 0.1)
		delay = 0.1;
	for (;;) {
		struct httpc_reply r;
		json_t *all, *d;
		uint64_t now;
		double dt;
		unsigned ncur = 0, counts[5] = {0};
		size_t i;
		char when[16];
		time_t t = time(NULL);
		struct tm tm;

		if (xl_call(&x, "GET", "/api/v1/domains?stats=1", NULL, NULL, 0, &r))
			return 1;
		now = monotonic_ns();
		dt = last ? (double)(now - last) / 1e9 : 0;
		all = json_loads(r.body, 0, NULL);
		httpc_reply_free(&r);
		json_array_foreach(json_object_get(all, "domains"), i, d) {
			const char *s = json_string_value(json_object_get(d, "state_letter"));
			const char *at = s ? strchr("rpscd", *s) : NULL;

			if (at)
				counts[at - "rpscd"]++;
		}
		strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&t, &tm));
		if (!batch)
			printf("\033[H\033[2J");
		if (x.json) {
			char *text = json_dumps(json_object_get(all, "domains"), JSON_COMPACT);

			printf("%s\n", text ? text : "[]");
			free(text);
		} else {
			printf("capsule top - %s  %zu domains: %u running, %u paused, %u shut off, "
			       "%u crashed, %u dying\n", when,
			       json_array_size(json_object_get(all, "domains")), counts[0],
			       counts[1], counts[2], counts[3], counts[4]);
			printf("%-24s %5s %5s %10s %6s %8s %5s %9s %8s %8s %9s %9s %9s %9s %8s\n",
			       "NAME", "ID", "STATE", "CPU(sec)", "CPU(%)", "MEM(MiB)", "VCPUS",
			       "EXITS/s", "BLK/s", "NET/s", "BLK_RD(k)", "BLK_WR(k)", "NET_RX(k)",
			       "NET_TX(k)", "SHR(MiB)");
		}
		json_array_foreach(json_object_get(all, "domains"), i, d) {
			struct sample s = {num(d, "id"),
					   json_real_value(json_object_get(d, "cpu_time_s")),
					   num(d, "exits"), num(d, "blk_requests"),
					   num(d, "net_requests")};
			struct sample *p = find(prev, nprev, s.id);
			bool rate = p && dt > 0;

			if (ncur < TOP_MAX)
				cur[ncur++] = s;
			if (x.json)
				continue;
			json_t *io = json_object_get(d, "io"), *blk = json_object_get(io, "block"),
			       *net = json_object_get(io, "net");

			printf("%-24.24s %5lld %5s %10.1f %6.1f %8lld %5lld %9.0f %8.0f %8.0f %9lld "
			       "%9lld %9lld %9lld %8lld\n",
			       json_string_value(json_object_get(d, "name")), s.id,
			       json_string_value(json_object_get(d, "state")) ?
				       json_string_value(json_object_get(d, "state_letter")) : "?",
			       s.cpu, rate ? (s.cpu - p->cpu) / dt * 100 : 0.0,
			       num(d, "memory_mib"), num(d, "vcpus"),
			       rate ? (double)(s.exits - p->exits) / dt : 0.0,
			       rate ? (double)(s.blk - p->blk) / dt : 0.0,
			       rate ? (double)(s.net - p->net) / dt : 0.0, num(blk, "read_bytes") >> 10,
			       num(blk, "write_bytes") >> 10, num(net, "rx_bytes") >> 10,
			       num(net, "tx_bytes") >> 10, num(d, "ksm_merging_pages") >> 8);
		}
		json_decref(all);
		fflush(stdout);
		memcpy(prev, cur, ncur * sizeof(cur[0]));
		nprev = ncur;
		last = now;
		if (limit && ++frames >= limit)
			return 0;
		usleep((useconds_t)(delay * 1e6));
	}
}
