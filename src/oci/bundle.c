/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A bundle's config.json (the OCI runtime spec) turned into a domain, by the mapping in
 * docs/oci.md: process.args[0] is the image inside root.path, the rest of args and
 * process.env the guest command line, linux.resources the memory and the CPU weight, cap
 * and pinning, io.capsule.* annotations what OCI has no field for, bind mounts marked
 * io.capsule.disk virtio-blk disks. The file comes from whoever wrote the bundle: every
 * field is type-checked and bounded, and the image is opened inside the rootfs only.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capsule/cgroup.h"
#include "capsule/loader.h"
#include "capsule/oci.h"
#include "capsule/pv.h"
#include "capsule/pv_abi.h"

#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), -1)
#define OCI_MAX_WORDS 256

/* One word of the command line: quoted if it holds a space, refused if it cannot be. */
static int put_word(char *out, size_t len, size_t *used, const char *w)
{
	bool quote = strpbrk(w, " \t") != NULL;
	int n;

	for (const char *p = w; *p; p++)
		if (*p == '"' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return -EINVAL;
	n = snprintf(out + *used, len - *used, "%s%s%s%s", *used ? " " : "", quote ? "\"" : "",
		     w, quote ? "\"" : "");
	if (n < 0 || (size_t)n >= len - *used)
		return -E2BIG;
	*used += (size_t)n;
	return 0;
}

int oci_cmdline(const char *prefix, const char *const *env, size_t nenv,
		const char *const *args, size_t nargs, char *out, size_t len)
{
	size_t used = 0;
	int r = 0;

	if (!len)
		return -E2BIG;
	out[0] = 0;
	if (prefix && *prefix) { /* the annotation, as the user wrote it */
		int n = snprintf(out, len, "%s", prefix);

		if (n < 0 || (size_t)n >= len)
			return -E2BIG;
		used = (size_t)n;
	}
	for (size_t i = 0; i < nenv && !r; i++)
		r = put_word(out, len, &used, env[i]);
	if (!r && nargs)
		r = put_word(out, len, &used, "--");
	for (size_t i = 0; i < nargs && !r; i++)
		r = put_word(out, len, &used, args[i]);
	return r;
}

int oci_mem_from_limit(int64_t limit, uint64_t *mib, char *err, size_t errlen)
{
	uint64_t min = (PV_MIN_MEM >> 20) + OCI_VMM_OVERHEAD_MIB;

	if (limit <= 0) { /* -1, or 0: no limit */
		*mib = OCI_DEFAULT_MEM_MIB;
		return 0;
	}
	if ((uint64_t)limit >> 20 < min)
		return FAIL("linux.resources.memory.limit %lld bytes is too small: a domain needs "
			    "%llu MiB (%llu MiB of guest memory and the VMM's own %u MiB)",
			    (long long)limit, (unsigned long long)min,
			    (unsigned long long)(PV_MIN_MEM >> 20), OCI_VMM_OVERHEAD_MIB);
	*mib = ((uint64_t)limit >> 20) - OCI_VMM_OVERHEAD_MIB;
	return 0;
}

unsigned oci_weight_from_shares(uint64_t shares)
{
	/* cgroup v1 shares 1024 = Xen weight 256 (include/capsule/cgroup.h, the reverse). */
	uint64_t w = shares / 4;

	return w < CG_WEIGHT_MIN ? CG_WEIGHT_MIN : w > CG_WEIGHT_MAX ? CG_WEIGHT_MAX : (unsigned)w;
}

unsigned oci_cap_from_quota(int64_t quota, uint64_t period)
{
	uint64_t cap;

	if (quota <= 0 || !period)
		return 0; /* -1: no quota */
	cap = ((uint64_t)quota * 100 + period - 1) / period;
	return cap > CG_CAP_MAX ? CG_CAP_MAX : cap ? (unsigned)cap : 1;
}

/* An array of strings, bounded, into ptrs (pointing into j). */
static int strings(json_t *a, const char *what, const char **ptrs, size_t *n, char *err,
		   size_t errlen)
{
	size_t i;
	json_t *v;

	*n = 0;
	if (!a)
		return 0;
	if (!json_is_array(a))
		return FAIL("%s must be an array of strings", what);
	if (json_array_size(a) > OCI_MAX_WORDS)
		return FAIL("%s has more than %u entries", what, OCI_MAX_WORDS);
	json_array_foreach(a, i, v) {
		if (!json_is_string(v))
			return FAIL("%s[%zu] is not a string", what, i);
		ptrs[(*n)++] = json_string_value(v);
	}
	return 0;
}

/* The image: args[0] resolved inside the rootfs (symlinks and .. stay in it), then what
 * the loader would make of it. */
static int open_image(struct oci_spec *s, char *err, size_t errlen)
{
	struct open_how how = {.flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
	char lerr[LOADER_ERR_MAX];
	uint8_t *file = NULL;
	struct stat sb;
	size_t size;
	int root = open(s->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (root < 0)
		return FAIL("rootfs %s: %s", s->rootfs, strerror(errno));
	s->image_fd = (int)syscall(SYS_openat2, root, s->image, &how, sizeof(how));
	close(root);
	if (s->image_fd < 0)
		return FAIL("exec: \"%s\": stat %s: %s", s->image, s->image, strerror(errno));
	if (fstat(s->image_fd, &sb) || !S_ISREG(sb.st_mode))
		return FAIL("exec: \"%s\": not a regular file", s->image);
	if (file_read_all(s->image, s->image_fd, (uint64_t)1 << 30, &file, &size, lerr))
		return FAIL("exec: \"%s\": %s", s->image, lerr);
	s->image_pv = elf_is_pv(file, size);
	/* Not PV: an ELF kernel or a bzImage ("HdrS" at 0x202), else nothing runnable. */
	if (!s->image_pv && !(size >= 4 && !memcmp(file, "\177ELF", 4)) &&
	    !(size >= 0x206 && !memcmp(file + 0x202, "HdrS", 4))) {
		free(file);
		return FAIL("exec: \"%s\": not runnable: neither a Capsule PV image nor a kernel "
			    "(an ELF or a bzImage)", s->image);
	}
	free(file);
	return 0;
}

static int annotations(struct oci_spec *s, json_t *ann, const char **prefix, char *err,
		       size_t errlen)
{
	const char *key;
	json_t *v;

	*prefix = NULL;
	if (!ann)
		return 0;
	if (!json_is_object(ann))
		return FAIL("annotations must be an object of strings");
	json_object_foreach(ann, key, v) {
		const char *t = json_string_value(v);

		if (!t)
			return FAIL("annotation %s is not a string", key);
		if (!strcmp(key, "io.capsule.vcpus")) {
			char *end;
			unsigned long n = strtoul(t, &end, 10);

			if (!*t || *end || n < 1 || n > CAP_MAX_VCPUS)
				return FAIL("annotation io.capsule.vcpus: expected 1 to %u, got '%s'",
					    CAP_MAX_VCPUS, t);
			s->vcpus = (unsigned)n;
		} else if (!strcmp(key, "io.capsule.kernel-cmdline")) {
			*prefix = t;
		} else if (!strcmp(key, "io.capsule.type")) {
			if (strcmp(t, "pv") && strcmp(t, "hvm"))
				return FAIL("annotation io.capsule.type: expected pv or hvm, got "
					    "'%s'", t);
			if (!strcmp(t, "pv") != s->image_pv)
				return FAIL("annotation io.capsule.type says %s, but %s is %s", t,
					    s->image, s->image_pv ? "a PV image" : "not a PV image");
		} else if (!strncmp(key, "io.capsule.", 11)) {
			return FAIL("unknown annotation %s (docs/oci.md lists them)", key);
		}
	}
	s->annotations = json_dumps(ann, JSON_COMPACT);
	return 0;
}

static int resources(struct oci_spec *s, json_t *res, char *err, size_t errlen)
{
	json_t *mem = json_object_get(res, "memory"), *cpu = json_object_get(res, "cpu"), *v;

	if (res && !json_is_object(res))
		return FAIL("linux.resources must be an object");
	if ((v = json_object_get(mem, "limit")) && !json_is_integer(v))
		return FAIL("linux.resources.memory.limit must be an integer");
	if (v && oci_mem_from_limit(json_integer_value(v), &s->mem_mib, err, errlen))
		return -1;
	if ((v = json_object_get(cpu, "shares"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return FAIL("linux.resources.cpu.shares must be a positive integer");
		if (json_integer_value(v))
			s->cpu_weight = oci_weight_from_shares((uint64_t)json_integer_value(v));
	}
	if ((v = json_object_get(cpu, "quota"))) {
		json_t *p = json_object_get(cpu, "period");
		json_int_t period = p ? json_integer_value(p) : 100000;

		if (!json_is_integer(v) || (p && !json_is_integer(p)) || period <= 0 ||
		    period > 1000000)
			return FAIL("linux.resources.cpu.quota and period must be integers (period "
				    "1 to 1000000 us)");
		s->cpu_cap = oci_cap_from_quota(json_integer_value(v), (uint64_t)period);
	}
	if ((v = json_object_get(cpu, "cpus")) && json_string_length(v)) {
		cpu_set_t set;
		char cerr[256];

		if (!json_is_string(v) || json_string_length(v) >= sizeof(s->cpus))
			return FAIL("linux.resources.cpu.cpus must be a CPU list string");
		if (cpulist_parse(json_string_value(v), cpulist_host_cpus(), &set, cerr,
				  sizeof(cerr)))
			return FAIL("linux.resources.cpu.cpus: %s", cerr);
		snprintf(s->cpus, sizeof(s->cpus), "%s", json_string_value(v));
	}
	return 0;
}

/* Bind mounts with the io.capsule.disk option become disks; the rest is the engine's
 * /proc, /dev, /etc/hosts and the like, which a domain has no use for. */
static int mounts(struct oci_spec *s, json_t *ms, char *err, size_t errlen)
{
	size_t i;
	json_t *m;

	if (ms && !json_is_array(ms))
		return FAIL("mounts must be an array");
	json_array_foreach(ms, i, m) {
		const char *dst = json_string_value(json_object_get(m, "destination"));
		const char *src = json_string_value(json_object_get(m, "source"));
		const char *type = json_string_value(json_object_get(m, "type"));
		json_t *opts = json_object_get(m, "options"), *o;
		bool disk = false, ro = false;
		char real[PATH_MAX];
		struct stat sb;
		size_t k;

		if (!dst)
			return FAIL("mounts[%zu] has no destination", i);
		json_array_foreach(opts, k, o) {
			const char *t = json_string_value(o);

			disk |= t && !strcmp(t, "io.capsule.disk");
			ro |= t && !strcmp(t, "ro");
		}
		if (!disk) {
			oci_log("debug", "mount %s ignored (a domain gets disks only: docs/oci.md)",
				dst);
			continue;
		}
		if (!src || !type || strcmp(type, "bind"))
			return FAIL("mount %s: io.capsule.disk needs type bind and a source", dst);
		/* Absolute: the VMM runs in the state directory. */
		if (!realpath(src, real) || stat(real, &sb) ||
		    (!S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode)))
			return FAIL("mount %s: source %s is not an image file or a block device",
				    dst, src);
		if (strchr(real, ','))
			return FAIL("mount %s: source %s has a comma", dst, src);
		if (s->nr_disks == OCI_MAX_DISKS)
			return FAIL("more than %u io.capsule.disk mounts", OCI_MAX_DISKS);
		snprintf(s->disks[s->nr_disks++], sizeof(s->disks[0]), "%s%s", real,
			 ro ? ",readonly" : "");
	}
	return 0;
}

/* The network namespace the engine made, by path; or one to be made (no path), which the
 * bundle's hooks may fill (create.c, docs/oci.md). */
static int namespaces(struct oci_spec *s, json_t *ns, char *err, size_t errlen)
{
	size_t i;
	json_t *n;

	if (ns && !json_is_array(ns))
		return FAIL("linux.namespaces must be an array");
	json_array_foreach(ns, i, n) {
		const char *type = json_string_value(json_object_get(n, "type"));
		const char *path = json_string_value(json_object_get(n, "path"));

		if (!type)
			return FAIL("linux.namespaces[%zu] has no type", i);
		if (strcmp(type, "network"))
			continue;
		if (!path) { /* its hooks may bring an interface into it (create.c) */
			s->new_netns = true;
			continue;
		}
		if (strlen(path) >= sizeof(s->netns))
			return FAIL("linux.namespaces: the network path is too long");
		snprintf(s->netns, sizeof(s->netns), "%s", path);
	}
	return 0;
}

static int parse(struct oci_spec *s, json_t *j, char *err, size_t errlen)
{
	json_t *proc = json_object_get(j, "process"), *root = json_object_get(j, "root");
	json_t *linux_ = json_object_get(j, "linux");
	const char *path = json_string_value(json_object_get(root, "path"));
	const char *args[OCI_MAX_WORDS], *env[OCI_MAX_WORDS], *prefix;
	size_t nargs, nenv;
	int r;

	if (!json_is_object(j))
		return FAIL("config.json is not a JSON object");
	if (!json_is_string(json_object_get(j, "ociVersion")))
		return FAIL("config.json has no ociVersion");
	if (!path || !*path)
		return FAIL("config.json has no root.path");
	if (path[0] == '/')
		snprintf(s->rootfs, sizeof(s->rootfs), "%s", path);
	else if (snprintf(s->rootfs, sizeof(s->rootfs), "%s/%s", s->bundle, path) >=
		 (int)sizeof(s->rootfs))
		return FAIL("root.path is too long");
	if (!json_is_object(proc))
		return FAIL("config.json has no process");
	if (strings(json_object_get(proc, "args"), "process.args", args, &nargs, err, errlen) ||
	    strings(json_object_get(proc, "env"), "process.env", env, &nenv, err, errlen))
		return -1;
	if (!nargs || !*args[0])
		return FAIL("process.args is empty: args[0] names the image in the rootfs");
	if (strlen(args[0]) >= sizeof(s->image))
		return FAIL("process.args[0] is too long");
	snprintf(s->image, sizeof(s->image), "%s", args[0]);
	s->terminal = json_is_true(json_object_get(proc, "terminal"));
	if (open_image(s, err, errlen) ||
	    annotations(s, json_object_get(j, "annotations"), &prefix, err, errlen) ||
	    resources(s, json_object_get(linux_, "resources"), err, errlen) ||
	    namespaces(s, json_object_get(linux_, "namespaces"), err, errlen) ||
	    mounts(s, json_object_get(j, "mounts"), err, errlen))
		return -1;
	if (json_object_get(j, "hooks")) {
		if (!json_is_object(json_object_get(j, "hooks")))
			return FAIL("hooks must be an object");
		s->hooks = json_dumps(json_object_get(j, "hooks"), JSON_COMPACT);
	}
	r = oci_cmdline(prefix, env, nenv, args + 1, nargs - 1, s->cmdline,
			s->image_pv ? CAP_CMDLINE_MAX : sizeof(s->cmdline));
	if (r == -E2BIG)
		return FAIL("the guest command line from process.args and process.env is longer "
			    "than %u bytes", s->image_pv ? CAP_CMDLINE_MAX - 1
							 : (unsigned)sizeof(s->cmdline) - 1);
	if (r)
		return FAIL("process.args or process.env holds a '\"' or a control character, "
			    "which a guest command line cannot carry");
	return 0;
}

int oci_bundle_load(const char *bundle, struct oci_spec *s, char *err, size_t errlen)
{
	char path[PATH_MAX];
	json_error_t je;
	json_t *j;
	int r;

	memset(s, 0, sizeof(*s));
	s->image_fd = -1;
	s->mem_mib = OCI_DEFAULT_MEM_MIB;
	s->vcpus = 1;
	if (!realpath(bundle, s->bundle))
		return FAIL("bundle %s: %s", bundle, strerror(errno));
	if (snprintf(path, sizeof(path), "%s/config.json", s->bundle) >= (int)sizeof(path))
		return FAIL("bundle path too long");
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return FAIL("cannot read %s: %s (line %d)", path, je.text, je.line);
	r = parse(s, j, err, errlen);
	json_decref(j);
	if (r)
		oci_spec_free(s);
	return r;
}

void oci_spec_free(struct oci_spec *s)
{
	if (s->image_fd >= 0)
		close(s->image_fd);
	s->image_fd = -1;
	free(s->annotations);
	s->annotations = NULL;
	free(s->hooks);
	s->hooks = NULL;
}
