/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-pci against virtio-mmio for an HVM domain's disk: tests/hvm/blkbench.c reads 4 KiB
 * blocks in batches (one notification each, then it sleeps until the interrupt) over one
 * transport or the other, interleaved in the same run, at two depths. Per run: throughput
 * from the guest's "start" to its "done" line, exits per request and requests per
 * interrupt from capsule's --stats; each row is the median of the runs with the range, and
 * the ratio pci / mmio the median of the runs' own ratios with their range.
 *
 *   build/bench/hvm_blk CAPSULE BLKBENCH_KERNEL DISK [RUNS [REQUESTS]]
 */
#include <fcntl.h>
#include <stdbool.h>
#include <sys/wait.h>

#include "kvm_floor.h"

struct sample {
	double mbps, exits_per_req, reqs_per_irq;
};

/* One domain: "blkbench: start" to "blkbench: done" on stdout; stats on stderr (merged). */
static struct sample run(const char *capsule, const char *kernel, const char *disk, bool pci,
			 unsigned reqs, unsigned depth)
{
	char cmdline[128], line[512];
	unsigned long long exits = 0, requests = 0, irqs = 0;
	uint64_t t_start = 0, t_done = 0;
	struct sample s = {0};
	int pipefd[2], status;
	pid_t pid;
	FILE *in;

	snprintf(cmdline, sizeof(cmdline), "%s reqs=%u depth=%u", pci ? "pci" : "mmio", reqs, depth);
	if (pipe(pipefd) < 0)
		bench_die("pipe");
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		if (pci)
			execl(capsule, capsule, "run", "--stats", "--mem", "64", "--virtio-pci", "--disk",
			      disk, "--cmdline", cmdline, kernel, (char *)NULL);
		else
			execl(capsule, capsule, "run", "--stats", "--mem", "64", "--disk", disk,
			      "--cmdline", cmdline, kernel, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	in = fdopen(pipefd[0], "r");
	while (fgets(line, sizeof(line), in)) {
		const char *p;

		if (strstr(line, "blkbench: start"))
			t_start = bench_now_ns();
		else if (strstr(line, "blkbench: done"))
			t_done = bench_now_ns();
		else if ((p = strstr(line, "capsule: stats: ")) && strstr(p, " exits") &&
			 !strstr(p, "virtio"))
			exits = strtoull(p + 16, NULL, 10);
		else if ((p = strstr(line, "virtio-blk: ")))
			sscanf(p, "virtio-blk: %llu requests, %*u kicks (%*f requests per kick), %llu",
			       &requests, &irqs);
	}
	fclose(in);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 1 ||
	    !t_start || t_done <= t_start || !requests || !irqs || !exits) {
		fprintf(stderr, "hvm_blk: the %s run did not finish as it should\n",
			pci ? "virtio-pci" : "virtio-mmio");
		exit(1);
	}
	s.mbps = (double)reqs * 4096 / ((double)(t_done - t_start) / 1e9) / 1e6;
	s.exits_per_req = (double)exits / (double)requests;
	s.reqs_per_irq = (double)requests / (double)irqs;
	return s;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* "median (min-max)" of n values (sorted in place), with `digits` decimals and a suffix. */
static void stat(double *v, unsigned n, int digits, const char *suffix, char *out, size_t len)
{
	qsort(v, n, sizeof(*v), cmp_d);
	snprintf(out, len, "%.*f%s (%.*f-%.*f%s)", digits, v[n / 2], suffix, digits, v[0], digits,
		 v[n - 1], suffix);
}

int main(int argc, char **argv)
{
	enum { MAX = 50 };
	static const unsigned depths[] = {1, 8};
	unsigned runs = argc > 4 ? (unsigned)atoi(argv[4]) : 5;
	unsigned reqs = argc > 5 ? (unsigned)atoi(argv[5]) : 2000;
	char load[128] = "", a[96], b[96], r[96];
	FILE *f;
	int fd;

	if (argc < 4 || runs < 1 || runs > MAX || reqs < 1) {
		fprintf(stderr, "usage: hvm_blk CAPSULE BLKBENCH_KERNEL DISK [RUNS [REQUESTS]]\n");
		return 2;
	}
	/* The disk: block 0 names itself (the kernel checks it), 1 MiB, in the page cache. */
	fd = open(argv[3], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "CAPSULE-BLKBENCH", 16) != 16 || ftruncate(fd, 1 << 20) < 0)
		bench_die(argv[3]);
	close(fd);
	if ((f = fopen("/proc/loadavg", "r"))) {
		if (!fgets(load, sizeof(load), f))
			load[0] = 0;
		fclose(f);
		load[strcspn(load, "\n")] = 0;
	}
	printf("host load before: %s\n", load);
	for (unsigned di = 0; di < sizeof(depths) / sizeof(depths[0]); di++) {
		double pm[MAX], mm[MAX], pe[MAX], me[MAX], pi[MAX], mi[MAX], rt[MAX], re[MAX];

		for (unsigned i = 0; i < runs; i++) { /* interleaved: mmio, pci, mmio, pci, ... */
			struct sample m = run(argv[1], argv[2], argv[3], false, reqs, depths[di]);
			struct sample p = run(argv[1], argv[2], argv[3], true, reqs, depths[di]);

			mm[i] = m.mbps, pm[i] = p.mbps, rt[i] = p.mbps / m.mbps;
			me[i] = m.exits_per_req, pe[i] = p.exits_per_req, re[i] = p.exits_per_req / m.exits_per_req;
			mi[i] = m.reqs_per_irq, pi[i] = p.reqs_per_irq;
		}
		stat(pm, runs, 1, "", a, sizeof(a));
		stat(mm, runs, 1, "", b, sizeof(b));
		stat(rt, runs, 2, "x", r, sizeof(r));
		printf("| HVM virtio-blk 4 KiB reads, %u per notification: MB/s, virtio-pci | %s | "
		       "virtio-mmio: %s | %s |\n", depths[di], a, b, r);
		stat(pe, runs, 2, "", a, sizeof(a));
		stat(me, runs, 2, "", b, sizeof(b));
		stat(re, runs, 2, "x", r, sizeof(r));
		printf("| same, VMM exits per request, virtio-pci | %s | virtio-mmio: %s | %s |\n", a,
		       b, r);
		stat(pi, runs, 1, "", a, sizeof(a));
		stat(mi, runs, 1, "", b, sizeof(b));
		printf("| same, requests per interrupt, virtio-pci | %s | virtio-mmio: %s | |\n", a, b);
	}
	if ((f = fopen("/proc/loadavg", "r"))) {
		if (fgets(load, sizeof(load), f))
			printf("host load after: %s", load);
		fclose(f);
	}
	return 0;
}
