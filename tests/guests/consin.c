/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PV console input: echo each line in capitals until "quit" (vcons.c's test, on the
 * console input ring instead of virtio-console). "reboot" reboots (the next domain reads
 * on), "stop" stops reading and powers off 0.3 s later (with the ring full, if the host
 * keeps writing: the VMM must still end promptly).
 */
#include "kit.h"

int main(void)
{
	char line[256];
	size_t len = 0;

	TEST_CHECK(start_info->flags & CAP_SI_CONSOLE_INPUT);
	printf("consin: ready\n");
	for (;;) {
		int n = console_read(line + len, sizeof(line) - 1 - len,
				     time_ns() + 20000000000ull);
		char *nl;

		TEST_CHECK(n > 0);
		len += (size_t)n;
		line[len] = 0;
		TEST_CHECK(strchr(line, '\n') || len < sizeof(line) - 1); /* lines fit */
		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			if (!strcmp(line, "quit"))
				test_finish(true);
			if (!strcmp(line, "reboot"))
				reboot();
			if (!strcmp(line, "stop")) {
				sleep_ns(300000000ull);
				test_finish(true);
			}
			for (char *p = line; *p; p++)
				if (*p >= 'a' && *p <= 'z')
					*p = (char)(*p - 32);
			*nl = '\n';
			console_write(line, (size_t)(nl - line + 1));
			len -= (size_t)(nl - line + 1);
			memmove(line, nl + 1, len + 1);
		}
	}
}
