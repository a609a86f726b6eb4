/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Restore benchmark: from fork+exec of `capsule run --restore DIR` to the guest's first
 * console line after the restore, against a fresh launch of the same domain (`capsule run
 * -m MEM GUEST`, to its first console line) in the same run, interleaved, for several
 * memory sizes. The snapshot is a save of that domain once it runs (capsule control SOCK
 * save). The guest (bench/guests/hcloop.c) prints a line first thing at boot, and first
 * thing after a restore (the generation counter changed); both go the same way, the PV
 * console ring to the VMM's stdout. (CAPSULE_STAMP_FIRST_HYPERCALL is not used: a restored
 * domain is not built, and the stamp is armed by the build.)
 *
 *   build/bench/restore CAPSULE GUEST [RUNS [MiB...]]   (default 15 runs; 8 64 256 1024)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kvm_floor.h"

/* ns from fork to the first line on its stdout; then kill it. */
static uint64_t until_first_line(char **argv)
{
	uint64_t t0, t = 0;
	char line[512];
	int pipefd[2];
	pid_t pid;
	FILE *in;

	if (pipe(pipefd) < 0)
		bench_die("pipe");
	fflush(stdout);
	t0 = bench_now_ns();
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		if (!freopen("/dev/null", "w", stderr))
			_exit(127);
		close(pipefd[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	in = fdopen(pipefd[0], "r");
	if (fgets(line, sizeof(line), in))
		t = bench_now_ns() - t0;
	kill(pid, SIGKILL);
	fclose(in);
	waitpid(pid, NULL, 0);
	if (!t) {
		fprintf(stderr, "restore: '%s %s %s' printed no console line\n", argv[1], argv[2],
			argv[3]);
		exit(1);
	}
	return t;
}

/* A saved snapshot of GUEST with mib MiB in dir. */
static void make_snapshot(const char *capsule, const char *guest, unsigned mib, const char *dir)
{
	char cmd[32768], sock[4300];

	snprintf(sock, sizeof(sock), "%s.sock", dir);
	snprintf(cmd, sizeof(cmd),
		 "rm -rf '%s' '%s'; timeout -s KILL 60 '%s' run -m %u --api-sock '%s' '%s' "
		 ">/dev/null 2>&1 & for i in $(seq 200); do [ -S '%s' ] && break; sleep 0.01; "
		 "done; sleep 0.2; '%s' control '%s' save '%s' >/dev/null && wait",
		 dir, sock, capsule, mib, sock, guest, sock, capsule, sock, dir);
	fflush(stdout);
	if (system(cmd) != 0) {
		fprintf(stderr, "restore: cannot save a %u MiB domain into %s\n", mib, dir);
		exit(1);
	}
	unlink(sock);
}

static uint64_t pick(uint64_t *v, size_t n, int which) /* 0 min, 1 max */
{
	uint64_t r = v[0];

	for (size_t i = 1; i < n; i++)
		r = which ? (v[i] > r ? v[i] : r) : (v[i] < r ? v[i] : r);
	return r;
}

int main(int argc, char **argv)
{
	enum { MAX_RUNS = 100 };
	static const unsigned def_sizes[] = {8, 64, 256, 1024};
	unsigned sizes[16], nr_sizes = 0;
	uint64_t launch[MAX_RUNS], restore[MAX_RUNS];
	int runs = argc > 3 ? atoi(argv[3]) : 15;
	char tmp[] = "/var/tmp/capsule-bench-restore-XXXXXX";
	char load[128] = "?";
	FILE *f;

	if (argc < 3 || runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: restore CAPSULE GUEST [RUNS 1-%d [MiB...]]\n", MAX_RUNS);
		return 2;
	}
	for (int i = 4; i < argc && nr_sizes < 16; i++)
		sizes[nr_sizes++] = (unsigned)atoi(argv[i]);
	if (!nr_sizes)
		for (; nr_sizes < 4; nr_sizes++)
			sizes[nr_sizes] = def_sizes[nr_sizes];
	if (!mkdtemp(tmp))
		bench_die("mkdtemp");
	if ((f = fopen("/proc/loadavg", "r"))) {
		if (!fgets(load, sizeof(load), f))
			load[0] = 0;
		load[strcspn(load, "\n")] = 0;
		fclose(f);
	}
	printf("host load before: %s\n", load);
	for (unsigned s = 0; s < nr_sizes; s++) {
		char dir[4200], mem[16];

		snprintf(dir, sizeof(dir), "%s/snap-%u", tmp, sizes[s]);
		snprintf(mem, sizeof(mem), "%u", sizes[s]);
		make_snapshot(argv[1], argv[2], sizes[s], dir);
		char *l_argv[] = {argv[1], "run", "-m", mem, "-t", "30", argv[2], NULL};
		char *r_argv[] = {argv[1], "run", "--restore", dir, "-t", "30", NULL};

		/* Interleaved, so that machine noise hits both alike. */
		for (int i = 0; i < runs; i++) {
			launch[i] = until_first_line(l_argv);
			restore[i] = until_first_line(r_argv);
		}
		uint64_t lm = median_u64(launch, (size_t)runs), rm = median_u64(restore, (size_t)runs);

		printf("| restore to first console line, %u MiB | %.0f us (%.0f-%.0f) | fresh launch to "
		       "first console line %.0f us (%.0f-%.0f) | %.2fx |\n", sizes[s], rm / 1e3,
		       pick(restore, (size_t)runs, 0) / 1e3, pick(restore, (size_t)runs, 1) / 1e3,
		       lm / 1e3, pick(launch, (size_t)runs, 0) / 1e3,
		       pick(launch, (size_t)runs, 1) / 1e3, (double)rm / (double)lm);
		fflush(stdout);
	}
	if ((f = fopen("/proc/loadavg", "r"))) {
		if (!fgets(load, sizeof(load), f))
			load[0] = 0;
		load[strcspn(load, "\n")] = 0;
		fclose(f);
	}
	printf("host load after: %s (median of %d interleaved runs each, range in brackets)\n",
	       load, runs);
	snprintf(load, sizeof(load), "rm -rf '%s'", tmp);
	fflush(stdout);
	return system(load) != 0;
}
