/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Page sharing (docs/resources.md): fill `pages=N` pages with a pattern that depends only
 * on the page's index and `seed=S` (so domains with the same seed hold identical pages),
 * then follow console input lines:
 *   write K   overwrite the first word of the first K pages with this domain's `id=X`
 *   verify    check every page: the pattern, or the id where this domain wrote
 *   quit      power off with the verdict of the last verify
 * Each answer is one line: "vshare: wrote K", "vshare: verify ok N" or
 * "vshare: verify BAD page P".
 */
#include "kit.h"

static uint64_t arg(const char *key, uint64_t dflt)
{
	const char *p = strstr(start_info->cmdline, key);

	return p ? strtoul(p + strlen(key), NULL, 0) : dflt;
}

static uint64_t pattern(uint64_t seed, uint64_t page, uint64_t word)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + page * 0xbf58476d1ce4e5b9ull + word;

	x ^= x >> 31;
	return x * 0x94d049bb133111ebull | 1; /* never zero: KSM's zero pages are apart */
}

int main(void)
{
	uint64_t n = arg("pages=", 256), seed = arg("seed=", 1), id = arg("id=", 0);
	uint64_t written = 0;
	uint64_t **pages = malloc(n * sizeof(*pages));
	char line[128];
	size_t len = 0;
	bool ok = true;

	TEST_CHECK(pages && (start_info->flags & CAP_SI_CONSOLE_INPUT));
	for (uint64_t i = 0; i < n; i++) {
		TEST_CHECK((pages[i] = page_alloc()) != NULL);
		for (unsigned w = 0; w < 512; w++)
			pages[i][w] = pattern(seed, i, w);
	}
	printf("vshare: filled %llu\n", (unsigned long long)n);
	for (;;) {
		int got = console_read(line + len, sizeof(line) - 1 - len, time_ns() + 3600000000000ull);
		char *nl;

		if (got <= 0)
			continue;
		len += (size_t)got;
		line[len] = 0;
		if (!strchr(line, '\n') && len == sizeof(line) - 1)
			len = 0; /* a line too long: dropped */
		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			if (!strncmp(line, "write ", 6)) {
				uint64_t k = strtoul(line + 6, NULL, 10);

				k = k > n ? n : k;
				for (uint64_t i = 0; i < k; i++)
					pages[i][0] = 0x5000000000000000ull | id;
				written = k > written ? k : written;
				printf("vshare: wrote %llu\n", (unsigned long long)k);
			} else if (!strcmp(line, "verify")) {
				uint64_t bad = n;

				for (uint64_t i = 0; i < n && bad == n; i++)
					for (unsigned w = 0; w < 512; w++)
						if (pages[i][w] != (w == 0 && i < written
									    ? (0x5000000000000000ull | id)
									    : pattern(seed, i, w))) {
							bad = i;
							break;
						}
				ok = bad == n;
				if (ok)
					printf("vshare: verify ok %llu\n", (unsigned long long)n);
				else
					printf("vshare: verify BAD page %llu\n", (unsigned long long)bad);
			} else if (!strcmp(line, "quit")) {
				test_finish(ok);
			}
			len -= (size_t)(nl - line + 1);
			memmove(line, nl + 1, len + 1);
		}
	}
}
