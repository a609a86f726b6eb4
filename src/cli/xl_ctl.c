/* SPDX-License-Identifier: Apache-2.0 */
/* capsule pause, unpause, shutdown [-w], reboot, destroy, mem-set: one request each. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xl.h"

static int simple(int argc, char **argv, const char *path, const char *usage)
{
	struct httpc_reply r;
	char p[256];
	struct xl x;
	int rc = xl_init(&x, argc, argv, usage);

	if (rc)
		return rc < 0 ? 2 : 0;
	if (x.argc != 2) {
		fprintf(stderr, "usage: capsule %s NAME\n", x.verb);
		return 2;
	}
	if (xl_dom_path(&x, path, x.argv[1], p, sizeof(p)) ||
	    xl_call(&x, "PUT", p, NULL, NULL, 0, &r))
		return 1;
	httpc_reply_free(&r);
	return 0;
}

int cmd_pause(int argc, char **argv)
{
	return simple(argc, argv, "/api/v1/domain.pause", "[-S SOCKET] NAME\n\nStop the "
		      "domain's vCPUs; it keeps its memory and devices.");
}

int cmd_unpause(int argc, char **argv)
{
	return simple(argc, argv, "/api/v1/domain.unpause", "[-S SOCKET] NAME\n\nLet a paused "
		      "domain run again.");
}

int cmd_reboot(int argc, char **argv)
{
	return simple(argc, argv, "/api/v1/domain.reboot", "[-S SOCKET] NAME\n\nAsk the guest "
		      "to reboot.");
}

int cmd_destroy(int argc, char **argv)
{
	return simple(argc, argv, "/api/v1/domain.destroy", "[-S SOCKET] NAME\n\nEnd the "
		      "domain at once and remove it.");
}

/* Until NAME is shut off, crashed or gone: 0, or 1 after timeout_s. */
static int wait_down(const struct xl *x, const char *name, unsigned timeout_s)
{
	char path[256], err[256];
	time_t until = time(NULL) + timeout_s;

	snprintf(path, sizeof(path), "/api/v1/domain.info?domain=%s", name);
	while (time(NULL) < until) {
		struct httpc_reply r;
		int st = httpc_request(x->sock, "GET", path, NULL, NULL, 0, 5000, &r, err,
				       sizeof(err));
		json_t *j = st == 200 ? json_loads(r.body, 0, NULL) : NULL;
		const char *s = json_string_value(json_object_get(j, "state"));
		bool down = st == 404 || (s && (!strcmp(s, "shutoff") || !strcmp(s, "crashed")));

		json_decref(j);
		httpc_reply_free(&r);
		if (down)
			return 0;
		if (st < 0) {
			xl_conn_error(x, st, err);
			return 1;
		}
		usleep(50000);
	}
	fprintf(stderr, "capsule shutdown: %s is still running after %u s\n", name, timeout_s);
	return 1;
}

int cmd_shutdown(int argc, char **argv)
{
	struct httpc_reply r;
	char p[256], body[48] = "";
	bool wait = false;
	long grace = -1;
	struct xl x;
	int rc = xl_init(&x, argc, argv, "[-S SOCKET] [-w] [-g GRACE_S] NAME\n\nAsk the guest "
			 "to power off; after GRACE_S seconds (30) it is destroyed.\n"
			 "  -w  wait until the domain has shut down");
	char *name = NULL;

	if (rc)
		return rc < 0 ? 2 : 0;
	for (int i = 1; i < x.argc; i++) {
		if (!strcmp(x.argv[i], "-w") || !strcmp(x.argv[i], "--wait"))
			wait = true;
		else if (!strcmp(x.argv[i], "-g") && i + 1 < x.argc)
			grace = strtol(x.argv[++i], NULL, 10);
		else if (!name)
			name = x.argv[i];
		else
			name = NULL, i = x.argc;
	}
	if (!name) {
		fprintf(stderr, "usage: capsule shutdown [-w] NAME\n");
		return 2;
	}
	if (grace >= 0)
		snprintf(body, sizeof(body), "{\"grace_s\": %ld}", grace);
	if (xl_dom_path(&x, "/api/v1/domain.shutdown", name, p, sizeof(p)) ||
	    xl_call(&x, "PUT", p, NULL, body[0] ? body : NULL, strlen(body), &r))
		return 1;
	httpc_reply_free(&r);
	if (!wait)
		return 0;
	fprintf(stderr, "Waiting for domain %s to shut down\n", name);
	if (wait_down(&x, name, (unsigned)(grace >= 0 ? grace : 30) + 10))
		return 1;
	fprintf(stderr, "Domain %s has shut down\n", name);
	return 0;
}

int cmd_memset(int argc, char **argv)
{
	struct httpc_reply r;
	char p[256], body[64], *end;
	unsigned long mib;
	struct xl x;
	int rc = xl_init(&x, argc, argv, "[-S SOCKET] NAME MiB\n\nSet the domain's memory "
			 "target (its balloon: a domain with a virtio-balloon).");

	if (rc)
		return rc < 0 ? 2 : 0;
	if (x.argc != 3) {
		fprintf(stderr, "usage: capsule mem-set NAME MiB\n");
		return 2;
	}
	mib = strtoul(x.argv[2], &end, 10);
	if (*end == 'm' || *end == 'M')
		end++;
	if (end == x.argv[2] || *end) {
		fprintf(stderr, "capsule mem-set: '%s' is not a size in MiB\n", x.argv[2]);
		return 2;
	}
	snprintf(body, sizeof(body), "{\"target_mib\": %lu}", mib);
	if (xl_dom_path(&x, "/api/v1/domain.mem-set", x.argv[1], p, sizeof(p)) ||
	    xl_call(&x, "PUT", p, NULL, body, strlen(body), &r))
		return 1;
	httpc_reply_free(&r);
	return 0;
}
