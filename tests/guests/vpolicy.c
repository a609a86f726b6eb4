/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A domain for capsuled's memory policy (docs/resources.md): keeps `use=U` MiB in use
 * (rewritten every 100 ms: a busy domain), follows the balloon's target with the rest,
 * and reports as free what it neither uses nor gave the balloon. use=0 is an idle domain.
 * `shared=M id=I`: M MiB more in use, the same in every domain (code, read-mostly data: what
 * page sharing folds), and the touched pages below unique to domain I.
 * `touch=T wait=S`: once the balloon holds something, or S seconds after the start, touch up
 * to T MiB of free memory once and free it again (an idle domain's memory is resident until
 * the balloon takes it). Prints "vpolicy: ready", "vpolicy: touched N MiB" and
 * "vpolicy: balloon N pages" at each change; runs until killed. With `report`, the touched
 * pages are reported free to the host (free page reporting) instead of going back to the
 * allocator: "vpolicy: reported N MiB".
 * With `once`, the U MiB are written when they are filled and never again: in use by the
 * balloon's statistics, idle by the dirty log (docs/resources.md, the write working set).
 */
#include "virtio.h"

int main(void)
{
	static struct vballoon b;
	const char *u = strstr(start_info->cmdline, "use=");
	uint64_t use = u ? strtoul(u + 4, NULL, 10) : 0, pages = use * 256;
	uint64_t total = start_info->mem_bytes;
	uint8_t **busy = malloc((pages ? pages : 1) * sizeof(*busy));
	uint32_t held = 0, round = 0;
	bool once = strstr(start_info->cmdline, "once") != NULL;
	const char *t = strstr(start_info->cmdline, "touch="), *w = strstr(start_info->cmdline, "wait=");
	uint64_t touch = t ? strtoul(t + 6, NULL, 10) * 256 : 0;
	const char *sh = strstr(start_info->cmdline, "shared="), *di = strstr(start_info->cmdline, "id=");
	uint64_t nshared = sh ? strtoul(sh + 7, NULL, 10) * 256 : 0, id = di ? strtoul(di + 3, NULL, 10) : 0;
	uint64_t start = time_ns(), wait_ns = (w ? strtoul(w + 5, NULL, 10) : 5) * 1000000000ull;

	TEST_CHECK(busy && vballoon_open(&b) == 0);
	for (uint64_t i = 0; i < pages; i++) {
		TEST_CHECK((busy[i] = page_alloc()) != NULL);
		memset(busy[i], 0x11, 4096);
	}
	for (uint64_t i = 0; i < nshared; i++) { /* the same bytes in every domain */
		uint64_t *p = page_alloc();

		TEST_CHECK(p != NULL);
		for (unsigned k = 0; k < 512; k++)
			p[k] = (i << 9 | k) * 0x9e3779b97f4a7c15ull | 1;
	}
	printf("vpolicy: ready, using %llu MiB\n", (unsigned long long)use);
	for (;;) {
		uint32_t now = vballoon_update(&b);
		uint64_t given = (uint64_t)now * 4096, used = pages * 4096, shared_bytes = nshared * 4096;

		if (now != held)
			printf("vpolicy: balloon %u pages\n", now);
		if (touch && (now > 0 || time_ns() - start > wait_ns)) {
			void **list = malloc(touch * sizeof(void *));
			uint64_t n = 0;

			TEST_CHECK(list != NULL);
			while (n < touch && (list[n] = page_alloc()) != NULL) {
				uint64_t *q = list[n];

				for (unsigned k = 0; k < 512; k++) /* this domain's own bytes */
					q[k] = (id << 40 | n << 9 | k) * 0xbf58476d1ce4e5b9ull | 1;
				n++;
			}
			printf("vpolicy: touched %llu MiB\n", (unsigned long long)(n / 256));
			if (strstr(start_info->cmdline, "report")) {
				/* Reported pages stay out of the allocator: its free list lives in
				 * the pages themselves, and the host just released them. */
				TEST_CHECK(vballoon_report(&b, list, (unsigned)n) == 0);
				printf("vpolicy: reported %llu MiB\n", (unsigned long long)(n / 256));
			} else {
				for (uint64_t i = 0; i < n; i++)
					page_free(list[i]);
				free(list);
			}
			touch = 0;
		}
		held = now;
		round++;
		for (uint64_t i = 0; !once && i < pages; i++) /* busy: every page, every round */
			busy[i][(round * 64) % 4096] = (uint8_t)round;
		/* As Linux does: the balloon's pages are neither free nor in the total. */
		used += shared_bytes;
		vballoon_stats(&b, total > used + given ? total - used - given : 0,
			       total > given ? total - given : 0);
		evtchn_wait(b.dev.port, time_ns() + 100000000ull);
	}
}
