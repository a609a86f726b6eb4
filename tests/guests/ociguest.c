/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest of the OCI runtime's tests (tests/oci/): its command line is capsule-oci's
 * mapping of a bundle, "[ENV=VALUE ...] -- ARGS" (docs/oci.md). It prints the words after
 * "--" and the environment, then runs ARGS: "ticks N" prints a numbered tick every 20 ms,
 * N times (0: until asked to power off), "exit N" powers off with code N (default 0).
 */
#include "kit.h"

static const char *word_after(const char *s, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = s; *p; p++)
		if ((p == s || p[-1] == ' ') && !strncmp(p, w, n) && (p[n] == ' ' || !p[n]))
			return p[n] ? p + n + 1 : p + n;
	return NULL;
}

int main(void)
{
	const char *cmd = start_info->cmdline, *args = word_after(cmd, "--"), *v;
	unsigned long ticks = 1, code = 0;

	printf("ociguest: hello, %llu MiB, %u vCPU(s)\n",
	       (unsigned long long)(start_info->mem_bytes >> 20), nr_cpus());
	printf("ociguest: cmdline \"%s\"\n", cmd);
	if (args && (v = word_after(args, "ticks")))
		ticks = strtoul(v, NULL, 10);
	if (args && (v = word_after(args, "exit")))
		code = strtoul(v, NULL, 10);
	for (unsigned long n = 0; !ticks || n < ticks; n++) {
		printf("ociguest: tick %lu\n", n);
		sleep_ns(20000000);
	}
	printf("ociguest: exit %lu\n", code);
	return (int)code;
}
