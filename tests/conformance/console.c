/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules: R-CON-1 R-CON-2 R-CON-3 R-CON-4 R-CON-5 R-CON-6
 * The console ring's arithmetic, driven byte by byte; the runner checks what reached
 * capsule's standard output. "part=" selects.
 */
#include "xtf.h"

const char test_title[] = "console ring";

/* Append without the framework's writer, so each test controls prod exactly. */
static void append(const char *s, size_t n)
{
	uint32_t prod = ring->prod;

	for (size_t i = 0; i < n; i++)
		ring->buf[(prod + i) % CAP_CONSOLE_RING_SIZE] = (uint8_t)s[i];
	__atomic_store_n(&ring->prod, prod + (uint32_t)n, __ATOMIC_RELEASE);
}

static int64_t console_write(void)
{
	return hc0(CAP_HC_CONSOLE_WRITE);
}

static void write_once(void)
{
	static const char line[] = "con-write: exactly this line, once\n";

	CHECK_EQ(ring->cons, ring->prod); /* the framework's own output is written out */
	append(line, sizeof(line) - 1);
	CHECK_EQ(console_write(), sizeof(line) - 1);
	CHECK_EQ(console_write(), 0); /* nothing new */
}

static void full(void)
{
	char line[64];

	/* 128 lines of 64 bytes: exactly CAP_CONSOLE_RING_SIZE ahead of cons. */
	for (int i = 0; i < 128; i++) {
		memset(line, '.', sizeof(line));
		snprintf(line, sizeof(line), "con-full %03d", i);
		line[12] = ' ';
		line[63] = '\n';
		append(line, sizeof(line));
	}
	CHECK_EQ(ring->prod - ring->cons, CAP_CONSOLE_RING_SIZE);
	CHECK_EQ(console_write(), CAP_CONSOLE_RING_SIZE);
	CHECK_EQ(ring->cons, ring->prod);
}

static void overrun(void)
{
	static const char lost[] = "con-overrun: these bytes are dropped\n";

	append(lost, sizeof(lost) - 1);
	ring->prod += CAP_CONSOLE_RING_SIZE + 1 - (sizeof(lost) - 1); /* 8193 ahead */
	CHECK_EQ(console_write(), CAP_EINVAL);
	CHECK_EQ(ring->cons, ring->prod);
	printf("con-overrun: the ring works again\n");
}

static void mirror(void)
{
	static const char once[] = "con-mirror: printed once\n";
	uint32_t prod;

	append(once, sizeof(once) - 1);
	CHECK_EQ(console_write(), sizeof(once) - 1);
	prod = ring->prod;
	CHECK_EQ(ring->cons, prod); /* updated before console_write returned */
	ring->cons = prod - (uint32_t)(sizeof(once) - 1); /* lie: nothing is written twice */
	CHECK_EQ(console_write(), 0);
	CHECK_EQ(ring->cons, prod);
	ring->cons = prod + 5; /* nor skipped */
	append("con-mirror: next\n", 17);
	CHECK_EQ(console_write(), 17);
	CHECK_EQ(ring->cons, ring->prod);
}

static void wrap(void)
{
	char msg[600];
	uint32_t start = 0xffffff00u;
	size_t n;

	/* Move both counters to just below 2^32: an inconsistent jump resynchronizes cons. */
	ring->prod = start;
	CHECK_EQ(console_write(), CAP_EINVAL);
	CHECK_EQ(ring->cons, start);
	/* 512 bytes across 2^32, and across the end of buf (0xffffff00 % 8192 = 0x1f00). */
	memset(msg, 'w', sizeof(msg));
	memcpy(msg, "con-wrap: ", 10);
	n = 512;
	msg[n - 1] = '\n';
	append(msg, n);
	CHECK_EQ(ring->prod, (uint32_t)(start + n));
	CHECK(ring->prod < start); /* wrapped */
	CHECK_EQ(console_write(), n);
	CHECK_EQ(ring->cons, ring->prod);
}

static noreturn void drain(bool crash)
{
	/* Bytes in the ring that no console_write wrote out, then the end. */
	if (crash) {
		static const char m[] = "con-drain: written out after a crash\n";

		append(m, sizeof(m) - 1);
		__asm__ volatile("ud2");
	} else {
		static const char m[] = "con-drain: written out at power-off\n"
					"Test result: SUCCESS\n";

		if (xtf_failures)
			xtf_finish();
		append(m, sizeof(m) - 1);
		hc(CAP_HC_SHUTDOWN, CAP_SHUTDOWN_POWEROFF, 0, 0, 0);
	}
	CHECK(!"the domain did not end");
	xtf_finish();
}

static volatile int appended;

static void other(unsigned cpu)
{
	static const char m[] = "con-other-vcpu: appended on vCPU 1\n";

	(void)cpu;
	xtf_ring_put(m, sizeof(m) - 1); /* the framework's lock: writers serialize */
	__atomic_store_n(&appended, 1, __ATOMIC_RELEASE);
}

void test_main(void)
{
	char part[16];

	if (!xtf_arg("part", part, sizeof(part)))
		xtf_skip("no part= on the command line");
	if (!strcmp(part, "initial")) {
		CHECK_EQ(xtf_ring_prod0, 0);
		CHECK_EQ(xtf_ring_cons0, 0);
	} else if (!strcmp(part, "write")) {
		write_once();
	} else if (!strcmp(part, "full")) {
		full();
	} else if (!strcmp(part, "overrun")) {
		overrun();
	} else if (!strcmp(part, "mirror")) {
		mirror();
	} else if (!strcmp(part, "wrap")) {
		wrap();
	} else if (!strcmp(part, "drain")) {
		drain(false);
	} else if (!strcmp(part, "drain-crash")) {
		drain(true);
	} else if (!strcmp(part, "other")) {
		uint32_t before = ring->prod;

		CHECK_EQ(xtf_vcpu_up(1, other), 0);
		CHECK(xtf_wait_flag(0, &appended, 5000000000ull));
		CHECK_EQ(console_write(), ring->prod - before); /* vCPU 0 writes vCPU 1's bytes */
	} else {
		xtf_skip("unknown part");
	}
}
