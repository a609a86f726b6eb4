/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A domain configuration from JSON (capsule run --config FILE, and the API): the schema is
 * docs/domain-config.schema.json. Every key is known or refused by name, every value has
 * its type checked, and the result still goes through domain_config_validate.
 */
#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "capsule/cgroup.h"
#include "capsule/devices.h"
#include "capsule/domain.h"

#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), -1)

/* Strings live in the config's own arena, so the config owns everything it points to. */
static const char *keep(struct domain_config *c, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p;

	if (n > sizeof(c->strings) - c->strings_used)
		return NULL;
	p = c->strings + c->strings_used;
	memcpy(p, s, n);
	c->strings_used += n;
	return p;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static int want(const json_t *v, json_type t, const char *key, const char *what, char *err,
		size_t errlen)
{
	bool ok = json_typeof(v) == t || (t == JSON_TRUE && json_is_boolean(v));

	return ok ? 0 : FAIL("\"%s\" must be %s, not %s", key, what, type_name(v));
}

static int add_spec(struct domain_config *c, const char *kind, const char *arg, char *err,
		    size_t errlen)
{
	struct device_spec *s;

	if (c->nr_devices == DOMAIN_MAX_DEVICES)
		return FAIL("at most %u devices", DOMAIN_MAX_DEVICES);
	s = &c->devices[c->nr_devices++];
	s->kind = device_kind_by_name(kind);
	if (snprintf(s->arg, sizeof(s->arg), "%s", arg) >= (int)sizeof(s->arg))
		return FAIL("\"%s\": too long", kind);
	return 0;
}

/* "disk": [{"path": P, "readonly": B, "serial": S, "direct": B, "queues": N}, ...] */
static int disks(struct domain_config *c, const json_t *v, char *err, size_t errlen)
{
	size_t i;
	json_t *d;

	if (want(v, JSON_ARRAY, "disk", "an array of disks", err, errlen))
		return -1;
	json_array_foreach(v, i, d) {
		char arg[DEVICE_ARG_MAX];
		const char *key;
		json_t *x;
		int n;

		if (want(d, JSON_OBJECT, "disk[]", "an object", err, errlen))
			return -1;
		x = json_object_get(d, "path");
		if (!x || !json_is_string(x))
			return FAIL("disk[%zu]: \"path\" must be a string", i);
		n = snprintf(arg, sizeof(arg), "%s", json_string_value(x));
		if (n >= (int)sizeof(arg))
			return FAIL("disk[%zu]: \"path\" is too long", i);
		json_object_foreach(d, key, x) {
			if (!strcmp(key, "path"))
				continue;
			if (!strcmp(key, "readonly")) {
				if (want(x, JSON_TRUE, "readonly", "a boolean", err, errlen))
					return -1;
				if (json_is_true(x))
					n += snprintf(arg + n, sizeof(arg) - (size_t)n, ",readonly");
			} else if (!strcmp(key, "serial")) {
				if (want(x, JSON_STRING, "serial", "a string", err, errlen))
					return -1;
				n += snprintf(arg + n, sizeof(arg) - (size_t)n, ",serial=%s",
					      json_string_value(x));
			} else if (!strcmp(key, "direct")) {
				if (want(x, JSON_TRUE, "direct", "a boolean", err, errlen))
					return -1;
				if (json_is_true(x))
					n += snprintf(arg + n, sizeof(arg) - (size_t)n, ",direct=on");
			} else if (!strcmp(key, "queues")) {
				if (!json_is_integer(x) || json_integer_value(x) < 1 ||
				    json_integer_value(x) > VIRTIO_BLK_MAX_QUEUES)
					return FAIL("disk[%zu]: \"queues\" must be an integer from 1 to %d",
						    i, VIRTIO_BLK_MAX_QUEUES);
				n += snprintf(arg + n, sizeof(arg) - (size_t)n, ",queues=%d",
					      (int)json_integer_value(x));
			} else {
				return FAIL("disk[%zu]: unknown key \"%s\" (path, readonly, serial, "
					    "direct, queues)", i, key);
			}
			if (n >= (int)sizeof(arg))
				return FAIL("disk[%zu]: too long", i);
		}
		if (strchr(json_string_value(json_object_get(d, "path")), ','))
			return FAIL("disk[%zu]: a path with a comma is not supported", i);
		if (add_spec(c, "disk", arg, err, errlen))
			return -1;
	}
	return 0;
}

/* "net": [{"tap": NAME, "mac": MAC}] */
static int nets(struct domain_config *c, const json_t *v, char *err, size_t errlen)
{
	size_t i;
	json_t *d;

	if (want(v, JSON_ARRAY, "net", "an array of network devices", err, errlen))
		return -1;
	json_array_foreach(v, i, d) {
		char arg[DEVICE_ARG_MAX] = "";
		const char *key;
		json_t *x;
		int n = 0;

		if (want(d, JSON_OBJECT, "net[]", "an object", err, errlen))
			return -1;
		json_object_foreach(d, key, x) {
			if (strcmp(key, "tap") && strcmp(key, "mac"))
				return FAIL("net[%zu]: unknown key \"%s\" (tap, mac)", i, key);
			if (want(x, JSON_STRING, key, "a string", err, errlen))
				return -1;
			n += snprintf(arg + n, sizeof(arg) - (size_t)n, "%s%s=%s", n ? "," : "", key,
				      json_string_value(x));
			if (n >= (int)sizeof(arg))
				return FAIL("net[%zu]: too long", i);
		}
		if (add_spec(c, "net", arg, err, errlen))
			return -1;
	}
	return 0;
}

static int action(const json_t *v, const char *key, enum domain_action *a, char *err,
		  size_t errlen)
{
	if (want(v, JSON_STRING, key, "\"destroy\", \"restart\" or \"preserve\"", err, errlen))
		return -1;
	if (domain_action_parse(json_string_value(v), a))
		return FAIL("\"%s\" must be \"destroy\", \"restart\" or \"preserve\", not \"%s\"", key,
			    json_string_value(v));
	return 0;
}

static int integer(const json_t *v, const char *key, uint64_t min, uint64_t max, uint64_t *out,
		   char *err, size_t errlen)
{
	if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)min ||
	    (uint64_t)json_integer_value(v) > max)
		return FAIL("\"%s\" must be an integer from %llu to %llu", key,
			    (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int string(struct domain_config *c, const json_t *v, const char *key, const char **out,
		  char *err, size_t errlen)
{
	if (want(v, JSON_STRING, key, "a string", err, errlen))
		return -1;
	*out = keep(c, json_string_value(v));
	return *out ? 0 : FAIL("\"%s\": the configuration's strings are too long", key);
}

static int member(struct domain_config *c, const char *key, const json_t *v, char *err,
		  size_t errlen)
{
	uint64_t n;

	if (!strcmp(key, "name")) {
		if (want(v, JSON_STRING, key, "a string", err, errlen))
			return -1;
		if (strlen(json_string_value(v)) >= sizeof(c->name))
			return FAIL("\"name\" is longer than %d bytes", DOMAIN_NAME_MAX - 1);
		snprintf(c->name, sizeof(c->name), "%s", json_string_value(v));
	} else if (!strcmp(key, "image") || !strcmp(key, "kernel")) {
		return string(c, v, key, &c->image, err, errlen);
	} else if (!strcmp(key, "initrd")) {
		return string(c, v, key, &c->initrd, err, errlen);
	} else if (!strcmp(key, "cmdline")) {
		return string(c, v, key, &c->cmdline, err, errlen);
	} else if (!strcmp(key, "memory")) {
		if (integer(v, key, 1, 1ull << 30, &c->mem_mib, err, errlen))
			return -1;
	} else if (!strcmp(key, "memory_backing")) { /* docs/resources.md */
		if (!json_is_string(v) || (strcmp(json_string_value(v), "shared") &&
					   strcmp(json_string_value(v), "private")))
			return FAIL("\"memory_backing\" must be \"shared\" (a memfd) or \"private\" "
				    "(anonymous memory KSM may share)");
		c->mem_private = !strcmp(json_string_value(v), "private");
	} else if (!strcmp(key, "memory_min")) {
		if (integer(v, key, 0, 1ull << 30, &c->mem_min_mib, err, errlen))
			return -1;
	} else if (!strcmp(key, "wss_period_ms")) { /* include/capsule/wss.h */
		if (integer(v, key, WSS_PERIOD_MS_MIN, WSS_PERIOD_MS_MAX, &n, err, errlen))
			return -1;
		c->wss_period_ms = (uint32_t)n;
	} else if (!strcmp(key, "wss_sample_pages")) {
		if (integer(v, key, 0, WSS_SAMPLE_MAX, &n, err, errlen))
			return -1;
		c->wss_sample = (uint32_t)n;
	} else if (!strcmp(key, "memory_shares")) {
		if (integer(v, key, 1, MEM_SHARES_MAX, &c->mem_shares, err, errlen))
			return -1;
	} else if (!strcmp(key, "cpu_weight")) { /* docs/resources.md */
		if (integer(v, key, CG_WEIGHT_MIN, CG_WEIGHT_MAX, &n, err, errlen))
			return -1;
		c->cpu_weight = (unsigned)n;
	} else if (!strcmp(key, "cap")) {
		if (integer(v, key, 0, CG_CAP_MAX, &n, err, errlen))
			return -1;
		c->cap = (unsigned)n;
	} else if (!strcmp(key, "cpus")) {
		if (want(v, JSON_STRING, key, "a string (a CPU list such as \"0-3,^1\")", err,
			 errlen))
			return -1;
		if (strlen(json_string_value(v)) >= sizeof(c->cpus))
			return FAIL("\"cpus\" is longer than %zu bytes", sizeof(c->cpus) - 1);
		snprintf(c->cpus, sizeof(c->cpus), "%s", json_string_value(v));
	} else if (!strcmp(key, "vcpus")) {
		if (integer(v, key, 1, CAP_MAX_VCPUS, &n, err, errlen))
			return -1;
		c->vcpus = (unsigned)n;
	} else if (!strcmp(key, "no_pvh")) {
		if (want(v, JSON_TRUE, key, "a boolean", err, errlen))
			return -1;
		c->no_pvh = json_is_true(v);
	} else if (!strcmp(key, "acpi")) { /* the HVM ACPI profile (docs/hvm.md) */
		if (!json_is_string(v) || (strcmp(json_string_value(v), "full") &&
					   strcmp(json_string_value(v), "reduced"))) {
			snprintf(err, errlen, "acpi: expected \"full\" or \"reduced\"");
			return -1;
		}
		c->acpi_full = !strcmp(json_string_value(v), "full");
	} else if (!strcmp(key, "cpu")) { /* HVM: the CPU model, checked when the domain is made */
		return string(c, v, key, &c->cpu, err, errlen);
	} else if (!strcmp(key, "virtio_transport")) { /* HVM: "mmio" or "pci" */
		if (!json_is_string(v) || (strcmp(json_string_value(v), "pci") &&
					   strcmp(json_string_value(v), "mmio"))) {
			snprintf(err, errlen, "virtio_transport: expected \"pci\" or \"mmio\"");
			return -1;
		}
		c->virtio_pci = !strcmp(json_string_value(v), "pci");
	} else if (!strcmp(key, "on_poweroff")) {
		return action(v, key, &c->on_poweroff, err, errlen);
	} else if (!strcmp(key, "on_reboot")) {
		return action(v, key, &c->on_reboot, err, errlen);
	} else if (!strcmp(key, "on_crash")) {
		return action(v, key, &c->on_crash, err, errlen);
	} else if (!strcmp(key, "disk")) {
		return disks(c, v, err, errlen);
	} else if (!strcmp(key, "net")) {
		return nets(c, v, err, errlen);
	} else if (!strcmp(key, "rng") || !strcmp(key, "virtio_console")) {
		if (want(v, JSON_TRUE, key, "a boolean", err, errlen))
			return -1;
		if (json_is_true(v))
			return add_spec(c, key[0] == 'r' ? "rng" : "virtio-console", "", err, errlen);
	} else if (!strcmp(key, "balloon")) {
		char arg[32];

		if (integer(v, key, 0, PV_MAX_MEM >> 20, &n, err, errlen))
			return -1;
		snprintf(arg, sizeof(arg), "%llu", (unsigned long long)n);
		return add_spec(c, "balloon", arg, err, errlen);
	} else {
		return FAIL("unknown key \"%s\"", key);
	}
	return 0;
}

int domain_config_from_json(struct domain_config *c, const char *text, size_t len, char *err,
			    size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *key;
	json_t *v;
	int rc = 0;

	if (!root)
		return FAIL("line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
	if (!json_is_object(root)) {
		snprintf(err, errlen, "a domain configuration is a JSON object, not %s",
			 type_name(root));
		json_decref(root);
		return -1;
	}
	json_object_foreach(root, key, v)
		if ((rc = member(c, key, v, err, errlen)))
			break;
	json_decref(root);
	return rc;
}

int domain_config_load(struct domain_config *c, const char *path, char *err, size_t errlen)
{
	static char text[1u << 20];
	size_t n;
	FILE *f = fopen(path, "r");
	int rc;

	if (!f)
		return FAIL("cannot open %s: %m", path);
	n = fread(text, 1, sizeof(text), f);
	rc = ferror(f) ? FAIL("cannot read %s", path)
	     : n == sizeof(text) ? FAIL("%s is larger than 1 MiB", path)
				 : domain_config_from_json(c, text, n, err, errlen);
	fclose(f);
	if (rc && strncmp(err, path, strlen(path))) { /* say which file */
		char msg[512];

		snprintf(msg, sizeof(msg), "%s: %s", path, err);
		snprintf(err, errlen, "%s", msg);
	}
	return rc;
}

/* A device's spec ("PATH,readonly,serial=S", "tap=T,mac=M") as the JSON object it came from. */
static json_t *spec_object(const char *kind, const char *arg)
{
	char buf[DEVICE_ARG_MAX], *opt, *save = NULL;
	json_t *o = json_object();
	bool first = true;

	snprintf(buf, sizeof(buf), "%s", arg);
	for (opt = strtok_r(buf, ",", &save); o && opt; opt = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(opt, '=');

		if (!strcmp(kind, "disk") && first)
			json_object_set_new(o, "path", json_string(opt));
		else if (!strcmp(kind, "disk") && !strcmp(opt, "readonly"))
			json_object_set_new(o, "readonly", json_true());
		else if (!strcmp(kind, "disk") && !strncmp(opt, "direct=", 7))
			json_object_set_new(o, "direct", json_boolean(!strcmp(opt + 7, "on")));
		else if (!strcmp(kind, "disk") && !strncmp(opt, "queues=", 7))
			json_object_set_new(o, "queues", json_integer(atoi(opt + 7)));
		else if (eq)
			*eq = 0, json_object_set_new(o, opt, json_string(eq + 1));
		first = false;
	}
	return o;
}

char *domain_config_to_json(const struct domain_config *c)
{
	json_t *root = json_pack("{s:s, s:s, s:s, s:I, s:i, s:s, s:s, s:s}", "name", c->name,
				 "image", c->image ? c->image : "", "cmdline",
				 c->cmdline ? c->cmdline : "", "memory", (json_int_t)c->mem_mib,
				 "vcpus", (int)c->vcpus, "on_poweroff",
				 domain_action_name(c->on_poweroff), "on_reboot",
				 domain_action_name(c->on_reboot), "on_crash",
				 domain_action_name(c->on_crash));
	json_t *disk = json_array(), *net = json_array();
	char *text = NULL;

	if (!root || !disk || !net)
		goto out;
	if (c->initrd)
		json_object_set_new(root, "initrd", json_string(c->initrd));
	if (c->no_pvh)
		json_object_set_new(root, "no_pvh", json_true());
	if (c->acpi_full)
		json_object_set_new(root, "acpi", json_string("full"));
	if (c->virtio_pci)
		json_object_set_new(root, "virtio_transport", json_string("pci"));
	if (c->cpu)
		json_object_set_new(root, "cpu", json_string(c->cpu));
	if (c->mem_private)
		json_object_set_new(root, "memory_backing", json_string("private"));
	if (c->mem_min_mib)
		json_object_set_new(root, "memory_min", json_integer((json_int_t)c->mem_min_mib));
	if (c->mem_shares)
		json_object_set_new(root, "memory_shares", json_integer((json_int_t)c->mem_shares));
	if (c->wss_period_ms != WSS_PERIOD_MS_DEFAULT)
		json_object_set_new(root, "wss_period_ms", json_integer(c->wss_period_ms));
	if (c->wss_sample != WSS_SAMPLE_DEFAULT)
		json_object_set_new(root, "wss_sample_pages", json_integer(c->wss_sample));
	if (c->cpu_weight != CG_WEIGHT_DEFAULT)
		json_object_set_new(root, "cpu_weight", json_integer(c->cpu_weight));
	if (c->cap)
		json_object_set_new(root, "cap", json_integer(c->cap));
	if (c->cpus[0])
		json_object_set_new(root, "cpus", json_string(c->cpus));
	for (unsigned i = 0; i < c->nr_devices; i++) {
		const char *kind = c->devices[i].kind->name, *arg = c->devices[i].arg;

		if (!strcmp(kind, "disk"))
			json_array_append_new(disk, spec_object(kind, arg));
		else if (!strcmp(kind, "net"))
			json_array_append_new(net, spec_object(kind, arg));
		else if (!strcmp(kind, "rng"))
			json_object_set_new(root, "rng", json_true());
		else if (!strcmp(kind, "virtio-console"))
			json_object_set_new(root, "virtio_console", json_true());
		else if (!strcmp(kind, "balloon"))
			json_object_set_new(root, "balloon", json_integer(strtoll(arg, NULL, 10)));
	}
	if (json_array_size(disk))
		json_object_set(root, "disk", disk);
	if (json_array_size(net))
		json_object_set(root, "net", net);
	text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
	json_decref(disk);
	json_decref(net);
	json_decref(root);
	return text;
}
