/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-balloon: touch `--cmdline MiB` of memory and free it to the page pool, then follow
 * the host's target: inflate (the host releases the pages) and deflate (we touch the pages
 * again, proving they came back). Answers statistics requests. Runs until killed.
 */
#include "virtio.h"

int main(void)
{
	static struct vballoon b;
	uint64_t mib = strtoul(start_info->cmdline, NULL, 10), pages = mib * 256;
	uint32_t held = 0;
	void **list = malloc(pages * sizeof(void *));

	TEST_CHECK(list && vballoon_open(&b) == 0);
	for (uint64_t i = 0; i < pages; i++) { /* make the memory resident on the host */
		list[i] = page_alloc();
		TEST_CHECK(list[i] != NULL);
		memset(list[i], 0xa5, 4096);
	}
	for (uint64_t i = 0; i < pages; i++)
		page_free(list[i]);
	printf("balloon: ready, touched %llu MiB\n", (unsigned long long)mib);
	for (;;) {
		uint32_t now = vballoon_update(&b);

		if (now != held) {
			if (now < held) /* deflated: the pages are ours again, use them */
				for (uint32_t i = 0; i < held - now; i++) {
					uint8_t *p = page_alloc();

					TEST_CHECK(p && p[0] == 0); /* the host zeroed them */
					memset(p, 0x5a, 4096);
					list[i] = p;
				}
			if (now < held)
				for (uint32_t i = 0; i < held - now; i++)
					page_free(list[i]);
			held = now;
			printf("balloon: holding %u pages (%u MiB)\n", held, held / 256);
		}
		vballoon_stats(&b, (pages - held) * 4096ull, start_info->mem_bytes);
		evtchn_wait(b.dev.port, time_ns() + 100000000ull);
	}
}
