/* SPDX-License-Identifier: Apache-2.0 */
/* capsule-oci's pure mappings (docs/oci.md): the command line from args and env, memory
 * from the limit, weight and cap from shares and quota, signals and ids as runc reads them. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "capsule/oci.h"

static void cmdline_words(void **state)
{
	const char *env[] = {"PATH=/bin", "A=b c"}, *args[] = {"ticks", "3"};
	char out[64];

	(void)state;
	assert_int_equal(oci_cmdline(NULL, env, 2, args, 2, out, sizeof(out)), 0);
	assert_string_equal(out, "PATH=/bin \"A=b c\" -- ticks 3");
	assert_int_equal(oci_cmdline("console=ttyS0", NULL, 0, args, 1, out, sizeof(out)), 0);
	assert_string_equal(out, "console=ttyS0 -- ticks");
	assert_int_equal(oci_cmdline(NULL, env, 1, NULL, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "PATH=/bin"); /* no "--" without args */
	assert_int_equal(oci_cmdline(NULL, NULL, 0, NULL, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

static void cmdline_refused(void **state)
{
	const char *quote[] = {"say \"hi\""}, *nl[] = {"a\nb"}, *big[] = {"0123456789abcd"};
	char out[16];

	(void)state;
	assert_int_equal(oci_cmdline(NULL, NULL, 0, quote, 1, out, sizeof(out)), -EINVAL);
	assert_int_equal(oci_cmdline(NULL, nl, 1, NULL, 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(oci_cmdline(NULL, NULL, 0, big, 1, out, sizeof(out)), -E2BIG);
	assert_int_equal(oci_cmdline("0123456789abcdefgh", NULL, 0, NULL, 0, out, sizeof(out)),
			 -E2BIG);
	/* Exactly full: 15 characters and the NUL. */
	assert_int_equal(oci_cmdline(NULL, NULL, 0, (const char *[]){"0123456789ab"}, 1, out,
				     sizeof(out)), 0);
	assert_string_equal(out, "-- 0123456789ab");
}

static void memory(void **state)
{
	char err[256];
	uint64_t mib = 0;

	(void)state;
	assert_int_equal(oci_mem_from_limit(-1, &mib, err, sizeof(err)), 0);
	assert_int_equal(mib, OCI_DEFAULT_MEM_MIB);
	assert_int_equal(oci_mem_from_limit(128ll << 20, &mib, err, sizeof(err)), 0);
	assert_int_equal(mib, 128 - OCI_VMM_OVERHEAD_MIB);
	assert_int_equal(oci_mem_from_limit((128ll << 20) + 4095, &mib, err, sizeof(err)), 0);
	assert_int_equal(mib, 128 - OCI_VMM_OVERHEAD_MIB); /* rounded down, never above */
	assert_int_equal(oci_mem_from_limit((OCI_VMM_OVERHEAD_MIB + 3ll) << 20, &mib, err,
					    sizeof(err)), -1);
	assert_non_null(strstr(err, "too small"));
	assert_int_equal(oci_mem_from_limit(INT64_MAX, &mib, err, sizeof(err)), 0);
}

static void cpu(void **state)
{
	(void)state;
	assert_int_equal(oci_weight_from_shares(1024), 256); /* the defaults meet */
	assert_int_equal(oci_weight_from_shares(2), 1);
	assert_int_equal(oci_weight_from_shares(UINT64_MAX), 65535);
	assert_int_equal(oci_cap_from_quota(50000, 100000), 50);
	assert_int_equal(oci_cap_from_quota(200000, 100000), 200);
	assert_int_equal(oci_cap_from_quota(1, 100000), 1); /* a quota is never "no cap" */
	assert_int_equal(oci_cap_from_quota(-1, 100000), 0);
	assert_int_equal(oci_cap_from_quota(INT64_MAX, 1), 6553500);
}

static void signals_and_ids(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(oci_signal_parse("9"), SIGKILL);
	assert_int_equal(oci_signal_parse("KILL"), SIGKILL);
	assert_int_equal(oci_signal_parse("SIGTERM"), SIGTERM);
	assert_int_equal(oci_signal_parse("0"), -1);
	assert_int_equal(oci_signal_parse("65"), -1);
	assert_int_equal(oci_signal_parse("SIGNOPE"), -1);
	assert_int_equal(oci_signal_parse(""), -1);
	assert_int_equal(oci_id_check("abc-1.2_x+y", err, sizeof(err)), 0);
	assert_int_equal(oci_id_check("..", err, sizeof(err)), -1);
	assert_int_equal(oci_id_check("a/b", err, sizeof(err)), -1);
	assert_int_equal(oci_id_check("", err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cmdline_words), cmocka_unit_test(cmdline_refused),
		cmocka_unit_test(memory), cmocka_unit_test(cpu),
		cmocka_unit_test(signals_and_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
