/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capsule save NAME DIR, restore DIR [--name N], snapshot NAME DIR, clone DIR --count N
 * [--name-prefix P]: clients of capsuled's snapshot routes (docs/capsuled.md). DIR is made
 * absolute here (capsuled does not share the working directory): its parent's real path
 * and its own name, so a symlink in DIR's place is still seen, and refused, by capsuled.
 */
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xl.h"

#define SNAP_TIMEOUT_MS 600000 /* a large domain's memory, or a thousand clones */

static int absolute_dir(const struct xl *x, const char *dir, char *out, size_t len)
{
	char a[PATH_MAX], b[PATH_MAX], parent[PATH_MAX], *base, *par;

	snprintf(a, sizeof(a), "%s", dir);
	snprintf(b, sizeof(b), "%s", dir);
	while (strlen(a) > 1 && a[strlen(a) - 1] == '/')
		a[strlen(a) - 1] = b[strlen(b) - 1] = 0;
	base = basename(a);
	par = dirname(b);
	if (!strcmp(base, ".") || !strcmp(base, "..") || !strcmp(base, "/")) {
		if (!realpath(dir, parent)) {
			fprintf(stderr, "capsule %s: %s: %s\n", x->verb, dir, strerror(errno));
			return -1;
		}
		snprintf(out, len, "%s", parent);
		return 0;
	}
	if (!realpath(par, parent)) {
		fprintf(stderr, "capsule %s: %s: %s\n", x->verb, par, strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(out, len, "%s%s%s", parent, strcmp(parent, "/") ? "/" : "", base) >=
	    len) {
		fprintf(stderr, "capsule %s: %s: path too long\n", x->verb, dir);
		return -1;
	}
	return 0;
}

static int request(const struct xl *x, const char *method, const char *path, json_t *body,
		   json_t **out)
{
	char *text = json_dumps(body, JSON_COMPACT), err[512];
	struct httpc_reply r;
	int rc;

	json_decref(body);
	if (!text)
		return -1;
	rc = httpc_request(x->sock, method, path, NULL, text, strlen(text), SNAP_TIMEOUT_MS, &r,
			   err, sizeof(err));
	free(text);
	if (rc < 0) {
		xl_conn_error(x, rc, err);
		return -1;
	}
	if (rc >= 300) {
		fprintf(stderr, "capsule %s: %s\n", x->verb,
			httpc_error_text(r.body, err, sizeof(err)));
		httpc_reply_free(&r);
		return -1;
	}
	if (x->json)
		xl_print_json(r.body ? r.body : "{}");
	*out = json_loads(r.body ? r.body : "{}", 0, NULL);
	httpc_reply_free(&r);
	return *out ? 0 : -1;
}

/* save and snapshot: NAME DIR. */
static int take(int argc, char **argv, const char *route, const char *usage, bool save)
{
	char path[256], dir[PATH_MAX];
	bool diff = false;
	json_t *out;
	struct xl x;
	int rc = xl_init(&x, argc, argv, usage);

	if (rc)
		return rc < 0 ? 2 : 0;
	for (int i = 1; i < x.argc; i++)
		if (!strcmp(x.argv[i], "--diff")) {
			diff = true;
			memmove(&x.argv[i], &x.argv[i + 1], (size_t)(x.argc - i) * sizeof(char *));
			x.argc--;
			break;
		}
	if (x.argc != 3) {
		fprintf(stderr, "usage: capsule %s NAME DIR [--diff]\n", x.verb);
		return 2;
	}
	if (xl_dom_path(&x, route, x.argv[1], path, sizeof(path)) ||
	    absolute_dir(&x, x.argv[2], dir, sizeof(dir)) ||
	    request(&x, "PUT", path, json_pack("{s:s, s:b}", "dir", dir, "diff", diff), &out))
		return 1;
	if (!x.json)
		printf("%s %s in %s: paused %.2f ms, %lld bytes of memory written\n",
		       save ? "saved" : "snapshot of", x.argv[1], dir,
		       json_real_value(json_object_get(out, "pause_ms")),
		       (long long)json_integer_value(json_object_get(out, "memory_bytes")));
	json_decref(out);
	return 0;
}

int cmd_save(int argc, char **argv)
{
	return take(argc, argv, "/api/v1/domain.save", "[-S SOCKET] NAME DIR [--diff]\n\nSave the "
		    "domain into the snapshot directory DIR (made mode 0700 if missing); the\n"
		    "domain ends, its record says saved ('capsule restore DIR' runs it again).",
		    true);
}

int cmd_snapshot(int argc, char **argv)
{
	return take(argc, argv, "/api/v1/domain.snapshot", "[-S SOCKET] NAME DIR [--diff]\n\n"
		    "Snapshot the running domain into DIR; it runs on after a pause (printed).\n"
		    "--diff: only the pages dirtied since its previous snapshot (docs/snapshot.md;\n"
		    "'capsule snapshot-merge' folds a chain into a full one).", false);
}

static void print_dom(json_t *d)
{
	printf("restored domain %s (id %lld, uuid %s)\n",
	       json_string_value(json_object_get(d, "name")),
	       (long long)json_integer_value(json_object_get(d, "id")),
	       json_string_value(json_object_get(d, "uuid")));
}

/* Take "--opt VALUE" out of x's arguments: the value, or NULL. */
static const char *take_opt(struct xl *x, const char *opt, bool *bad)
{
	const char *v = NULL;

	for (int i = 1; i < x->argc; i++)
		if (!strcmp(x->argv[i], opt)) {
			if (i + 1 == x->argc) {
				fprintf(stderr, "capsule %s: %s needs a value\n", x->verb, opt);
				*bad = true;
				return NULL;
			}
			v = x->argv[i + 1];
			memmove(&x->argv[i], &x->argv[i + 2], (size_t)(x->argc - i - 1) *
				sizeof(char *));
			x->argc -= 2;
			break;
		}
	return v;
}

int cmd_restore(int argc, char **argv)
{
	char dir[PATH_MAX];
	const char *name;
	bool bad = false;
	json_t *body, *out;
	struct xl x;
	int rc = xl_init(&x, argc, argv, "[-S SOCKET] DIR [--name NAME]\n\nA new domain, "
			 "running, from the snapshot in DIR (its name, or NAME).");

	if (rc)
		return rc < 0 ? 2 : 0;
	name = take_opt(&x, "--name", &bad);
	if (bad || x.argc != 2) {
		fprintf(stderr, "usage: capsule restore DIR [--name NAME]\n");
		return 2;
	}
	if (absolute_dir(&x, x.argv[1], dir, sizeof(dir)))
		return 1;
	body = json_pack("{s:s}", "dir", dir);
	if (name)
		json_object_set_new(body, "name", json_string(name));
	if (request(&x, "POST", "/api/v1/domain.restore", body, &out))
		return 1;
	if (!x.json)
		print_dom(out);
	json_decref(out);
	return 0;
}

int cmd_clone(int argc, char **argv)
{
	char dir[PATH_MAX], *end;
	const char *count, *prefix;
	bool bad = false;
	json_t *body, *out, *d;
	struct xl x;
	long n;
	size_t i;
	int rc = xl_init(&x, argc, argv, "[-S SOCKET] DIR --count N [--name-prefix P]\n\nN new "
			 "domains, running, from the snapshot in DIR, sharing its unmodified\n"
			 "memory: each with a new name (P-1 .. P-N; P is DIR's name by default),\n"
			 "domain id, UUID and MAC address, and a bumped generation counter.");

	if (rc)
		return rc < 0 ? 2 : 0;
	count = take_opt(&x, "--count", &bad);
	prefix = bad ? NULL : take_opt(&x, "--name-prefix", &bad);
	n = count ? strtol(count, &end, 10) : 0;
	if (bad || x.argc != 2 || !count || *end || n < 1 || n > 1024) {
		fprintf(stderr, "usage: capsule clone DIR --count N [--name-prefix P] (N from 1 to "
			"1024)\n");
		return 2;
	}
	if (absolute_dir(&x, x.argv[1], dir, sizeof(dir)))
		return 1;
	body = json_pack("{s:s, s:i}", "dir", dir, "count", (int)n);
	if (prefix)
		json_object_set_new(body, "name_prefix", json_string(prefix));
	if (request(&x, "POST", "/api/v1/domain.clone", body, &out))
		return 1;
	if (!x.json)
		json_array_foreach(json_object_get(out, "domains"), i, d)
			printf("cloned domain %s (id %lld, uuid %s)\n",
			       json_string_value(json_object_get(d, "name")),
			       (long long)json_integer_value(json_object_get(d, "id")),
			       json_string_value(json_object_get(d, "uuid")));
	json_decref(out);
	return 0;
}
