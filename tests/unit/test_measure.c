/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The launch measurement's arithmetic (docs/measured-launch.md) against known answers
 * computed with Python's hashlib from the document's definition (tools/measure.py does
 * the same): each event's framing, the extend chain, a file read in pieces, hex.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule/measure.h"

static void hex_is(const uint8_t d[MEASURE_LEN], const char *want)
{
	char hex[2 * MEASURE_LEN + 1];

	measure_hex(d, hex);
	assert_string_equal(hex, want);
}

static void events(void **state)
{
	uint8_t d[MEASURE_LEN], e[MEASURE_LEN];

	(void)state;
	/* D = SHA-256(name || 0 || le64(len) || data) */
	assert_int_equal(measure_event_buf("cmdline", "", 0, d), 0);
	hex_is(d, "08f945519d73e45e00b5feff725fafd4fbc489e88e6b4092b2499a583294d874");
	assert_int_equal(measure_event_buf("image", "abc", 3, d), 0);
	hex_is(d, "d44be7e3008a3c16cec2317849696304a56f23079c25122f8083f2f894a61a6c");
	/* The name is in the digest: the same bytes under another name differ. */
	assert_int_equal(measure_event_buf("initrd", "abc", 3, e), 0);
	assert_memory_not_equal(d, e, MEASURE_LEN);
	/* No descriptor: the empty event. */
	assert_int_equal(measure_event_fd("cmdline", -1, e), 0);
	hex_is(e, "08f945519d73e45e00b5feff725fafd4fbc489e88e6b4092b2499a583294d874");
}

static void chain(void **state)
{
	struct launch_measure m;

	(void)state;
	memset(&m, 0xee, sizeof(m)); /* fold starts from zeros, whatever was there */
	assert_int_equal(measure_event_buf("image", "abc", 3, m.event[0]), 0);
	assert_int_equal(measure_event_buf("cmdline", "x", 1, m.event[1]), 0);
	assert_int_equal(measure_event_buf("initrd", "", 0, m.event[2]), 0);
	assert_int_equal(measure_event_buf("config", "kind=pv\n", 8, m.event[3]), 0);
	assert_int_equal(measure_fold(&m), 0);
	hex_is(m.value, "8308332b6bd50f024875e0849ccdfb42c72c72debb223f76a1ad254342891b9f");
	/* Order matters: two events swapped give another value. */
	uint8_t t[MEASURE_LEN], before[MEASURE_LEN];

	memcpy(before, m.value, MEASURE_LEN);
	memcpy(t, m.event[1], MEASURE_LEN);
	memcpy(m.event[1], m.event[2], MEASURE_LEN);
	memcpy(m.event[2], t, MEASURE_LEN);
	assert_int_equal(measure_fold(&m), 0);
	assert_memory_not_equal(m.value, before, MEASURE_LEN);
}

/* A file longer than the read buffer (64 KiB) hashes as its bytes in one buffer do. */
static void file_in_pieces(void **state)
{
	char path[] = "/tmp/capsule-measure-XXXXXX";
	size_t n = 200000;
	uint8_t *data = malloc(n), a[MEASURE_LEN], b[MEASURE_LEN];
	int fd = mkstemp(path);

	(void)state;
	assert_non_null(data);
	assert_true(fd >= 0);
	for (size_t i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 7 + (i >> 9));
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	assert_int_equal(measure_event_fd("image", fd, a), 0);
	assert_int_equal(measure_event_buf("image", data, n, b), 0);
	assert_memory_equal(a, b, MEASURE_LEN);
	/* Whatever the file offset was left at. */
	assert_int_equal(lseek(fd, 12345, SEEK_SET), 12345);
	assert_int_equal(measure_event_fd("image", fd, a), 0);
	assert_memory_equal(a, b, MEASURE_LEN);
	data[n - 1] ^= 1; /* one byte: another digest */
	assert_int_equal(measure_event_buf("image", data, n, b), 0);
	assert_memory_not_equal(a, b, MEASURE_LEN);
	close(fd);
	unlink(path);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(events),
		cmocka_unit_test(chain),
		cmocka_unit_test(file_in_pieces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
