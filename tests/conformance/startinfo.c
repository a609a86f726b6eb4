/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules: R-SI-1 R-SI-2 R-SI-3 R-SI-5 R-SI-6 R-SI-7 R-SI-9 R-EV-13 R-TIME-1
 * start_info field by field. The runner passes what it asked capsule for on the command
 * line ("mem=", "vcpus=", "devices=") so the guest can compare. "part=" selects.
 */
#include "xtf.h"

const char test_title[] = "start_info";

static void sizes(void)
{
	char v[24];

	CHECK(xtf_arg("mem", v, sizeof(v)));
	CHECK_EQ(si->mem_bytes, xtf_strtou(v));
	CHECK(xtf_arg("vcpus", v, sizeof(v)));
	CHECK_EQ(si->nr_vcpus, xtf_strtou(v));
}

static void cmdline(void)
{
	size_t n = strlen(si->cmdline);
	bool pattern = true;

	/* The runner gives "part=cmdline " and then 'x' up to 1023 bytes. */
	CHECK_EQ(n, CAP_CMDLINE_MAX - 1);
	for (size_t i = 13; i < n; i++)
		pattern &= si->cmdline[i] == 'x';
	CHECK(pattern);
	CHECK_EQ(si->cmdline[CAP_CMDLINE_MAX - 1], 0);
}

static void devices(void)
{
	/* Run with --virtio-console --rng: the console comes before the entropy device. */
	static const uint32_t types[] = {3, 4};
	uint64_t seen = 0;

	CHECK_EQ(si->nr_devices, 2);
	for (unsigned i = 0; i < 2 && i < si->nr_devices; i++) {
		const struct cap_device_desc *d = &si->devices[i];
		unsigned p = d->evtchn;

		CHECK_EQ(d->type, types[i]);
		CHECK_EQ(d->mmio_base, si->mem_bytes + 0x200ull * i);
		CHECK_EQ(d->mmio_size, 0x200);
		CHECK_EQ(xv_read(i, XV_MAGIC), 0x74726976u); /* "virt" */
		CHECK_EQ(xv_read(i, XV_DEVICE_ID), types[i]);
		/* An open port, notifying vCPU 0 (R-EV-13). */
		CHECK(p > 0 && p < CAP_EVTCHN_PORTS && !(seen >> (p % 64) & 1));
		seen |= 1ull << (p % 64);
		shared->vcpu[0].notified = 0;
		shared->vcpu[0].pending_sel = 0;
		CHECK_EQ(hc1(CAP_HC_EVTCHN_SEND, p), 0);
		CHECK(ev_test_and_clear(p));
		CHECK_EQ(shared->vcpu[0].notified, 1);
		CHECK(shared->vcpu[0].pending_sel >> (p / 64) & 1);
	}
	for (unsigned i = si->nr_devices; i < CAP_MAX_DEVICES; i++)
		CHECK(!si->devices[i].type && !si->devices[i].mmio_base && !si->devices[i].evtchn);
}

/* R-SI-9: the flag, and the value printed for the runner to recompute (it cannot be on the
 * command line, which is measured). */
static void measurement(void)
{
	static const char hex[] = "0123456789abcdef";
	char text[2 * 32 + 1];
	unsigned nonzero = 0;

	CHECK(si->flags & CAP_SI_MEASURED);
	for (unsigned i = 0; i < 32; i++) {
		text[2 * i] = hex[si->launch_measurement[i] >> 4];
		text[2 * i + 1] = hex[si->launch_measurement[i] & 15];
		nonzero |= si->launch_measurement[i];
	}
	text[64] = 0;
	CHECK(nonzero);
	printf("si: launch_measurement %s\n", text);
}

static void clocks(void)
{
	uint64_t t, wall, diff;

	t = now_ns();
	wall = xtf_hc_block[0].a[1];
	CHECK(t < 10000000000ull); /* domain time starts at creation: seconds at most */
	diff = si->boot_wallclock_ns + t > wall ? si->boot_wallclock_ns + t - wall
						: wall - si->boot_wallclock_ns - t;
	CHECK(diff < 50000000ull);
	if (si->tsc_khz) {
		uint64_t ticks = rdtsc() - si->boot_tsc, now = now_ns(), tsc_ns;

		tsc_ns = ticks / si->tsc_khz * 1000000 +
			 ticks % si->tsc_khz * 1000000 / si->tsc_khz;
		diff = tsc_ns > now ? tsc_ns - now : now - tsc_ns;
		printf("si: tsc_khz %llu, TSC clock - domain time = %llu ns\n",
		       (unsigned long long)si->tsc_khz, (unsigned long long)diff);
		CHECK(diff < 50000000ull);
	}
}

void test_main(void)
{
	char part[16];

	if (!xtf_arg("part", part, sizeof(part)))
		xtf_skip("no part= on the command line");
	if (!strcmp(part, "header")) {
		CHECK_EQ((uintptr_t)si, CAP_GPA_START_INFO);
		CHECK_EQ(si->magic, CAP_START_MAGIC);
		CHECK_EQ(si->version, CAP_PV_ABI_VERSION);
		CHECK_EQ(si->flags & ~(CAP_SI_CONSOLE_INPUT | CAP_SI_MEASURED), 0); /* R-SI-1 */
	} else if (!strcmp(part, "sizes")) {
		sizes();
	} else if (!strcmp(part, "addresses")) {
		CHECK_EQ(si->shared_info_gpa, CAP_GPA_SHARED_INFO);
		CHECK_EQ(si->console_gpa, CAP_GPA_CONSOLE);
	} else if (!strcmp(part, "cmdline")) {
		cmdline();
	} else if (!strcmp(part, "nodev")) {
		CHECK_EQ(si->nr_devices, 0);
		for (unsigned i = 0; i < CAP_MAX_DEVICES; i++)
			CHECK(!si->devices[i].type && !si->devices[i].mmio_base);
	} else if (!strcmp(part, "devices")) {
		devices();
	} else if (!strcmp(part, "clocks")) {
		clocks();
	} else if (!strcmp(part, "measure")) {
		measurement();
	} else {
		xtf_skip("unknown part");
	}
}
