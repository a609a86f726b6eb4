/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xl.cfg's disk and vif strings (xl-disk-configuration(5), xl-network-configuration(5)) to
 * Capsule's disk and net devices. A spec is a comma-separated list of KEY=VALUE items, flags
 * and (for disks) positional items; whitespace around each is dropped. What Capsule's
 * devices cannot do (qcow2, cdroms, bridges, hotplug scripts) is refused by name, so that a
 * domain never starts with less than its configuration asked for.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "xlcfg_spec.h"

#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), -1)

#define SERIAL_MAX 20 /* VIRTIO_BLK_ID_BYTES: a vdev becomes the disk's serial */
#define IFNAME_MAX 15 /* IFNAMSIZ - 1 */

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = 0;
	return s;
}

/* The next item of a spec, NUL-terminated and trimmed; *rest moves past it (NULL at the end). */
static char *next_item(char **rest)
{
	char *item = *rest, *comma = strchr(item, ',');

	if (comma) {
		*comma = 0;
		*rest = comma + 1;
	} else {
		*rest = NULL;
	}
	return trim(item);
}

static json_t *str(const char *s)
{
	return json_string(s); /* NULL if not UTF-8: the caller says so */
}

static int put(json_t *obj, const char *key, json_t *v, char *err, size_t errlen)
{
	if (!v)
		return FAIL("\"%s\" is not valid UTF-8", key);
	if (json_object_set_new(obj, key, v))
		return FAIL("out of memory");
	return 0;
}

/* The prefixes of xl's deprecated "phy:/dev/sdb" syntax, and whether each still means raw. */
static int strip_prefix(char **target, bool *prefixed, char *err, size_t errlen)
{
	static const char *const raw[] = {"tap2:", "tap:", "tapdisk:", "aio:", "raw:", "phy:",
					  "file:"};
	static const char *const other[] = {"qcow:", "qcow2:", "vhd:", "qed:"};
	bool again = true;

	while (again) {
		again = false;
		for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++)
			if (!strncmp(*target, raw[i], strlen(raw[i]))) {
				*target += strlen(raw[i]);
				*prefixed = again = true;
			}
	}
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		if (!strncmp(*target, other[i], strlen(other[i])))
			return FAIL("format \"%.*s\" is not supported (raw images and block devices "
				    "only)", (int)strlen(other[i]) - 1, other[i]);
	return 0;
}

int xlcfg_disk_spec(char *spec, json_t **out, char *err, size_t errlen)
{
	char *target = NULL, *format = NULL, *vdev = NULL, *access = NULL, *devtype = NULL;
	char *rest = spec;
	unsigned pos = 0; /* the next positional item: target, format, vdev, access */
	bool prefixed = false, readonly, direct = false;
	json_t *d;

	while (rest) {
		char *item = trim(rest), *eq;

		if (!strncmp(item, "target=", 7)) { /* takes the rest of the spec, commas too */
			target = item + 7;
			break;
		}
		item = next_item(&rest);
		if ((eq = strchr(item, '='))) {
			char *key = item, *val;

			*eq = 0;
			key = trim(key);
			val = trim(eq + 1);
			if (!strcmp(key, "format")) {
				format = val;
			} else if (!strcmp(key, "vdev")) {
				vdev = val;
			} else if (!strcmp(key, "access")) {
				access = val;
			} else if (!strcmp(key, "devtype")) {
				devtype = val;
			} else if (!strcmp(key, "specification")) {
				if (strcmp(val, "xen"))
					return FAIL("specification \"%s\" is not supported (xen)", val);
			} else if (!strcmp(key, "backendtype") || !strcmp(key, "backend") ||
				   !strcmp(key, "script") || !strcmp(key, "colo-host") ||
				   !strcmp(key, "colo-port") || !strcmp(key, "colo-export") ||
				   !strcmp(key, "active-disk") || !strcmp(key, "hidden-disk")) {
				return FAIL("%s= is not supported by Capsule (its disks are virtio-blk on a "
					    "raw image or a block device)", key);
			} else {
				return FAIL("unknown option \"%s\" (format, vdev, access, devtype, target)",
					    key);
			}
		} else if (!strcmp(item, "cdrom")) {
			devtype = item;
		} else if (!strcmp(item, "discard")) {
			/* Capsule's disks always take discards. */
		} else if (!strcmp(item, "direct-io-safe")) {
			direct = true; /* the image may bypass the host's page cache: O_DIRECT */
		} else if (!strcmp(item, "no-discard") ||
			   !strcmp(item, "trusted") || !strcmp(item, "untrusted") ||
			   !strcmp(item, "colo")) {
			return FAIL("the flag \"%s\" is not supported by Capsule", item);
		} else if (pos == 0) {
			target = *item ? item : NULL;
			if (target && strip_prefix(&target, &prefixed, err, errlen))
				return -1;
			pos = prefixed ? 2 : 1; /* "phy:/dev/sdb,xvda,w": no format after a prefix */
		} else if (!*item && !rest) {
			/* a trailing comma */
		} else if (pos < 4) {
			char **slot[] = {NULL, &format, &vdev, &access};

			if (*item)
				*slot[pos] = item;
			pos++;
		} else {
			return FAIL("\"%s\": more than four positional items (target, format, vdev, "
				    "access)", item);
		}
	}
	if (target)
		target = trim(target);
	if (!target || !*target)
		return FAIL("no target (the raw image or block device)");
	if (strchr(target, ','))
		return FAIL("a path with a comma is not supported");
	if (format && *format && strcmp(format, "raw"))
		return FAIL("format \"%s\" is not supported (raw images and block devices only)",
			    format);
	if (devtype && strcmp(devtype, "disk"))
		return FAIL("devtype \"%s\" is not supported (disk)", devtype);
	if (!access || !*access || !strcmp(access, "rw") || !strcmp(access, "w"))
		readonly = false;
	else if (!strcmp(access, "ro") || !strcmp(access, "r"))
		readonly = true;
	else
		return FAIL("access must be \"ro\" or \"rw\", not \"%s\"", access);
	if (vdev && strlen(vdev) > SERIAL_MAX)
		return FAIL("vdev \"%s\" is longer than %d bytes (it becomes the disk's serial)",
			    vdev, SERIAL_MAX);
	if (!(d = json_object()))
		return FAIL("out of memory");
	if (put(d, "path", str(target), err, errlen) ||
	    (readonly && put(d, "readonly", json_true(), err, errlen)) ||
	    (direct && put(d, "direct", json_true(), err, errlen)) ||
	    (vdev && *vdev && put(d, "serial", str(vdev), err, errlen))) {
		json_decref(d);
		return -1;
	}
	*out = d;
	return 0;
}

static bool valid_mac(const char *s)
{
	for (int i = 0; i < 17; i++) {
		bool colon = i % 3 == 2;
		char c = s[i];

		if (colon ? c != ':' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
					 (c >= 'A' && c <= 'F')))
			return false;
	}
	return s[17] == 0;
}

static bool valid_ifname(const char *s)
{
	/* The kernel's dev_valid_name. */
	return *s && strlen(s) <= IFNAME_MAX && strcmp(s, ".") && strcmp(s, "..") &&
	       !strpbrk(s, "/: \t\n");
}

int xlcfg_vif_spec(char *spec, json_t **out, char *err, size_t errlen)
{
	char *mac = NULL, *vifname = NULL, *rest = spec;
	json_t *d;

	while (rest) {
		char *item = next_item(&rest), *eq, *key, *val;

		if (!*item)
			continue;
		if (!(eq = strchr(item, '=')))
			return FAIL("expected KEY=VALUE, not \"%s\"", item);
		*eq = 0;
		key = trim(item);
		val = trim(eq + 1);
		if (!strcmp(key, "mac")) {
			if (!valid_mac(val))
				return FAIL("mac \"%s\" is not six hex bytes (52:54:00:12:34:56)", val);
			if (strchr("13579bdfBDF", val[1])) /* the first byte's low bit */
				return FAIL("mac \"%s\" is a multicast address", val);
			mac = val;
		} else if (!strcmp(key, "vifname")) {
			if (!valid_ifname(val))
				return FAIL("vifname \"%s\" is not a network interface name (1 to %d "
					    "characters, no '/', ':' or spaces)", val, IFNAME_MAX);
			vifname = val;
		} else if (!strcmp(key, "type")) {
			if (strcmp(val, "vif") && strcmp(val, "ioemu"))
				return FAIL("type \"%s\" is not supported (vif or ioemu)", val);
		} else if (!strcmp(key, "model")) {
			if (strcmp(val, "virtio") && strcmp(val, "virtio-net"))
				return FAIL("model \"%s\" is not supported (the NIC is virtio-net)", val);
		} else if (!strcmp(key, "bridge")) {
			return FAIL("bridge= is not supported: Capsule opens the TAP device named by "
				    "vifname= and attaches it to nothing (ip link set TAP master %s)",
				    val);
		} else if (!strcmp(key, "script")) {
			return FAIL("script= is not supported: Capsule runs no hotplug scripts (give "
				    "vifname= of a TAP device)");
		} else if (!strcmp(key, "ip") || !strcmp(key, "rate") || !strcmp(key, "backend") ||
			   !strcmp(key, "gatewaydev") || !strcmp(key, "devid") ||
			   !strcmp(key, "mtu") || !strcmp(key, "trusted") ||
			   !strcmp(key, "forwarddev") || !strcmp(key, "accel")) {
			return FAIL("%s= is not supported by Capsule", key);
		} else {
			return FAIL("unknown option \"%s\" (mac, vifname, type, model)", key);
		}
	}
	if (!vifname)
		return FAIL("no vifname= (Capsule's network device is the TAP device of that name)");
	if (!(d = json_object()))
		return FAIL("out of memory");
	if (put(d, "tap", str(vifname), err, errlen) ||
	    (mac && put(d, "mac", str(mac), err, errlen))) {
		json_decref(d);
		return -1;
	}
	*out = d;
	return 0;
}
