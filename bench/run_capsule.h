/* SPDX-License-Identifier: Apache-2.0 */
/* Run `capsule run ...` and pull one number out of the guest's console output. */
#ifndef CAPSULE_BENCH_RUN_CAPSULE_H
#define CAPSULE_BENCH_RUN_CAPSULE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#endif
