/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capsule create CONFIG: a JSON configuration, or one in xl.cfg syntax (a file whose first
 * non-space byte is not '{'), parsed here into JSON so that paths relative to the working
 * directory can be made absolute (capsuled does not share it), then sent to capsuled.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if __has_include("capsule/xlcfg.h")
#include "capsule/xlcfg.h"
#define HAVE_XLCFG 1
#endif
#include "xl.h"

#define CONFIG_MAX (1u << 20)

static int absolute(json_t *obj, const char *key, const char *verb)
{
	json_t *v = json_object_get(obj, key);
	char buf[PATH_MAX];

	if (!json_is_string(v) || json_string_value(v)[0] == '/')
		return 0;
	if (!realpath(json_string_value(v), buf)) {
		fprintf(stderr, "capsule %s: %s: %s: %s\n", verb, key, json_string_value(v),
			strerror(errno));
		return -1;
	}
	json_object_set_new(obj, key, json_string(buf));
	return 0;
}

static json_t *load(const char *path, const char *verb)
{
	FILE *f = fopen(path, "re");
	char *buf = malloc(CONFIG_MAX + 1), err[512];
	json_t *cfg = NULL, *disk;
	json_error_t jerr;
	size_t n = 0, i = 0, k;

	if (!f || !buf) {
		fprintf(stderr, "capsule %s: cannot read %s: %s\n", verb, path, strerror(errno));
		goto out;
	}
	n = fread(buf, 1, CONFIG_MAX + 1, f);
	if (n > CONFIG_MAX) {
		fprintf(stderr, "capsule %s: %s is larger than %u bytes\n", verb, path, CONFIG_MAX);
		goto out;
	}
	while (i < n && isspace((unsigned char)buf[i]))
		i++;
	if (i < n && buf[i] == '{') {
		if (!(cfg = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &jerr)))
			fprintf(stderr, "capsule %s: %s: line %d: %s\n", verb, path, jerr.line,
				jerr.text);
	} else {
#ifdef HAVE_XLCFG
		if (xlcfg_parse(buf, n, &cfg, err, sizeof(err)))
			fprintf(stderr, "capsule %s: %s: %s\n", verb, path, err);
#else
		(void)err;
		fprintf(stderr, "capsule %s: %s is not JSON, and this build reads no xl.cfg\n",
			verb, path);
#endif
	}
	if (cfg && !json_is_object(cfg)) {
		fprintf(stderr, "capsule %s: %s: the configuration must be an object\n", verb, path);
		json_decref(cfg);
		cfg = NULL;
	}
	if (cfg && (absolute(cfg, "image", verb) || absolute(cfg, "kernel", verb) ||
		    absolute(cfg, "initrd", verb))) {
		json_decref(cfg);
		cfg = NULL;
	}
	json_array_foreach(cfg ? json_object_get(cfg, "disk") : NULL, k, disk)
		if (absolute(disk, "path", verb)) {
			json_decref(cfg);
			cfg = NULL;
			break;
		}
out:
	if (f)
		fclose(f);
	free(buf);
	return cfg;
}

int cmd_create(int argc, char **argv)
{
	struct httpc_reply r;
	struct xl x;
	json_t *cfg, *out;
	char *text;
	int rc = xl_init(&x, argc, argv, "[-S SOCKET] CONFIG\n\nCreate a domain from a JSON "
			 "or xl.cfg configuration file.");

	if (rc)
		return rc < 0 ? 2 : 0;
	if (x.argc != 2) {
		fprintf(stderr, "usage: capsule create CONFIG\n");
		return 2;
	}
	fprintf(stderr, "Parsing config from %s\n", x.argv[1]);
	if (!(cfg = load(x.argv[1], x.verb)))
		return 1;
	text = json_dumps(cfg, JSON_COMPACT);
	json_decref(cfg);
	rc = text ? xl_call(&x, "POST", "/api/v1/domains", NULL, text, strlen(text), &r) : -1;
	free(text);
	if (rc)
		return 1;
	out = json_loads(r.body, 0, NULL);
	if (x.json)
		xl_print_json(r.body);
	else
		printf("created domain %s (id %lld, uuid %s)\n",
		       json_string_value(json_object_get(out, "name")),
		       (long long)json_integer_value(json_object_get(out, "id")),
		       json_string_value(json_object_get(out, "uuid")));
	json_decref(out);
	httpc_reply_free(&r);
	return 0;
}
