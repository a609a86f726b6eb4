/* SPDX-License-Identifier: Apache-2.0 */
/* Per-domain CPU cgroups, v1 or v2 (include/capsule/cgroup.h, docs/resources.md). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capsule/cgroup.h"
#include "capsule/sysfile.h"

#define FAIL(rc, ...) (snprintf(err, errlen, __VA_ARGS__), (rc))

unsigned cg_weight_to_shares(unsigned weight)
{
	/* Linear, 256 -> 1024: 1..65535 -> 4..262140, inside v1's 2..262144. */
	if (weight < CG_WEIGHT_MIN)
		weight = CG_WEIGHT_MIN;
	if (weight > CG_WEIGHT_MAX)
		weight = CG_WEIGHT_MAX;
	return weight * 4;
}

unsigned cg_weight_to_v2(unsigned weight)
{
	/* v2's weight is 1..10000 with 100 the default (= 1024 shares): the same line,
	 * rounded, saturating above Xen weight 25600. */
	unsigned w = (weight * 100 + 128) / 256;

	return w < 1 ? 1 : w > 10000 ? 10000 : w;
}

void cg_cap_to_quota(unsigned cap, long long *quota_us, unsigned *period_us)
{
	*period_us = CG_PERIOD_US;
	if (!cap) {
		*quota_us = -1;
		return;
	}
	if (cap > CG_CAP_MAX)
		cap = CG_CAP_MAX;
	*quota_us = (long long)cap * CG_PERIOD_US / 100;
	if (*quota_us < 1000) { /* the kernel refuses quotas under 1 ms */
		*period_us = CG_LONG_PERIOD_US;
		*quota_us = (long long)cap * CG_LONG_PERIOD_US / 100;
	}
}

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ' || p[-1] == ',') &&
		    (!p[n] || p[n] == ' ' || p[n] == ',' || p[n] == '\n'))
			return true;
	return false;
}

/* The mount points of the v1 cpu and cpuacct hierarchies and of cgroup2. */
static void find_mounts(const char *root, char *v1cpu, char *v1acct, char *v2, size_t len)
{
	struct mntent *m, buf;
	char strings[4096];
	FILE *f;

	v1cpu[0] = v1acct[0] = v2[0] = 0;
	if (root) {
		snprintf(v1cpu, len, "%s/cpu", root);
		snprintf(v1acct, len, "%s/cpuacct", root);
		snprintf(v2, len, "%s/unified", root);
		return;
	}
	if (!(f = setmntent("/proc/self/mounts", "re")))
		return;
	while ((m = getmntent_r(f, &buf, strings, sizeof(strings)))) {
		if (!strcmp(m->mnt_type, "cgroup2") && !v2[0])
			snprintf(v2, len, "%s", m->mnt_dir);
		else if (!strcmp(m->mnt_type, "cgroup")) {
			if (has_word(m->mnt_opts, "cpu") && !v1cpu[0])
				snprintf(v1cpu, len, "%s", m->mnt_dir);
			if (has_word(m->mnt_opts, "cpuacct") && !v1acct[0])
				snprintf(v1acct, len, "%s", m->mnt_dir);
		}
	}
	endmntent(f);
}

static int make_dir(const char *path)
{
	return mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

/* v2: the cpu controller for the children of dir ("+cpu" in its subtree_control). */
static int v2_enable_cpu(const char *dir)
{
	char path[PATH_MAX + 32], have[512];

	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
	if (sysfile_read(path, have, sizeof(have)) == 0 && has_word(have, "cpu"))
		return 0;
	return sysfile_write(path, "+cpu");
}

int cgroup_host_init(struct cgroup_host *h, enum cg_mode mode, const char *root,
		     const char *parent, char *err, size_t errlen)
{
	char v1cpu[PATH_MAX], v1acct[PATH_MAX], v2[PATH_MAX], path[PATH_MAX + 32], ctl[512];
	bool v2_cpu = false;
	int rc;

	memset(h, 0, sizeof(*h));
	if (!parent || !*parent || strchr(parent, '/') || !strcmp(parent, "..") ||
	    !strcmp(parent, "."))
		return FAIL(-EINVAL, "cgroup parent '%s': give a name, not a path",
			    parent ? parent : "");
	find_mounts(root, v1cpu, v1acct, v2, sizeof(v1cpu));
	if (v2[0]) {
		snprintf(path, sizeof(path), "%s/cgroup.controllers", v2);
		v2_cpu = sysfile_read(path, ctl, sizeof(ctl)) == 0 && has_word(ctl, "cpu");
	}
	if (mode == CG_V2 || (mode == CG_AUTO && v2_cpu)) {
		if (!v2[0])
			return FAIL(-ENOENT, "cgroup v2: no cgroup2 file system is mounted");
		if (!v2_cpu)
			return FAIL(-ENOTSUP, "cgroup v2: the cpu controller is not available on %s "
				    "(a cgroup v1 hierarchy holds it; see docs/resources.md)", v2);
		h->version = 2;
		if ((rc = v2_enable_cpu(v2)))
			return FAIL(rc, "cgroup v2: cannot enable the cpu controller in %s: %s", v2,
				    strerror(-rc));
		snprintf(h->cpu, sizeof(h->cpu), "%s/%s", v2, parent);
		if ((rc = make_dir(h->cpu)) || (rc = v2_enable_cpu(h->cpu)))
			return FAIL(rc, "cgroup v2: cannot make %s with the cpu controller: %s",
				    h->cpu, strerror(-rc));
		return 0;
	}
	snprintf(path, sizeof(path), "%s/cpu.shares", v1cpu);
	if (!v1cpu[0] || access(path, F_OK))
		return FAIL(-ENOENT, "cgroup v1: no hierarchy with the cpu controller is mounted");
	h->version = 1;
	snprintf(h->cpu, sizeof(h->cpu), "%s/%s", v1cpu, parent);
	if ((rc = make_dir(h->cpu)))
		return FAIL(rc, "cgroup v1: cannot make %s: %s", h->cpu, strerror(-rc));
	if (v1acct[0]) {
		snprintf(h->cpuacct, sizeof(h->cpuacct), "%s/%s", v1acct, parent);
		if (strcmp(h->cpuacct, h->cpu) && (rc = make_dir(h->cpuacct)))
			return FAIL(rc, "cgroup v1: cannot make %s: %s", h->cpuacct, strerror(-rc));
	}
	return 0;
}

void cgroup_dom_path(const struct cgroup_host *h, const char *id, const char *file, char *out,
		     size_t len)
{
	snprintf(out, len, "%s/%s%s%s", h->cpu, id, file ? "/" : "", file ? file : "");
}

static void acct_path(const struct cgroup_host *h, const char *id, const char *file, char *out,
		      size_t len)
{
	snprintf(out, len, "%s/%s%s%s", h->cpuacct, id, file ? "/" : "", file ? file : "");
}

static bool bad_id(const char *id)
{
	return !id || !*id || strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, "..");
}

int cgroup_dom_create(const struct cgroup_host *h, const char *id, char *err, size_t errlen)
{
	char path[PATH_MAX + 64];
	int rc;

	if (bad_id(id))
		return FAIL(-EINVAL, "cgroup: bad domain id");
	/* The parent again too: an empty cgroup may have been removed by anyone since. */
	if ((rc = make_dir(h->cpu)) || (h->version == 2 && (rc = v2_enable_cpu(h->cpu))))
		return FAIL(rc, "cannot make the cgroup %s: %s", h->cpu, strerror(-rc));
	if (h->version == 1 && h->cpuacct[0] && (rc = make_dir(h->cpuacct)))
		return FAIL(rc, "cannot make the cgroup %s: %s", h->cpuacct, strerror(-rc));
	cgroup_dom_path(h, id, NULL, path, sizeof(path));
	if ((rc = make_dir(path)))
		return FAIL(rc, "cannot make the cgroup %s: %s", path, strerror(-rc));
	if (h->version == 1 && h->cpuacct[0] && strcmp(h->cpuacct, h->cpu)) {
		acct_path(h, id, NULL, path, sizeof(path));
		if ((rc = make_dir(path)))
			return FAIL(rc, "cannot make the cgroup %s: %s", path, strerror(-rc));
	}
	return 0;
}

int cgroup_dom_attach(const struct cgroup_host *h, const char *id, pid_t pid, char *err,
		      size_t errlen)
{
	char path[PATH_MAX + 64], num[24];
	int rc;

	if (bad_id(id) || pid <= 0)
		return FAIL(-EINVAL, "cgroup: bad domain id or process");
	/* cgroup.procs takes a process with all its threads, in both versions. */
	snprintf(num, sizeof(num), "%d", (int)pid);
	cgroup_dom_path(h, id, "cgroup.procs", path, sizeof(path));
	if ((rc = sysfile_write(path, num)))
		return FAIL(rc, "cannot move process %d into %s: %s", (int)pid, path, strerror(-rc));
	if (h->version == 1 && h->cpuacct[0] && strcmp(h->cpuacct, h->cpu)) {
		acct_path(h, id, "cgroup.procs", path, sizeof(path));
		if ((rc = sysfile_write(path, num)))
			return FAIL(rc, "cannot move process %d into %s: %s", (int)pid, path,
				    strerror(-rc));
	}
	return 0;
}

int cgroup_dom_set_cpu(const struct cgroup_host *h, const char *id, unsigned weight,
		       unsigned cap, char *err, size_t errlen)
{
	char path[PATH_MAX + 64], val[64];
	long long quota;
	unsigned period;
	int rc;

	if (bad_id(id))
		return FAIL(-EINVAL, "cgroup: bad domain id");
	if (weight < CG_WEIGHT_MIN || weight > CG_WEIGHT_MAX)
		return FAIL(-EINVAL, "weight %u: it must be from %d to %d", weight, CG_WEIGHT_MIN,
			    CG_WEIGHT_MAX);
	if (cap > CG_CAP_MAX)
		return FAIL(-EINVAL, "cap %u: too large", cap);
	cg_cap_to_quota(cap, &quota, &period);
	if (h->version == 2) {
		snprintf(val, sizeof(val), "%u", cg_weight_to_v2(weight));
		cgroup_dom_path(h, id, "cpu.weight", path, sizeof(path));
		if ((rc = sysfile_write(path, val)))
			goto fail;
		if (quota < 0)
			snprintf(val, sizeof(val), "max %u", period);
		else
			snprintf(val, sizeof(val), "%lld %u", quota, period);
		cgroup_dom_path(h, id, "cpu.max", path, sizeof(path));
		if ((rc = sysfile_write(path, val)))
			goto fail;
		return 0;
	}
	snprintf(val, sizeof(val), "%u", cg_weight_to_shares(weight));
	cgroup_dom_path(h, id, "cpu.shares", path, sizeof(path));
	if ((rc = sysfile_write(path, val)))
		goto fail;
	/* Quota off first: a shorter period under the old quota may be refused. */
	cgroup_dom_path(h, id, "cpu.cfs_quota_us", path, sizeof(path));
	if ((rc = sysfile_write(path, "-1")))
		goto fail;
	snprintf(val, sizeof(val), "%u", period);
	cgroup_dom_path(h, id, "cpu.cfs_period_us", path, sizeof(path));
	if ((rc = sysfile_write(path, val)))
		goto fail;
	if (quota >= 0) {
		snprintf(val, sizeof(val), "%lld", quota);
		cgroup_dom_path(h, id, "cpu.cfs_quota_us", path, sizeof(path));
		if ((rc = sysfile_write(path, val)))
			goto fail;
	}
	return 0;
fail:
	return FAIL(rc, "cannot write %s to %s: %s", val, path, strerror(-rc));
}

int64_t cgroup_dom_cpu_ns(const struct cgroup_host *h, const char *id)
{
	char path[PATH_MAX + 64], buf[2048], *p;
	int rc;

	if (bad_id(id))
		return -EINVAL;
	if (h->version == 2) {
		cgroup_dom_path(h, id, "cpu.stat", path, sizeof(path));
		if ((rc = sysfile_read(path, buf, sizeof(buf))))
			return rc;
		if (!(p = strstr(buf, "usage_usec ")))
			return -EIO;
		return (int64_t)strtoull(p + 11, NULL, 10) * 1000;
	}
	if (!h->cpuacct[0])
		return -ENOENT;
	acct_path(h, id, "cpuacct.usage", path, sizeof(path));
	if ((rc = sysfile_read(path, buf, sizeof(buf))))
		return rc;
	return (int64_t)strtoull(buf, NULL, 10);
}

int cgroup_dom_remove(const struct cgroup_host *h, const char *id)
{
	char path[PATH_MAX + 64];
	int rc = 0;

	if (bad_id(id))
		return -EINVAL;
	cgroup_dom_path(h, id, NULL, path, sizeof(path));
	if (rmdir(path) < 0 && errno != ENOENT)
		rc = -errno;
	if (h->version == 1 && h->cpuacct[0] && strcmp(h->cpuacct, h->cpu)) {
		acct_path(h, id, NULL, path, sizeof(path));
		if (rmdir(path) < 0 && errno != ENOENT && !rc)
			rc = -errno;
	}
	return rc;
}
