/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Working-set files (src/snapshot/workingset.c): a good file is read back; a bad magic, a
 * newer version, another page size, another memory size, a truncated or padded file, an
 * absurd range count, an empty, overlapping, unsorted or out-of-memory range is refused
 * whole. Recording over real memory lists exactly the pages touched, and prefetching it
 * reports their number.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule/mem.h"
#include "capsule/workingset.h"

#define MEM (1ull << 20) /* 256 pages */

static size_t build(uint8_t *b, const char *magic, uint32_t version, uint32_t page,
		    uint64_t mem, uint64_t nr, const uint64_t *ranges, unsigned n)
{
	memcpy(b, magic, 8);
	memcpy(b + 8, &version, 4);
	memcpy(b + 12, &page, 4);
	memcpy(b + 16, &mem, 8);
	memcpy(b + 24, &nr, 8);
	memcpy(b + 32, ranges, n * 16);
	return 32 + n * 16;
}

static int parse(const uint8_t *b, size_t len, char *err)
{
	struct workingset ws;
	int rc = ws_parse(b, len, MEM, &ws, err, 256);

	if (rc == 0)
		ws_free(&ws);
	return rc;
}

static void good_file(void **state)
{
	static const uint64_t r[] = {0, 2, 10, 5, 255, 1};
	uint8_t b[256];
	size_t len = build(b, WS_MAGIC, 1, 4096, MEM, 3, r, 3);
	struct workingset ws;
	char err[256];

	(void)state;
	assert_int_equal(ws_parse(b, len, MEM, &ws, err, sizeof(err)), 0);
	assert_int_equal(ws.nr, 3);
	assert_int_equal(ws.pages, 8);
	assert_int_equal(ws.r[1].first, 10);
	assert_int_equal(ws.r[2].pages, 1);
	ws_free(&ws);
	len = build(b, WS_MAGIC, 1, 4096, MEM, 0, r, 0); /* nothing touched: valid, empty */
	assert_int_equal(ws_parse(b, len, MEM, &ws, err, sizeof(err)), 0);
	assert_int_equal(ws.pages, 0);
	ws_free(&ws);
}

static void hostile_files(void **state)
{
	static const uint64_t ok[] = {0, 2, 10, 5};
	static const uint64_t overlap[] = {0, 12, 10, 5}, unsorted[] = {10, 5, 0, 2},
			      empty[] = {3, 0}, past[] = {250, 7}, wrap[] = {1, UINT64_MAX},
			      start_past[] = {257, 1};
	uint8_t b[256];
	char err[256];
	size_t len;

	(void)state;
	len = build(b, "CAPSWSEX", 1, 4096, MEM, 2, ok, 2);
	assert_int_equal(parse(b, len, err), -EINVAL);
	assert_non_null(strstr(err, "bad magic"));
	len = build(b, WS_MAGIC, 2, 4096, MEM, 2, ok, 2);
	assert_int_equal(parse(b, len, err), -EINVAL);
	assert_non_null(strstr(err, "version 2"));
	len = build(b, WS_MAGIC, 1, 65536, MEM, 2, ok, 2);
	assert_int_equal(parse(b, len, err), -EINVAL);
	assert_non_null(strstr(err, "page size"));
	len = build(b, WS_MAGIC, 1, 4096, MEM * 2, 2, ok, 2);
	assert_int_equal(parse(b, len, err), -EINVAL);
	assert_non_null(strstr(err, "recorded for"));
	len = build(b, WS_MAGIC, 1, 4096, MEM, 2, ok, 2);
	for (size_t cut = 0; cut < len; cut++) /* every truncation */
		assert_int_equal(parse(b, cut, err), -EINVAL);
	assert_int_equal(parse(b, len + 8, err), -EINVAL); /* trailing bytes */
	len = build(b, WS_MAGIC, 1, 4096, MEM, UINT64_MAX / 16 + 3, ok, 2);
	assert_int_equal(parse(b, len, err), -EINVAL);
	assert_non_null(strstr(err, "absurd"));
	len = build(b, WS_MAGIC, 1, 4096, MEM, 200, ok, 2); /* more ranges than can fit */
	assert_int_equal(parse(b, len, err), -EINVAL);
	len = build(b, WS_MAGIC, 1, 4096, MEM, 2, overlap, 2);
	assert_int_equal(parse(b, len, err), -EINVAL);
	assert_non_null(strstr(err, "overlaps"));
	len = build(b, WS_MAGIC, 1, 4096, MEM, 2, unsorted, 2);
	assert_int_equal(parse(b, len, err), -EINVAL);
	len = build(b, WS_MAGIC, 1, 4096, MEM, 1, empty, 1);
	assert_int_equal(parse(b, len, err), -EINVAL);
	assert_non_null(strstr(err, "is empty"));
	len = build(b, WS_MAGIC, 1, 4096, MEM, 1, past, 1);
	assert_int_equal(parse(b, len, err), -EINVAL);
	assert_non_null(strstr(err, "past memory"));
	len = build(b, WS_MAGIC, 1, 4096, MEM, 1, wrap, 1);
	assert_int_equal(parse(b, len, err), -EINVAL);
	len = build(b, WS_MAGIC, 1, 4096, MEM, 1, start_past, 1);
	assert_int_equal(parse(b, len, err), -EINVAL);
	assert_int_equal(parse(NULL, 0, err), -EINVAL);
}

static void record_and_prefetch(void **state)
{
	static const unsigned touch[] = {3, 4, 5, 100, 255};
	struct guest_mem m;
	struct workingset ws;
	uint64_t pages = 0, ranges = 0;
	uint8_t buf[4096];
	char err[256];
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	int out = memfd_create("ws", MFD_CLOEXEC);
	ssize_t len;

	(void)state;
	assert_true(pm >= 0 && out >= 0);
	assert_int_equal(gmem_init_anon(&m, MEM), 0);
	for (unsigned i = 0; i < sizeof(touch) / sizeof(touch[0]); i++)
		m.host[touch[i] * 4096ull + 17] = 1;
	assert_int_equal(ws_record(&m, pm, out, &pages, &ranges, err, sizeof(err)), 0);
	assert_int_equal(pages, 5);
	assert_int_equal(ranges, 3);
	len = pread(out, buf, sizeof(buf), 0);
	assert_int_equal(len, 32 + 3 * 16);
	assert_int_equal(ws_parse(buf, (size_t)len, MEM, &ws, err, sizeof(err)), 0);
	assert_int_equal(ws.r[0].first, 3);
	assert_int_equal(ws.r[0].pages, 3);
	assert_int_equal(ws.r[1].first, 100);
	assert_int_equal(ws.r[2].first, 255);
	assert_int_equal(ws.r[2].pages, 1);
	assert_int_equal(ws_prefetch(&m, &ws), 5);
	ws_free(&ws);
	/* A descriptor that cannot be written: an error, not a crash. */
	assert_true(ws_record(&m, pm, pm, &pages, &ranges, err, sizeof(err)) < 0);
	gmem_destroy(&m);
	close(pm);
	close(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_file),
		cmocka_unit_test(hostile_files),
		cmocka_unit_test(record_and_prefetch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
