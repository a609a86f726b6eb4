/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PV console echo, for ever: each line typed on the console comes back as "echo: LINE"
 * (the web dashboard's console test, tests/web/run.mjs). Unlike consin.c, no deadline: a
 * console opened minutes later still gets its answer.
 */
#include "kit.h"

int main(void)
{
	char line[256];
	size_t len = 0;

	TEST_CHECK(start_info->flags & CAP_SI_CONSOLE_INPUT);
	printf("echo: ready\n");
	for (;;) {
		int n = console_read(line + len, sizeof(line) - 1 - len, 0);
		char *nl;

		if (n <= 0)
			continue;
		len += (size_t)n;
		line[len] = 0;
		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			printf("echo: %s\n", line);
			len -= (size_t)(nl - line + 1);
			memmove(line, nl + 1, len + 1);
		}
		if (len == sizeof(line) - 1) { /* a line longer than the buffer: as it is */
			printf("echo: %s\n", line);
			len = 0;
		}
	}
}
