/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Page sharing through the kernel's same-page merging (docs/resources.md). With --ksm-cpu
 * capsuled turns KSM on and lets the kernel's scan advisor size each scan to reach a full
 * pass in --ksm-scan-time seconds without ksmd using more than that share of one CPU; the
 * host's settings are put back when capsuled stops. Reports come from the kernel's own
 * counters: /sys/kernel/mm/ksm/ for the host, /proc/PID/ksm_stat for each VMM, and
 * /proc/PID/stat of ksmd for the CPU it cost.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capsule/sysfile.h"
#include "daemon.h"

#define KSM_DIR "/sys/kernel/mm/ksm/"

/* What capsuled sets, in this order, and puts back in the reverse. */
static const char *const tuned[KSM_SAVED] = {"advisor_mode", "advisor_max_cpu",
					      "advisor_target_scan_time", "run"};

static int ksm_read(const char *name, char *buf, size_t len)
{
	char path[128];
	int rc;

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	if ((rc = sysfile_read(path, buf, len)))
		return rc;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int ksm_write(const char *name, const char *value)
{
	char path[128];

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	return sysfile_write(path, value);
}

uint64_t ksm_counter(const char *name)
{
	char buf[64];

	return ksm_read(name, buf, sizeof(buf)) ? 0 : strtoull(buf, NULL, 10);
}

/* "[none] scan-time" -> "none": the selected word of a sysfs choice. */
static void selected(char *buf)
{
	char *l = strchr(buf, '['), *r = l ? strchr(l, ']') : NULL;

	if (l && r) {
		memmove(buf, l + 1, (size_t)(r - l - 1));
		buf[r - l - 1] = 0;
	}
}

int ksm_start(struct daemon *dm, char *err, size_t errlen)
{
	char value[32];
	int rc;

	if (!dm->ksm_cpu_pct)
		return 0;
	for (unsigned i = 0; i < KSM_SAVED; i++) {
		if ((rc = ksm_read(tuned[i], dm->ksm_saved[i], sizeof(dm->ksm_saved[i])))) {
			snprintf(err, errlen, "--ksm-cpu: cannot read " KSM_DIR "%s: %s (a kernel "
				 "with KSM and its scan advisor, 6.9 or later, is needed)",
				 tuned[i], strerror(-rc));
			return -1;
		}
		selected(dm->ksm_saved[i]);
	}
	dm->ksm_tuned = true;
	snprintf(value, sizeof(value), "%u", dm->ksm_scan_s);
	if ((rc = ksm_write("advisor_mode", "scan-time")) ||
	    (rc = ksm_write("advisor_target_scan_time", value)) ||
	    (snprintf(value, sizeof(value), "%u", dm->ksm_cpu_pct),
	     rc = ksm_write("advisor_max_cpu", value)) ||
	    (rc = ksm_write("run", "1"))) {
		snprintf(err, errlen, "--ksm-cpu: cannot tune KSM: %s", strerror(-rc));
		ksm_stop(dm);
		return -1;
	}
	return 0;
}

void ksm_stop(struct daemon *dm)
{
	if (!dm->ksm_tuned)
		return;
	/* run first, so the advisor's settings go back while ksmd is in the host's mode. */
	for (unsigned i = KSM_SAVED; i-- > 0;)
		if (ksm_write(tuned[i], dm->ksm_saved[i]))
			fprintf(stderr, "capsuled: cannot put back " KSM_DIR "%s: %s\n", tuned[i],
				strerror(errno));
	dm->ksm_tuned = false;
}

/* ksmd's CPU time: the kernel thread named ksmd (a child of kthreadd, pid 2). */
static uint64_t ksmd_cpu_ns(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	uint64_t ns = 0;

	while (d && (e = readdir(d))) {
		char path[300], comm[32] = "";
		int fd;
		ssize_t n;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		if (n == 5 && !strncmp(comm, "ksmd\n", 5)) {
			ns = proc_cpu_ns((pid_t)atoi(e->d_name));
			break;
		}
	}
	if (d)
		closedir(d);
	return ns;
}

json_t *ksm_host_json(const struct daemon *dm)
{
	char run[16] = "";
	long page = sysconf(_SC_PAGESIZE);

	ksm_read("run", run, sizeof(run));
	return json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "run", run,
			 "tuned_by_capsuled", dm->ksm_tuned, "pages_shared",
			 (json_int_t)ksm_counter("pages_shared"), "pages_sharing",
			 (json_int_t)ksm_counter("pages_sharing"), "pages_unshared",
			 (json_int_t)ksm_counter("pages_unshared"), "full_scans",
			 (json_int_t)ksm_counter("full_scans"), "saved_bytes",
			 (json_int_t)(ksm_counter("pages_sharing") * (uint64_t)page),
			 "general_profit_bytes", (json_int_t)ksm_counter("general_profit"),
			 "ksmd_cpu_s", ksmd_cpu_ns() / 1e9);
}

int ksm_proc(pid_t pid, struct ksm_proc_stat *s)
{
	char path[64], line[128];
	FILE *f;
	long long v;

	memset(s, 0, sizeof(*s));
	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", (int)pid);
	if (pid <= 0 || !(f = fopen(path, "re")))
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "ksm_merging_pages %lld", &v) == 1)
			s->merging_pages = (uint64_t)v;
		else if (sscanf(line, "ksm_process_profit %lld", &v) == 1)
			s->profit_bytes = v;
		else if (sscanf(line, "ksm_zero_pages %lld", &v) == 1)
			s->zero_pages = (uint64_t)v;
	}
	fclose(f);
	return 0;
}

void ksm_dom_json(json_t *j, pid_t pid)
{
	struct ksm_proc_stat s;

	if (ksm_proc(pid, &s) == 0)
		json_object_set_new(j, "ksm", json_pack("{s:I, s:I, s:I}", "merging_pages",
							(json_int_t)s.merging_pages, "zero_pages",
							(json_int_t)s.zero_pages, "profit_bytes",
							(json_int_t)s.profit_bytes));
}

void ksm_metrics(FILE *f)
{
	static const char *const names[] = {"pages_shared", "pages_sharing", "pages_unshared",
					    "full_scans"};

	fprintf(f, "# HELP capsule_ksm_pages KSM's counters (/sys/kernel/mm/ksm).\n"
		   "# TYPE capsule_ksm_pages gauge\n");
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		fprintf(f, "capsule_ksm_pages{counter=\"%s\"} %llu\n", names[i],
			(unsigned long long)ksm_counter(names[i]));
	fprintf(f, "# HELP capsule_ksm_general_profit_bytes KSM's saving net of its own "
		   "metadata.\n# TYPE capsule_ksm_general_profit_bytes gauge\n"
		   "capsule_ksm_general_profit_bytes %llu\n"
		   "# HELP capsule_ksmd_cpu_seconds_total CPU time of ksmd.\n"
		   "# TYPE capsule_ksmd_cpu_seconds_total counter\n"
		   "capsule_ksmd_cpu_seconds_total %.3f\n",
		(unsigned long long)ksm_counter("general_profit"), ksmd_cpu_ns() / 1e9);
}
