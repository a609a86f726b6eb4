/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CPU control through the kernel's cgroups, with Xen's credit-scheduler semantics
 * (docs/resources.md): one cgroup per domain under a parent capsuled owns, the VMM and
 * all its threads in it, a weight (1-65535, default 256) and a cap (percent of one
 * physical CPU, 0 = none). Both hierarchies: v1 (cpu.shares, cpu.cfs_quota_us /
 * cpu.cfs_period_us, cpuacct.usage) and v2 (cpu.weight, cpu.max, cpu.stat), chosen when
 * capsuled starts. Plain functions over paths, no daemon state: the daemon, the jailer
 * and the unit tests (on a directory standing in for /sys/fs/cgroup) call them alike.
 *
 * And xl's CPU lists ("0-3,^1", "all") to and from a cpu_set_t.
 */
#ifndef CAPSULE_CGROUP_H
#define CAPSULE_CGROUP_H

#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CG_WEIGHT_MIN 1
#define CG_WEIGHT_MAX 65535
#define CG_WEIGHT_DEFAULT 256
#define CG_PERIOD_US 10000u      /* credit2 refills caps every 10 ms */
#define CG_LONG_PERIOD_US 100000u /* for caps under 10%: the kernel's quota is >= 1 ms */
#define CG_CAP_MAX 6553500u      /* 65535 CPUs' worth: bounds the arithmetic, no more */

enum cg_mode { CG_AUTO, CG_V1, CG_V2 };

struct cgroup_host {
	int version;            /* 1 or 2 */
	char cpu[PATH_MAX];     /* the parent: v1 in the cpu hierarchy, v2 in the unified one */
	char cpuacct[PATH_MAX]; /* v1: the parent in the cpuacct hierarchy (may equal cpu) */
};

/* Xen's weight and cap onto the cgroup files' values (pure; unit-tested). */
unsigned cg_weight_to_shares(unsigned weight);    /* v1: 256 -> 1024 */
unsigned cg_weight_to_v2(unsigned weight);        /* v2: 256 -> 100, clamped to 1..10000 */
/* The quota and period for a cap: quota -1 for none (cap 0). */
void cg_cap_to_quota(unsigned cap, long long *quota_us, unsigned *period_us);

/*
 * Find the hierarchy (mode CG_AUTO: v2 if its cpu controller is available on a cgroup2
 * mount, else v1) and make the parent cgroup `parent` (a name, no '/') in it. root NULL
 * reads /proc/self/mounts; a directory stands in for /sys/fs/cgroup in tests (root/cpu,
 * root/cpuacct for v1, root/unified for v2). 0, or -errno with a sentence in err.
 */
int cgroup_host_init(struct cgroup_host *h, enum cg_mode mode, const char *root,
		     const char *parent, char *err, size_t errlen);
/* The domain's cgroup (id: a name without '/', e.g. its UUID): made, a process moved in
 * with all its threads, its CPU weight and cap set, its CPU time read, removed. */
int cgroup_dom_create(const struct cgroup_host *h, const char *id, char *err, size_t errlen);
int cgroup_dom_attach(const struct cgroup_host *h, const char *id, pid_t pid, char *err,
		      size_t errlen);
int cgroup_dom_set_cpu(const struct cgroup_host *h, const char *id, unsigned weight,
		       unsigned cap, char *err, size_t errlen);
int64_t cgroup_dom_cpu_ns(const struct cgroup_host *h, const char *id); /* -errno */
int cgroup_dom_remove(const struct cgroup_host *h, const char *id);
/* The path of one of the domain's cgroup files (file NULL: its directory). */
void cgroup_dom_path(const struct cgroup_host *h, const char *id, const char *file, char *out,
		     size_t len);

/* CPU lists (xl's syntax): "all", or comma-separated N, N-M, ^N, ^N-M; a list whose first
 * item is a ^ starts from all CPUs. nr_host: CPUs 0..nr_host-1 exist. 0, or -EINVAL with
 * a sentence in err. */
int cpulist_parse(const char *s, unsigned nr_host, cpu_set_t *set, char *err, size_t errlen);
/* "all" when set holds every host CPU, else ranges ("0-2,5"); "" when empty. */
void cpulist_format(const cpu_set_t *set, unsigned nr_host, char *out, size_t len);
unsigned cpulist_host_cpus(void); /* configured CPUs, at most CPU_SETSIZE */

#endif
