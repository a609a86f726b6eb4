/* SPDX-License-Identifier: Apache-2.0 */
/* Run `capsule run ...`: pull one number out of the guest's console output, or time a launch. */
#ifndef CAPSULE_BENCH_RUN_CAPSULE_H
#define CAPSULE_BENCH_RUN_CAPSULE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kvm_floor.h"

/* Runs the command line and returns the number after `key=` on stdout, or exits. */
static inline unsigned long long capsule_number(const char *cmd, const char *key)
{
	char line[512];
	unsigned long long v = 0;
	int found = 0;
	FILE *p = popen(cmd, "r");

	if (!p) {
		perror("popen");
		exit(1);
	}
	while (fgets(line, sizeof(line), p)) {
		char *k = strstr(line, key);

		if (k && k[strlen(key)] == '=') {
			v = strtoull(k + strlen(key) + 1, NULL, 10);
			found = 1;
		}
	}
	if (pclose(p) != 0 || !found) {
		fprintf(stderr, "bench: '%s' did not report %s\n", cmd, key);
		exit(1);
	}
	return v;
}

/*
 * fork+exec argv with CAPSULE_STAMP_FIRST_HYPERCALL set, wait for a line
 * "... MARKER S.NNNNNNNNN" on stderr (capsule prints its monotonic time at the guest's first
 * hypercall); returns ns from fork to that time. stdout goes to /dev/null.
 */
static inline uint64_t exec_until_stamp(char **argv, const char *marker)
{
	int pipefd[2];
	uint64_t t0, stamp = 0;
	char line[256];
	pid_t pid;
	FILE *in;

	if (pipe(pipefd) < 0)
		bench_die("pipe");
	t0 = bench_now_ns();
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 2);
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		close(pipefd[0]);
		setenv("CAPSULE_STAMP_FIRST_HYPERCALL", "1", 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	in = fdopen(pipefd[0], "r");
	while (fgets(line, sizeof(line), in)) {
		char *p = strstr(line, marker);
		long long s;
		long ns;

		if (p && sscanf(p + strlen(marker), " %lld.%ld", &s, &ns) == 2)
			stamp = (uint64_t)s * 1000000000ull + (uint64_t)ns;
	}
	fclose(in);
	waitpid(pid, NULL, 0);
	if (!stamp) {
		fprintf(stderr, "launch: %s printed no '%s' line\n", argv[0], marker);
		exit(1);
	}
	return stamp - t0;
}

#endif
