/* SPDX-License-Identifier: Apache-2.0 */
/* CPU lists, Xen weight/cap onto cgroup values, and the cgroup files written for a domain
 * (on a directory laid out like /sys/fs/cgroup: the real hierarchies are tested by
 * tests/daemon/sched.py). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule/cgroup.h"

static char *list_of(const char *s, unsigned nr)
{
	static char out[256];
	char err[256];
	cpu_set_t set;

	if (cpulist_parse(s, nr, &set, err, sizeof(err)))
		return NULL;
	cpulist_format(&set, nr, out, sizeof(out));
	return out;
}

static void cpulist_good(void **state)
{
	(void)state;
	assert_string_equal(list_of("0-3,^1", 8), "0,2-3");
	assert_string_equal(list_of("all", 4), "all");
	assert_string_equal(list_of("0-3", 4), "all");
	assert_string_equal(list_of("3", 8), "3");
	assert_string_equal(list_of("^1", 4), "0,2-3");
	assert_string_equal(list_of("5,1,2,3", 8), "1-3,5");
	assert_string_equal(list_of("0-7,^2-5", 8), "0-1,6-7");
	assert_string_equal(list_of("1,1,1", 2), "1");
}

static void cpulist_bad(void **state)
{
	static const char *const bad[] = {
		"", "3-1", "^", "0,,1", ",0", "0,", "x", "1-", "-1", "0 1", "1:2", "+1",
		"4", "0-4", "^0-3", "99999999999", "nodes:0", "all,1", "0-1,^0-1",
	};
	char err[256];
	cpu_set_t set;

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (cpulist_parse(bad[i], 4, &set, err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
		assert_true(strlen(err) > 10);
	}
	assert_int_equal(cpulist_parse("4", 4, &set, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "CPU 4 does not exist"));
	assert_int_equal(cpulist_parse("3-1", 4, &set, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "backwards"));
	assert_int_equal(cpulist_parse(NULL, 4, &set, err, sizeof(err)), -EINVAL);
}

static void weight_mapping(void **state)
{
	long long quota;
	unsigned period;

	(void)state;
	assert_int_equal(cg_weight_to_shares(256), 1024); /* Xen's default = v1's default */
	assert_int_equal(cg_weight_to_shares(512), 2048);
	assert_int_equal(cg_weight_to_shares(1), 4);
	assert_int_equal(cg_weight_to_shares(65535), 262140);
	assert_int_equal(cg_weight_to_v2(256), 100);      /* = v2's default */
	assert_int_equal(cg_weight_to_v2(512), 200);
	assert_int_equal(cg_weight_to_v2(128), 50);
	assert_int_equal(cg_weight_to_v2(1), 1);
	assert_int_equal(cg_weight_to_v2(2560), 1000);
	assert_int_equal(cg_weight_to_v2(25600), 10000);
	assert_int_equal(cg_weight_to_v2(65535), 10000);  /* saturates */
	for (unsigned w = 1; w < 65535; w++) {            /* never decreasing */
		assert_true(cg_weight_to_shares(w) < cg_weight_to_shares(w + 1));
		assert_true(cg_weight_to_v2(w) <= cg_weight_to_v2(w + 1));
	}
	cg_cap_to_quota(0, &quota, &period);
	assert_int_equal(quota, -1);
	cg_cap_to_quota(50, &quota, &period);
	assert_int_equal(quota, 5000);
	assert_int_equal(period, 10000);
	cg_cap_to_quota(250, &quota, &period);            /* 2.5 CPUs */
	assert_int_equal(quota, 25000);
	cg_cap_to_quota(10, &quota, &period);
	assert_int_equal(quota, 1000);
	assert_int_equal(period, 10000);
	cg_cap_to_quota(5, &quota, &period);              /* under 1 ms: a longer period */
	assert_int_equal(quota, 5000);
	assert_int_equal(period, 100000);
}

static char root[64];

static void mkdirs(const char *a, const char *b)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", root, a);
	mkdir(p, 0755);
	if (b) {
		snprintf(p, sizeof(p), "%s/%s/%s", root, a, b);
		mkdir(p, 0755);
	}
}

static void put(const char *rel, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_non_null(f = fopen(p, "w"));
	fputs(text, f);
	fclose(f);
}

static char *get(const char *rel)
{
	static char buf[256];
	char p[256];
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (!(f = fopen(p, "r")))
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void fake_root(void)
{
	snprintf(root, sizeof(root), "/tmp/capsule-cpu-unit-XXXXXX");
	assert_non_null(mkdtemp(root));
	mkdirs("cpu", NULL);
	mkdirs("cpuacct", NULL);
	mkdirs("unified", NULL);
	put("cpu/cpu.shares", "1024\n");
	put("unified/cgroup.controllers", "cpuset cpu io memory pids\n");
	put("unified/cgroup.subtree_control", "");
}

static void cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

static void v1_files(void **state)
{
	struct cgroup_host h;
	char err[256];

	(void)state;
	fake_root();
	assert_int_equal(cgroup_host_init(&h, CG_V1, root, "capsule", err, sizeof(err)), 0);
	assert_int_equal(h.version, 1);
	assert_int_equal(cgroup_dom_create(&h, "d1", err, sizeof(err)), 0);
	/* The kernel makes these files; here the test does. */
	put("cpu/capsule/d1/cpu.shares", "");
	put("cpu/capsule/d1/cpu.cfs_quota_us", "");
	put("cpu/capsule/d1/cpu.cfs_period_us", "");
	put("cpuacct/capsule/d1/cpuacct.usage", "1234567\n");
	assert_int_equal(cgroup_dom_set_cpu(&h, "d1", 512, 25, err, sizeof(err)), 0);
	assert_string_equal(get("cpu/capsule/d1/cpu.shares"), "2048");
	assert_string_equal(get("cpu/capsule/d1/cpu.cfs_period_us"), "10000");
	assert_string_equal(get("cpu/capsule/d1/cpu.cfs_quota_us"), "2500");
	assert_int_equal(cgroup_dom_set_cpu(&h, "d1", 256, 0, err, sizeof(err)), 0);
	assert_string_equal(get("cpu/capsule/d1/cpu.shares"), "1024");
	assert_string_equal(get("cpu/capsule/d1/cpu.cfs_quota_us"), "-1");
	assert_int_equal(cgroup_dom_cpu_ns(&h, "d1"), 1234567);
	/* Bad input is refused before any file is touched. */
	assert_int_equal(cgroup_dom_set_cpu(&h, "d1", 0, 0, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "from 1 to 65535"));
	assert_int_equal(cgroup_dom_set_cpu(&h, "d1", 70000, 0, err, sizeof(err)), -EINVAL);
	assert_int_equal(cgroup_dom_create(&h, "../x", err, sizeof(err)), -EINVAL);
	assert_int_equal(cgroup_host_init(&h, CG_V1, root, "a/b", err, sizeof(err)), -EINVAL);
	/* No cpu controller on the fake v2 but forced: a sentence, not a crash. */
	put("unified/cgroup.controllers", "hugetlb\n");
	assert_int_equal(cgroup_host_init(&h, CG_V2, root, "capsule", err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "cpu controller is not available"));
	/* ... and auto picks v1 then. */
	assert_int_equal(cgroup_host_init(&h, CG_AUTO, root, "capsule", err, sizeof(err)), 0);
	assert_int_equal(h.version, 1);
	cleanup();
}

static void v2_files(void **state)
{
	struct cgroup_host h;
	char err[256];

	(void)state;
	fake_root();
	mkdirs("unified/capsule", NULL); /* the kernel would make its files */
	put("unified/capsule/cgroup.subtree_control", "");
	assert_int_equal(cgroup_host_init(&h, CG_AUTO, root, "capsule", err, sizeof(err)), 0);
	assert_int_equal(h.version, 2);
	assert_string_equal(get("unified/cgroup.subtree_control"), "+cpu");
	assert_string_equal(get("unified/capsule/cgroup.subtree_control"), "+cpu");
	assert_int_equal(cgroup_dom_create(&h, "d2", err, sizeof(err)), 0);
	put("unified/capsule/d2/cpu.weight", "");
	put("unified/capsule/d2/cpu.max", "");
	put("unified/capsule/d2/cpu.stat", "usage_usec 2500\nuser_usec 2000\n");
	assert_int_equal(cgroup_dom_set_cpu(&h, "d2", 512, 25, err, sizeof(err)), 0);
	assert_string_equal(get("unified/capsule/d2/cpu.weight"), "200");
	assert_string_equal(get("unified/capsule/d2/cpu.max"), "2500 10000");
	assert_int_equal(cgroup_dom_set_cpu(&h, "d2", 256, 0, err, sizeof(err)), 0);
	assert_string_equal(get("unified/capsule/d2/cpu.weight"), "100");
	assert_string_equal(get("unified/capsule/d2/cpu.max"), "max 10000");
	assert_int_equal(cgroup_dom_cpu_ns(&h, "d2"), 2500000);
	cleanup();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cpulist_good),
		cmocka_unit_test(cpulist_bad),
		cmocka_unit_test(weight_mapping),
		cmocka_unit_test(v1_files),
		cmocka_unit_test(v2_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
