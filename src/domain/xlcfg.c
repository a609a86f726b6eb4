/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xl.cfg to a JSON domain configuration (include/capsule/xlcfg.h, docs/xl-cfg.md).
 *
 * The syntax is libxlu's: a statement is `KEY = VALUE` and ends at a newline or ';'; a value
 * is a quoted string (C escapes in either quote), a number, or a flat list of those that may
 * span lines and end with a comma; '#' starts a comment. The parser is one loop, not a
 * recursion (lists do not nest), every string and list is bounded, and every error names
 * its line and its key. The keys then map onto docs/domain-config.schema.json; what the JSON
 * cannot say (a bridge, a qcow2 image, a coredump action) is refused, never dropped.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsule/domain.h"
#include "capsule/xlcfg.h"
#include "xlcfg_spec.h"

enum atom_kind { ATOM_STRING, ATOM_NUMBER };

struct atom {
	enum atom_kind kind;
	unsigned line;
	char *text; /* decoded, NUL-terminated, owned */
};

struct value {
	bool list;
	unsigned line; /* where the value starts */
	unsigned n;
	struct atom atoms[XLCFG_LIST_MAX];
};

enum key {
	K_NAME, K_TYPE, K_MEMORY, K_MAXMEM, K_VCPUS, K_KERNEL, K_RAMDISK, K_CMDLINE, K_ROOT,
	K_EXTRA, K_DISK, K_VIF, K_ON_POWEROFF, K_ON_REBOOT, K_ON_CRASH,
	K_MEMORY_MIN, K_MEMORY_SHARES, K_MEMORY_BACKING, /* Capsule's (docs/resources.md) */
	K_CPU_WEIGHT, K_CAP, K_CPUS, /* Xen's credit scheduler and pinning (resources.md) */
	NR_KEYS
};

struct parser {
	const char *p, *end;
	unsigned line;
	char key[48]; /* the key being parsed ("memory", "disk[1]"), for messages */
	char *err;
	size_t errlen;
	char shown[8]; /* what shown() prints */
	json_t *out;
	unsigned seen[NR_KEYS]; /* the line each key was set on, or 0 */
	/* Folded together at the end, as xl does: memory with maxmem, cmdline with root/extra. */
	uint64_t memory, maxmem;
	char *cmdline, *root, *extra;
};

__attribute__((format(printf, 3, 4))) static int fail(struct parser *ps, unsigned line,
						       const char *fmt, ...)
{
	int n = 0;
	va_list ap;

	if (line)
		n = snprintf(ps->err, ps->errlen, "line %u: ", line);
	if (n >= 0 && (size_t)n < ps->errlen && ps->key[0])
		n += snprintf(ps->err + n, ps->errlen - (size_t)n, "%s: ", ps->key);
	if (n >= 0 && (size_t)n < ps->errlen) {
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* A character as a message shows it: 'x', or a code for what does not print. */
static const char *shown(struct parser *ps)
{
	static const char *const names[] = {"the end of the file", "the end of the line"};
	unsigned char c;

	if (ps->p == ps->end)
		return names[0];
	c = (unsigned char)*ps->p;
	if (c == '\n')
		return names[1];
	if (c == '\'')
		return "\"'\"";
	if (c >= 0x20 && c < 0x7f)
		snprintf(ps->shown, sizeof(ps->shown), "'%c'", c);
	else
		snprintf(ps->shown, sizeof(ps->shown), "0x%02x", c);
	return ps->shown;
}

/* ---- syntax ---- */

static void skip_blank(struct parser *ps, bool newlines)
{
	while (ps->p < ps->end) {
		char c = *ps->p;

		if (c == '#') {
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			ps->p++;
		} else if (c == '\n' && newlines) {
			ps->line++;
			ps->p++;
		} else {
			break;
		}
	}
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* After a backslash: the character it stands for (libxlu's escapes). */
static int escape(struct parser *ps, char *out)
{
	static const char from[] = "abfnrtv", to[] = "\a\b\f\n\r\t\v";
	const char *s;
	char c;
	int v;

	if (ps->p == ps->end || *ps->p == '\n')
		return fail(ps, ps->line, "a string ends in a '\\'");
	c = *ps->p;
	if (c == '"' || c == '\'' || c == '\\') {
		*out = c;
		ps->p++;
	} else if (c && (s = strchr(from, c))) {
		*out = to[s - from];
		ps->p++;
	} else if (c == 'x') {
		if (ps->end - ps->p < 3 || hexval(ps->p[1]) < 0 || hexval(ps->p[2]) < 0)
			return fail(ps, ps->line, "'\\x' needs two hex digits");
		*out = (char)(hexval(ps->p[1]) << 4 | hexval(ps->p[2]));
		ps->p += 3;
	} else if (c >= '0' && c <= '7') {
		for (v = 0, s = ps->p; ps->p < ps->end && ps->p - s < 3 && *ps->p >= '0' &&
				       *ps->p <= '7';
		     ps->p++)
			v = v * 8 + (*ps->p - '0');
		if (v > 0xff)
			return fail(ps, ps->line, "an octal escape above \\377");
		*out = (char)v;
	} else {
		return fail(ps, ps->line, "unknown escape '\\' followed by %s in a string",
			    shown(ps));
	}
	return 0;
}

static int read_string(struct parser *ps, struct atom *a)
{
	char buf[XLCFG_STRING_MAX];
	char quote = *ps->p++;
	size_t n = 0;
	char c;

	for (;;) {
		if (ps->p == ps->end || *ps->p == '\n')
			return fail(ps, ps->line, "a string is not closed with %c on its line",
				    quote);
		c = *ps->p++;
		if (c == quote)
			break;
		if (c == '\\' && escape(ps, &c))
			return -1;
		if (!c)
			return fail(ps, ps->line, "a NUL byte in a string");
		if (n == sizeof(buf))
			return fail(ps, ps->line, "a string longer than %u bytes", XLCFG_STRING_MAX);
		buf[n++] = c;
	}
	a->kind = ATOM_STRING;
	a->text = strndup(buf, n);
	return a->text ? 0 : fail(ps, ps->line, "out of memory");
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && is_digit(c));
}

static int read_atom(struct parser *ps, struct atom *a)
{
	const char *start = ps->p;

	a->line = ps->line;
	a->text = NULL;
	if (ps->p < ps->end && (*ps->p == '\'' || *ps->p == '"'))
		return read_string(ps, a);
	if (ps->p == ps->end || !is_digit(*ps->p))
		return fail(ps, ps->line, "expected a value (a quoted string, a number or a list), "
					  "not %s", shown(ps));
	/* libxlu's NUMBER: a digit, then letters, digits, '_' and '.'; checked when used. */
	while (ps->p < ps->end && (is_ident(*ps->p, false) || *ps->p == '.'))
		if (ps->p++ - start == 32)
			return fail(ps, ps->line, "a number longer than 32 characters");
	a->kind = ATOM_NUMBER;
	a->text = strndup(start, (size_t)(ps->p - start));
	return a->text ? 0 : fail(ps, ps->line, "out of memory");
}

static void free_value(struct value *v)
{
	for (unsigned i = 0; i < v->n; i++)
		free(v->atoms[i].text);
	v->n = 0;
}

static int read_value(struct parser *ps, struct value *v)
{
	unsigned open = ps->line;

	v->line = ps->line;
	v->list = false;
	v->n = 0;
	if (ps->p == ps->end || *ps->p == '\n' || *ps->p == ';')
		return fail(ps, ps->line, "no value after '='");
	if (*ps->p != '[') {
		v->n = 1;
		return read_atom(ps, &v->atoms[0]);
	}
	v->list = true;
	ps->p++;
	for (;;) {
		skip_blank(ps, true);
		if (ps->p == ps->end)
			return fail(ps, open, "the list opened on this line is not closed with ']'");
		if (*ps->p == ']')
			break;
		if (*ps->p == '[')
			return fail(ps, ps->line, "lists inside lists are not supported");
		if (v->n == XLCFG_LIST_MAX)
			return fail(ps, ps->line, "a list of more than %u items", XLCFG_LIST_MAX);
		if (read_atom(ps, &v->atoms[v->n++]))
			return -1;
		skip_blank(ps, true);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
		} else if (ps->p < ps->end && *ps->p != ']') {
			return fail(ps, ps->line, "expected ',' or ']' in the list, not %s",
				    shown(ps));
		}
	}
	ps->p++;
	return 0;
}

/* ---- values to JSON ---- */

static int get_string(struct parser *ps, const struct value *v, const char **s)
{
	*s = "";
	if (v->list)
		return fail(ps, v->line, "expected a quoted string, not a list");
	if (v->atoms[0].kind != ATOM_STRING)
		return fail(ps, v->line, "expected a quoted string, not the number %s",
			    v->atoms[0].text);
	*s = v->atoms[0].text;
	return 0;
}

/* xl reads a number from a number or a string alike ("512" or 512); decimal or 0x hex. */
static int get_integer(struct parser *ps, const struct value *v, uint64_t min, uint64_t max,
		       uint64_t *out)
{
	const char *s, *digits;
	size_t n;
	bool hex;

	*out = 0;
	if (v->list)
		return fail(ps, v->line, "expected an integer, not a list");
	s = v->atoms[0].text;
	hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	digits = hex ? s + 2 : s;
	n = strspn(digits, hex ? "0123456789abcdefABCDEF" : "0123456789");
	/* No octal: a leading 0 means it in libxlu, and nobody means it in a config. */
	if (!n || digits[n] || n > 16 || (!hex && s[0] == '0' && s[1]))
		return fail(ps, v->line, "expected an integer");
	*out = strtoull(digits, NULL, hex ? 16 : 10);
	if (*out < min || *out > max)
		return fail(ps, v->line, "must be from %llu to %llu, not %s",
			    (unsigned long long)min, (unsigned long long)max, s);
	return 0;
}

static int set(struct parser *ps, json_t *obj, const char *key, json_t *v, unsigned line)
{
	if (!v)
		return fail(ps, line, "not valid UTF-8");
	if (json_object_set_new(obj, key, v))
		return fail(ps, line, "out of memory");
	return 0;
}

static int set_name(struct parser *ps, const struct value *v)
{
	const char *s;

	if (get_string(ps, v, &s))
		return -1;
	if (!*s || strlen(s) >= DOMAIN_NAME_MAX)
		return fail(ps, v->line, "a name has 1 to %d characters", DOMAIN_NAME_MAX - 1);
	return set(ps, ps->out, "name", json_string(s), v->line);
}

/* Capsule tells a PV image from a kernel by looking at it; type says how a kernel boots. */
static int set_type(struct parser *ps, const struct value *v)
{
	const char *s;

	if (get_string(ps, v, &s))
		return -1;
	if (!strcmp(s, "pv") || !strcmp(s, "pvh"))
		return 0;
	if (!strcmp(s, "hvm")) /* no PVH entry: the kernel's own (bzImage, 64-bit ELF) */
		return set(ps, ps->out, "no_pvh", json_true(), v->line);
	return fail(ps, v->line, "expected \"pv\", \"pvh\" or \"hvm\", not \"%s\"", s);
}

static int set_memory(struct parser *ps, const struct value *v)
{
	return get_integer(ps, v, 1, 1ull << 30, &ps->memory);
}

static int set_maxmem(struct parser *ps, const struct value *v)
{
	return get_integer(ps, v, 1, 1ull << 30, &ps->maxmem);
}

/* Capsule's memory keys, not xl's: passed to the JSON config, which checks them. */
/* An integer key in [min, max], into the JSON config as it is. */
static int set_int(struct parser *ps, const struct value *v, const char *key, uint64_t min,
		   uint64_t max)
{
	uint64_t n;

	if (get_integer(ps, v, min, max, &n))
		return -1;
	return set(ps, ps->out, key, json_integer((json_int_t)n), v->line);
}

static int set_memory_min(struct parser *ps, const struct value *v)
{
	return set_int(ps, v, "memory_min", 0, 1ull << 30);
}

static int set_memory_shares(struct parser *ps, const struct value *v)
{
	return set_int(ps, v, "memory_shares", 1, MEM_SHARES_MAX);
}

static int set_memory_backing(struct parser *ps, const struct value *v)
{
	const char *s;

	if (get_string(ps, v, &s))
		return -1;
	return set(ps, ps->out, "memory_backing", json_string(s), v->line);
}

static int set_vcpus(struct parser *ps, const struct value *v)
{
	return set_int(ps, v, "vcpus", 1, CAP_MAX_VCPUS);
}

/* CPU control (docs/resources.md); the domain config checks the ranges and the list. */
static int set_cpu_weight(struct parser *ps, const struct value *v)
{
	return set_int(ps, v, "cpu_weight", 1, 65535);
}

static int set_cap(struct parser *ps, const struct value *v)
{
	return set_int(ps, v, "cap", 0, 6553500);
}

static int set_cpus(struct parser *ps, const struct value *v)
{
	const char *s;

	if (v->list)
		return fail(ps, v->line, "a list of CPU sets, one per vCPU, is not supported; give "
			    "one string for all vCPUs (cpus = \"0-3,^1\")");
	if (get_string(ps, v, &s))
		return -1;
	return set(ps, ps->out, "cpus", json_string(s), v->line);
}

static int set_path(struct parser *ps, const struct value *v, const char *json_key)
{
	const char *s;

	if (get_string(ps, v, &s))
		return -1;
	if (!*s)
		return fail(ps, v->line, "an empty path");
	return set(ps, ps->out, json_key, json_string(s), v->line);
}

static int set_kernel(struct parser *ps, const struct value *v)
{
	return set_path(ps, v, "kernel");
}

static int set_ramdisk(struct parser *ps, const struct value *v)
{
	return set_path(ps, v, "initrd");
}

static int keep_string(struct parser *ps, const struct value *v, char **out)
{
	const char *s;

	if (get_string(ps, v, &s))
		return -1;
	*out = strdup(s);
	return *out ? 0 : fail(ps, v->line, "out of memory");
}

static int set_cmdline(struct parser *ps, const struct value *v)
{
	return keep_string(ps, v, &ps->cmdline);
}

static int set_root(struct parser *ps, const struct value *v)
{
	return keep_string(ps, v, &ps->root);
}

static int set_extra(struct parser *ps, const struct value *v)
{
	return keep_string(ps, v, &ps->extra);
}

static int set_action(struct parser *ps, const struct value *v, const char *json_key)
{
	static const char *const xl_only[] = {"rename-restart", "coredump-destroy",
					      "coredump-restart", "soft-reset"};
	enum domain_action a;
	const char *s;

	if (get_string(ps, v, &s))
		return -1;
	if (!domain_action_parse(s, &a))
		return set(ps, ps->out, json_key, json_string(s), v->line);
	for (unsigned i = 0; i < sizeof(xl_only) / sizeof(xl_only[0]); i++)
		if (!strcmp(s, xl_only[i]))
			return fail(ps, v->line, "\"%s\" is an xl action Capsule does not have "
						 "(destroy, restart or preserve)", s);
	return fail(ps, v->line, "expected \"destroy\", \"restart\" or \"preserve\", not \"%s\"",
		    s);
}

static int set_on_poweroff(struct parser *ps, const struct value *v)
{
	return set_action(ps, v, "on_poweroff");
}

static int set_on_reboot(struct parser *ps, const struct value *v)
{
	return set_action(ps, v, "on_reboot");
}

static int set_on_crash(struct parser *ps, const struct value *v)
{
	return set_action(ps, v, "on_crash");
}

/* disk = [ 'SPEC', ... ] and vif = [ 'SPEC', ... ]: a JSON array of what each spec gives. */
static int set_devices(struct parser *ps, const struct value *v, const char *json_key,
		       int (*spec)(char *spec, json_t **out, char *err, size_t errlen))
{
	char key[sizeof(ps->key)];
	json_t *arr;

	if (!v->list)
		return fail(ps, v->line, "expected a list of strings: [ '...', ... ]");
	arr = json_array();
	if (!arr || set(ps, ps->out, json_key, arr, v->line))
		return -1;
	memcpy(key, ps->key, sizeof(key));
	for (unsigned i = 0; i < v->n; i++) {
		json_t *dev = NULL;
		char msg[256];

		snprintf(ps->key, sizeof(ps->key), "%s[%u]", key, i);
		if (v->atoms[i].kind != ATOM_STRING)
			return fail(ps, v->atoms[i].line, "expected a quoted string, not the number %s",
				    v->atoms[i].text);
		if (spec(v->atoms[i].text, &dev, msg, sizeof(msg)))
			return fail(ps, v->atoms[i].line, "%s", msg);
		if (json_array_append_new(arr, dev))
			return fail(ps, v->atoms[i].line, "out of memory");
	}
	return 0;
}

static int set_disk(struct parser *ps, const struct value *v)
{
	return set_devices(ps, v, "disk", xlcfg_disk_spec);
}

static int set_vif(struct parser *ps, const struct value *v)
{
	return set_devices(ps, v, "net", xlcfg_vif_spec);
}

static const struct {
	const char *name;
	int (*set)(struct parser *ps, const struct value *v);
} keys[NR_KEYS] = {
	[K_NAME] = {"name", set_name},
	[K_TYPE] = {"type", set_type},
	[K_MEMORY] = {"memory", set_memory},
	[K_MAXMEM] = {"maxmem", set_maxmem},
	[K_VCPUS] = {"vcpus", set_vcpus},
	[K_CPU_WEIGHT] = {"cpu_weight", set_cpu_weight},
	[K_CAP] = {"cap", set_cap},
	[K_CPUS] = {"cpus", set_cpus},
	[K_KERNEL] = {"kernel", set_kernel},
	[K_RAMDISK] = {"ramdisk", set_ramdisk},
	[K_CMDLINE] = {"cmdline", set_cmdline},
	[K_ROOT] = {"root", set_root},
	[K_EXTRA] = {"extra", set_extra},
	[K_DISK] = {"disk", set_disk},
	[K_VIF] = {"vif", set_vif},
	[K_ON_POWEROFF] = {"on_poweroff", set_on_poweroff},
	[K_ON_REBOOT] = {"on_reboot", set_on_reboot},
	[K_ON_CRASH] = {"on_crash", set_on_crash},
	[K_MEMORY_MIN] = {"memory_min", set_memory_min},
	[K_MEMORY_SHARES] = {"memory_shares", set_memory_shares},
	[K_MEMORY_BACKING] = {"memory_backing", set_memory_backing},
};

/* Keys of xl.cfg that Capsule has no use for yet: said so, rather than "unknown". */
static const char *const xl_keys[] = {
	"builder", "bootloader", "bootloader_args", "uuid", "maxvcpus", "cpus_soft", "pci", "vfb", "vkb", "vtpm", "usb", "usbctrl", "usbdev", "channel",
	"p9", "serial", "boot", "firmware", "bios", "acpi", "apic", "pae", "hap", "nestedhvm",
	"viridian", "videoram", "vga", "vnc", "sdl", "localtime", "rtc_timeoffset", "cpuid",
	"vnuma", "device_model_version", "device_model_override", "stubdomain_kernel",
	"on_watchdog", "on_soft_reset", "shadow_memory", "seclabel", "soundhw", "tsc_mode",
	"iomem", "ioports", "irqs", "max_grant_frames", "max_maptrack_frames", "claim_mode",
	"xen_platform_pci", "vif2", "vscsi", "vdispl", "vsnd", "device_tree", "passthrough",
};

static int lookup(const char *s, size_t n)
{
	for (int i = 0; i < NR_KEYS; i++)
		if (strlen(keys[i].name) == n && !memcmp(keys[i].name, s, n))
			return i;
	return -1;
}

static bool is_xl_key(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(xl_keys) / sizeof(xl_keys[0]); i++)
		if (strlen(xl_keys[i]) == n && !memcmp(xl_keys[i], s, n))
			return true;
	return false;
}

static int statement(struct parser *ps)
{
	const char *start = ps->p;
	struct value v = {.n = 0};
	unsigned line = ps->line;
	size_t n;
	int k, rc;

	while (ps->p < ps->end && is_ident(*ps->p, ps->p == start))
		ps->p++;
	n = (size_t)(ps->p - start);
	if (n < sizeof(ps->key))
		snprintf(ps->key, sizeof(ps->key), "%.*s", (int)n, start);
	else
		snprintf(ps->key, sizeof(ps->key), "%.40s...", start);
	k = lookup(start, n);
	if (k < 0)
		return fail(ps, line, is_xl_key(start, n) ? "an xl key Capsule does not support"
							  : "unknown key (see docs/xl-cfg.md)");
	if (ps->seen[k])
		return fail(ps, line, "set twice (first on line %u)", ps->seen[k]);
	skip_blank(ps, false);
	if (ps->end - ps->p >= 2 && ps->p[0] == '+' && ps->p[1] == '=')
		return fail(ps, line, "'+=' is not supported: give the whole value with '='");
	if (ps->p == ps->end || *ps->p != '=')
		return fail(ps, line, "expected '=' after the key, not %s", shown(ps));
	ps->p++;
	skip_blank(ps, false);
	rc = read_value(ps, &v);
	if (!rc) {
		skip_blank(ps, false);
		if (ps->p < ps->end && *ps->p != '\n' && *ps->p != ';')
			rc = fail(ps, ps->line, "expected the end of the line after the value, not %s",
				  shown(ps));
	}
	if (!rc) {
		ps->seen[k] = line;
		rc = keys[k].set(ps, &v);
	}
	free_value(&v);
	return rc;
}

/* What xl folds from several keys, once every key is read. */
static int finish(struct parser *ps)
{
	char cmdline[CAP_CMDLINE_MAX + XLCFG_STRING_MAX * 2 + 8];
	unsigned cmdline_line = ps->seen[K_CMDLINE];

	ps->key[0] = 0;
	if (!ps->seen[K_NAME])
		return fail(ps, 0, "name: missing (every domain needs a name)");
	if (!ps->seen[K_KERNEL])
		return fail(ps, 0, "kernel: missing (the PV image or the kernel to boot)");
	if (ps->cmdline && (ps->root || ps->extra)) {
		snprintf(ps->key, sizeof(ps->key), "%s", ps->root ? "root" : "extra");
		return fail(ps, ps->seen[ps->root ? K_ROOT : K_EXTRA],
			    "cannot be combined with cmdline (line %u): put it in cmdline",
			    ps->seen[K_CMDLINE]);
	}
	if (ps->cmdline) {
		snprintf(cmdline, sizeof(cmdline), "%s", ps->cmdline);
	} else {
		/* xl: "root=ROOT EXTRA" */
		snprintf(cmdline, sizeof(cmdline), "%s%s%s%s", ps->root ? "root=" : "",
			 ps->root ? ps->root : "", ps->root && ps->extra ? " " : "",
			 ps->extra ? ps->extra : "");
		cmdline_line = ps->seen[ps->extra ? K_EXTRA : K_ROOT];
	}
	if (ps->cmdline || ps->root || ps->extra) {
		snprintf(ps->key, sizeof(ps->key), "%s",
			 ps->cmdline ? "cmdline" : ps->extra ? "extra" : "root");
		if (strlen(cmdline) >= CAP_CMDLINE_MAX)
			return fail(ps, cmdline_line, "the command line is longer than %u bytes",
				    CAP_CMDLINE_MAX - 1);
		if (set(ps, ps->out, "cmdline", json_string(cmdline), cmdline_line))
			return -1;
	}
	/*
	 * memory is what the guest starts with, maxmem what it may grow to: the domain gets
	 * maxmem and a balloon holding the difference (so mem-set can move between them).
	 */
	if (ps->seen[K_MAXMEM]) {
		uint64_t start = ps->seen[K_MEMORY] ? ps->memory : ps->maxmem;

		if (ps->maxmem < start) {
			snprintf(ps->key, sizeof(ps->key), "maxmem");
			return fail(ps, ps->seen[K_MAXMEM],
				    "%llu MiB is less than memory (%llu MiB, line %u)",
				    (unsigned long long)ps->maxmem, (unsigned long long)start,
				    ps->seen[K_MEMORY]);
		}
		if (set(ps, ps->out, "memory", json_integer((json_int_t)ps->maxmem), 0) ||
		    set(ps, ps->out, "balloon", json_integer((json_int_t)(ps->maxmem - start)), 0))
			return -1;
	} else if (ps->seen[K_MEMORY]) {
		if (set(ps, ps->out, "memory", json_integer((json_int_t)ps->memory), 0))
			return -1;
	}
	return 0;
}

int xlcfg_parse(const char *text, size_t len, json_t **out, char *err, size_t errlen)
{
	struct parser ps = {.p = text, .end = text + len, .line = 1, .err = err, .errlen = errlen};
	int rc = 0;

	*out = NULL;
	if (errlen)
		err[0] = 0;
	if (len > XLCFG_MAX_LEN)
		return fail(&ps, 0, "the configuration is larger than %u KiB", XLCFG_MAX_LEN >> 10);
	if (!(ps.out = json_object()))
		return fail(&ps, 0, "out of memory");
	while (!rc) {
		ps.key[0] = 0;
		skip_blank(&ps, false);
		if (ps.p == ps.end)
			break;
		if (*ps.p == '\n' || *ps.p == ';') {
			ps.line += *ps.p++ == '\n';
		} else if (is_ident(*ps.p, true)) {
			rc = statement(&ps);
		} else {
			rc = fail(&ps, ps.line, "expected a key name, not %s", shown(&ps));
		}
	}
	if (!rc)
		rc = finish(&ps);
	free(ps.cmdline);
	free(ps.root);
	free(ps.extra);
	if (rc) {
		json_decref(ps.out);
		return -1;
	}
	*out = ps.out;
	return 0;
}
