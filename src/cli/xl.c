/* SPDX-License-Identifier: Apache-2.0 */
/* What the xl-style verbs share (xl.h). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xl.h"

int xl_init(struct xl *x, int argc, char **argv, const char *usage)
{
	const char *env = getenv("CAPSULE_SOCKET");
	int out = 1;

	*x = (struct xl){.verb = argv[0], .sock = env && *env ? env : XL_DEFAULT_SOCKET};
	if (argc >= XL_MAX_ARGS) {
		fprintf(stderr, "capsule %s: too many arguments (at most %d)\n", argv[0],
			XL_MAX_ARGS - 1);
		return -1;
	}
	x->argv[0] = argv[0];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-S") || !strcmp(a, "--socket")) {
			if (i + 1 == argc) {
				fprintf(stderr, "capsule %s: %s needs a path\n", x->verb, a);
				return -1;
			}
			x->sock = argv[++i];
		} else if (!strncmp(a, "--socket=", 9)) {
			x->sock = a + 9;
		} else if (!strcmp(a, "--json")) {
			x->json = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf("usage: capsule %s %s\n\n"
			       "  -S, --socket PATH  capsuled's socket (default $CAPSULE_SOCKET or "
			       XL_DEFAULT_SOCKET ")\n"
			       "      --json         machine-readable output (read commands)\n",
			       x->verb, usage);
			return 1;
		} else {
			x->argv[out++] = argv[i];
		}
	}
	x->argc = out;
	return 0;
}

void xl_conn_error(const struct xl *x, int rc, const char *err)
{
	if (rc == -ENOENT || rc == -ECONNREFUSED)
		fprintf(stderr, "capsule %s: capsuled is not running (nothing listens on %s): "
			"start it with `systemctl start capsuled` or `capsuled --foreground`\n",
			x->verb, x->sock);
	else if (rc == -EACCES || rc == -EPERM)
		fprintf(stderr, "capsule %s: permission denied on %s: run as root or join the "
			"capsule group\n", x->verb, x->sock);
	else if (rc == -ETIMEDOUT)
		fprintf(stderr, "capsule %s: capsuled did not answer in time (%s)\n", x->verb,
			x->sock);
	else
		fprintf(stderr, "capsule %s: %s\n", x->verb, err);
}

int xl_call(const struct xl *x, const char *method, const char *path, const char *ctype,
	    const char *body, size_t len, struct httpc_reply *r)
{
	char err[512];
	int rc = httpc_request(x->sock, method, path, ctype, body, len, XL_TIMEOUT_MS, r, err,
			       sizeof(err));

	if (rc < 0) {
		xl_conn_error(x, rc, err);
		return -1;
	}
	if (rc >= 300) {
		fprintf(stderr, "capsule %s: %s\n", x->verb,
			httpc_error_text(r->body, err, sizeof(err)));
		httpc_reply_free(r);
		return -1;
	}
	return 0;
}

int xl_dom_path(const struct xl *x, const char *base, const char *name, char *out, size_t len)
{
	if (!name || !*name || strlen(name) > 64 ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
		    strlen(name)) {
		fprintf(stderr, "capsule %s: '%s' is not a domain name, id or UUID\n", x->verb,
			name ? name : "");
		return -1;
	}
	snprintf(out, len, "%s?domain=%s", base, name);
	return 0;
}

void xl_print_json(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	char *pretty = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

	printf("%s\n", pretty ? pretty : text);
	free(pretty);
	json_decref(j);
}
