/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-console: echo each line in capitals until "quit". */
#include "virtio.h"

int main(void)
{
	static struct vcons c;
	char line[256];
	uint32_t len = 0;

	TEST_CHECK(vcons_open(&c) == 0);
	vcons_write(&c, "vcons: ready\n", 13);
	for (;;) {
		uint32_t n = vcons_read(&c, line + len, sizeof(line) - 1 - len,
					time_ns() + 20000000000ull);
		char *nl;

		TEST_CHECK(n > 0);
		len += n;
		line[len] = 0;
		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			if (!strcmp(line, "quit"))
				test_finish(true);
			for (char *p = line; *p; p++)
				if (*p >= 'a' && *p <= 'z')
					*p = (char)(*p - 32);
			*nl = '\n';
			vcons_write(&c, line, (uint32_t)(nl - line + 1));
			len -= (uint32_t)(nl - line + 1);
			memmove(line, nl + 1, len + 1);
		}
	}
}
