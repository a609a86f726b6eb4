/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A create request's configuration: JSON (docs/domain-config.schema.json) or xl.cfg text
 * (a body whose first non-space byte is not '{'), checked here by the same code the VMM
 * uses (domain_config_from_json, domain_config_validate) plus what only a manager can
 * check (a name, absolute paths, the host's memory), so a bad config is refused with a
 * sentence naming the key before anything exists.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capsule/domain.h"
#include "capsule/loader.h"
#if __has_include("capsule/xlcfg.h")
#include "capsule/xlcfg.h"
#define HAVE_XLCFG 1
#endif
#include "daemon.h"

#define KERNEL_MAX (512ull << 20) /* a kernel or image read to be checked, at most */

static int check_path(struct daemon *dm, json_t *cfg, const char *key, const char *what,
		      char *err, size_t errlen)
{
	json_t *v = json_object_get(cfg, key);
	char real[PATH_MAX], state[PATH_MAX];
	size_t n;

	if (!v || !json_is_string(v))
		return 0;
	if (json_string_value(v)[0] != '/') {
		snprintf(err, errlen, "%s: the path must be absolute (capsuled does not share the "
			 "client's working directory): %s", what, json_string_value(v));
		return -1;
	}
	/* Not capsuled's own files (the database, another domain's console ring), by any
	 * name: a guest would write them through its disk. */
	if (!realpath(json_string_value(v), real)) {
		snprintf(err, errlen, "%s: cannot resolve %s: %s", what, json_string_value(v),
			 strerror(errno));
		return -1;
	}
	if (realpath(dm->state_dir, state) &&
	    !strncmp(real, state, n = strlen(state)) && (real[n] == '/' || !real[n])) {
		snprintf(err, errlen, "%s: %s is in capsuled's state directory %s", what,
			 json_string_value(v), dm->state_dir);
		return -1;
	}
	return 0;
}

static int check_paths(struct daemon *dm, json_t *cfg, char *err, size_t errlen)
{
	json_t *disks = json_object_get(cfg, "disk"), *disk;
	size_t i;

	if (check_path(dm, cfg, "image", "image", err, errlen) ||
	    check_path(dm, cfg, "kernel", "kernel", err, errlen) ||
	    check_path(dm, cfg, "initrd", "initrd", err, errlen))
		return -1;
	json_array_foreach(disks, i, disk)
		if (check_path(dm, disk, "path", "disk", err, errlen))
			return -1;
	return 0;
}

json_t *daemon_config(struct daemon *dm, const char *body, size_t len, char *kind, char *err,
		      size_t errlen)
{
	static __thread struct domain_config c; /* large: one per API thread */
	char lerr[LOADER_ERR_MAX];
	json_error_t jerr;
	json_t *cfg = NULL;
	const char *image, *name;
	uint8_t *file = NULL;
	size_t size, i = 0;
	char *text = NULL;
	int fd;

	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i < len && body[i] == '{') {
		if (!(cfg = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr))) {
			snprintf(err, errlen, "the configuration is not valid JSON: line %d: %s",
				 jerr.line, jerr.text);
			return NULL;
		}
	} else {
#ifdef HAVE_XLCFG
		if (xlcfg_parse(body, len, &cfg, err, errlen))
			return NULL;
#else
		snprintf(err, errlen, "this capsuled reads JSON configurations only");
		return NULL;
#endif
	}
	if (!json_is_object(cfg)) {
		snprintf(err, errlen, "the configuration must be an object");
		goto fail;
	}
	if (!json_is_string(json_object_get(cfg, "name"))) {
		snprintf(err, errlen, "name: a domain managed by capsuled needs a name");
		goto fail;
	}
	/* Domains are addressed by name, then id: a name of digits would hide the domain
	 * whose id it spells (and `capsule destroy 12` end the wrong one). */
	name = json_string_value(json_object_get(cfg, "name"));
	if (*name && strspn(name, "0123456789") == strlen(name)) {
		snprintf(err, errlen, "name: '%s' is all digits, which reads as a domain id", name);
		goto fail;
	}
	if (name[0] == '-') { /* `capsule destroy -x` would read it as an option */
		snprintf(err, errlen, "name: '%s' starts with '-', which reads as an option", name);
		goto fail;
	}
	if (check_paths(dm, cfg, err, errlen))
		goto fail;
	/* capsuled's --wss-period and --wss-sample, for a configuration that names neither. */
	if (dm->wss_period_ms && !json_object_get(cfg, "wss_period_ms"))
		json_object_set_new(cfg, "wss_period_ms", json_integer(dm->wss_period_ms));
	if (dm->wss_sample >= 0 && !json_object_get(cfg, "wss_sample_pages"))
		json_object_set_new(cfg, "wss_sample_pages", json_integer(dm->wss_sample));
	if (!(text = json_dumps(cfg, JSON_COMPACT)))
		goto fail;
	domain_config_init(&c);
	if (domain_config_from_json(&c, text, strlen(text), err, errlen))
		goto fail;
	image = c.image;
	if (!image) {
		snprintf(err, errlen, "kernel: no kernel (or image) given");
		goto fail;
	}
	if (c.mem_mib > dm->host_mem_mib) {
		snprintf(err, errlen, "memory: %llu MiB is more than this host has (%llu MiB)",
			 (unsigned long long)c.mem_mib, (unsigned long long)dm->host_mem_mib);
		goto fail;
	}
	/* O_NONBLOCK: a FIFO would block the open, and the API with it, until someone
	 * writes; file_read_all refuses what is not a regular file. Read at most
	 * KERNEL_MAX: the whole file comes into capsuled's memory. */
	if ((fd = open(image, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		snprintf(err, errlen, "kernel: cannot open %s: %s", image, strerror(errno));
		goto fail;
	}
	if (file_read_all(image, fd, c.mem_mib << 20 < KERNEL_MAX ? c.mem_mib << 20 : KERNEL_MAX,
			  &file, &size, lerr)) {
		close(fd);
		snprintf(err, errlen, "kernel: %s", lerr);
		goto fail;
	}
	close(fd);
	snprintf(kind, 4, "%s", elf_is_pv(file, size) ? "pv" : "hvm");
	free(file);
	if (domain_config_validate(&c, kind[0] == 'p' ? DOMAIN_PV : DOMAIN_HVM, err, errlen))
		goto fail;
	/* What the daemon keeps in its row, explicit in the stored config too. */
	json_object_set_new(cfg, "memory", json_integer((json_int_t)c.mem_mib));
	json_object_set_new(cfg, "vcpus", json_integer(c.vcpus));
	json_object_set_new(cfg, "on_poweroff", json_string(domain_action_name(c.on_poweroff)));
	json_object_set_new(cfg, "on_reboot", json_string(domain_action_name(c.on_reboot)));
	json_object_set_new(cfg, "on_crash", json_string(domain_action_name(c.on_crash)));
	free(text);
	return cfg;
fail:
	free(text);
	json_decref(cfg);
	return NULL;
}
