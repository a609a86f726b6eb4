/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules: R-SD-1 R-SD-2 R-SD-3 R-SD-4 R-SD-5 R-SD-6
 * shutdown's reasons and codes; the runner checks capsule's exit status. "mode=" selects:
 * code (power off with "code="), refused, reboot, crash, badreason, othercpu.
 */
#include "xtf.h"

const char test_title[] = "shutdown";

static int64_t shutdown(uint64_t reason, uint64_t code)
{
	return hc(CAP_HC_SHUTDOWN, reason, code, 0, 0);
}

static void refused(void)
{
	/* Above CAP_SHUTDOWN_CODE_MAX, as unsigned 64-bit values: refused, and we go on. */
	static const uint64_t codes[] = {124, 125, 126, 127, 128, 255, 256, 300, 1ull << 32,
					 (1ull << 32) | 5, 1ull << 63, ~0ull};

	CHECK_EQ(CAP_SHUTDOWN_CODE_MAX, 123);
	for (unsigned i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (shutdown(CAP_SHUTDOWN_POWEROFF, codes[i]) != CAP_EINVAL)
			xtf_fail(__FILE__, __LINE__, "power off with code %llu accepted",
				 (unsigned long long)codes[i]);
	printf("sd: still running after %u refused codes\n",
	       (unsigned)(sizeof(codes) / sizeof(codes[0])));
	xtf_finish_code(5);
}

static void other_cpu(unsigned cpu)
{
	/* vCPU 1 ends the whole domain. */
	printf("Test result: %s\n", xtf_failures ? "FAILURE" : "SUCCESS");
	hc_cpu(cpu, CAP_HC_SHUTDOWN, CAP_SHUTDOWN_POWEROFF, 9, 0, 0);
	hc_cpu(cpu, CAP_HC_SHUTDOWN, CAP_SHUTDOWN_CRASH, 9, 0, 0);
}

void test_main(void)
{
	char mode[16], v[24];

	if (!xtf_arg("mode", mode, sizeof(mode)))
		xtf_skip("no mode= on the command line");
	if (!strcmp(mode, "code")) {
		CHECK(xtf_arg("code", v, sizeof(v)));
		xtf_finish_code(xtf_strtou(v));
	} else if (!strcmp(mode, "refused")) {
		refused();
	} else if (!strcmp(mode, "reboot")) {
		printf("sd: boot\n");
		shutdown(CAP_SHUTDOWN_REBOOT, 77); /* the code is ignored */
		CHECK(!"reboot returned");
	} else if (!strcmp(mode, "crash")) {
		printf("expect-stderr: the guest reported a crash (code -5) on vCPU 0\n");
		shutdown(CAP_SHUTDOWN_CRASH, (uint64_t)-5);
		CHECK(!"crash returned");
	} else if (!strcmp(mode, "badreason")) {
		CHECK_EQ(shutdown(3, 0), CAP_EINVAL);
		CHECK_EQ(shutdown(1ull << 32, 0), CAP_EINVAL); /* not reason 0 */
		CHECK_EQ(shutdown(~0ull, 0), CAP_EINVAL);
	} else if (!strcmp(mode, "othercpu")) {
		CHECK_EQ(xtf_vcpu_up(1, other_cpu), 0);
		for (;;)
			hc1(CAP_HC_BLOCK, 0); /* vCPU 0 waits for the end */
	} else {
		xtf_skip("unknown mode");
	}
}
