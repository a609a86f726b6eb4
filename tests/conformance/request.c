/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules: R-REQ-1 R-REQ-2 R-REQ-3 R-SI-8
 * Host requests through start_info.control_port (section 11.1). "part=" selects:
 *   port      the control port: open, not a device's, unmasked, not pending, host_request 0
 *   poweroff  wait for a request (the runner sends `capsule control SOCK shutdown`),
 *             check it, and power off with code 9
 *   reboot    the same with `reboot`: reboot, and the runner sees the domain restart
 *   ignore    say we wait, then spin without looking: the VMM destroys us after the grace
 */
#include "xtf.h"

const char test_title[] = "host requests";

static uint32_t wait_request(void)
{
	unsigned port = si->control_port;

	printf("request: waiting on port %u\n", port);
	while (!ev_test_and_clear(port))
		hc1(CAP_HC_BLOCK, 0);
	return __atomic_load_n(&shared->host_request, __ATOMIC_ACQUIRE);
}

void test_main(void)
{
	char part[16] = "";
	unsigned port = si->control_port;

	xtf_arg("part", part, sizeof(part));
	if (!strcmp(part, "port")) {
		CHECK(port > 0 && port < CAP_EVTCHN_PORTS);
		for (unsigned i = 0; i < si->nr_devices; i++)
			CHECK(si->devices[i].evtchn != port);
		CHECK(!ev_pending(port));
		CHECK(!ev_masked(port));
		CHECK_EQ(shared->host_request, CAP_REQUEST_NONE);
		/* Open: masking it works (a closed port would give EINVAL, R-EV-8). */
		CHECK_EQ(hc1(CAP_HC_EVTCHN_MASK, port), 0);
		CHECK_EQ(hc1(CAP_HC_EVTCHN_UNMASK, port), 0);
	} else if (!strcmp(part, "poweroff")) {
		CHECK_EQ(wait_request(), CAP_REQUEST_POWEROFF);
		xtf_finish_code(9);
	} else if (!strcmp(part, "reboot")) {
		CHECK_EQ(wait_request(), CAP_REQUEST_REBOOT);
		printf("Test result: %s\n", xtf_failures ? "FAILURE" : "SUCCESS");
		hc(CAP_HC_SHUTDOWN, CAP_SHUTDOWN_REBOOT, 0, 0, 0);
	} else if (!strcmp(part, "ignore")) {
		printf("request: waiting on port %u\n", port);
		for (;;)
			__asm__ volatile("pause");
	} else {
		xtf_fail(__FILE__, __LINE__, "unknown part '%s'", part);
	}
}
