/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules: R-CIN-1 R-CIN-2 R-CIN-3 R-CIN-4 R-CIN-5
 * The console input ring, read by hand; the runner feeds capsule's standard input (a pipe,
 * or /dev/null for "noflag"). "part=" selects.
 */
#include "xtf.h"

const char test_title[] = "console input";

#define MS 1000000ull
#define IN ((volatile struct cap_console_in *)(uintptr_t)CAP_GPA_CONSOLE_IN)

/* The runner's byte stream for "full" and "hostile": every byte value, no line structure. */
static uint8_t pattern(uint32_t i)
{
	return (uint8_t)(i * 7u + 3u);
}

static uint32_t used(void)
{
	return __atomic_load_n(&IN->prod, __ATOMIC_ACQUIRE) - IN->cons;
}

/* Wait (block on the port) until at least n bytes are unread; false after 5 s. */
static bool wait_used(uint32_t n)
{
	uint64_t deadline = now_ns() + 5000 * MS;

	while (used() < n) {
		if (now_ns() > deadline)
			return false;
		ev_test_and_clear(IN->port);
		if (used() >= n)
			break;
		hc1(CAP_HC_BLOCK, deadline);
	}
	return true;
}

/* Take up to max bytes, checking them against pattern(); returns how many. */
static uint32_t take_pattern(uint32_t *pos, uint32_t max)
{
	uint32_t cons = IN->cons, n = used();

	if (n > max)
		n = max;
	for (uint32_t i = 0; i < n; i++, (*pos)++)
		if (IN->buf[(cons + i) % CAP_CONSOLE_IN_SIZE] != pattern(*pos)) {
			CHECK_EQ(IN->buf[(cons + i) % CAP_CONSOLE_IN_SIZE], pattern(*pos));
			xtf_finish();
		}
	__atomic_store_n(&IN->cons, cons + n, __ATOMIC_RELEASE);
	return n;
}

/* Read the whole stream of `total` bytes in odd-sized pieces (they cross the end of buf). */
static void read_all(uint32_t pos, uint32_t total)
{
	while (pos < total) {
		CHECK(wait_used(1));
		if (xtf_failures)
			xtf_finish();
		take_pattern(&pos, 700);
	}
	xtf_delay(0, 100 * MS);
	CHECK_EQ(IN->prod, total); /* nothing beyond what the host wrote */
	CHECK_EQ(used(), 0);
}

static void layout(void)
{
	unsigned port = IN->port;

	CHECK_EQ(si->flags & ~CAP_SI_MEASURED, CAP_SI_CONSOLE_INPUT);
	CHECK_EQ(IN->flags, 0);
	CHECK(port > 0 && port < CAP_EVTCHN_PORTS);
	CHECK(port != si->control_port);
	for (unsigned i = 0; i < si->nr_devices; i++)
		CHECK(port != si->devices[i].evtchn);
	CHECK(!ev_masked(port));
	/* The port notifies vCPU 0: block there returns once input is in. */
	CHECK(wait_used(1));
}

static void read_line(void)
{
	static const char want[] = "cin-read: hello, capsule\n";
	char got[sizeof(want)];
	uint32_t n = sizeof(want) - 1, cons = IN->cons;
	uint64_t deadline = now_ns() + 5000 * MS;
	bool raised = false;

	CHECK_EQ(cons, 0);
	while (used() < n && now_ns() < deadline) {
		raised |= ev_test_and_clear(IN->port);
		if (used() < n && hc1(CAP_HC_BLOCK, deadline) == 1)
			raised |= ev_test_and_clear(IN->port);
	}
	raised |= ev_test_and_clear(IN->port);
	CHECK(raised); /* the port was raised for the input */
	CHECK_EQ(used(), n);
	for (uint32_t i = 0; i < n; i++)
		got[i] = (char)IN->buf[(cons + i) % CAP_CONSOLE_IN_SIZE];
	got[n] = 0;
	__atomic_store_n(&IN->cons, cons + n, __ATOMIC_RELEASE);
	CHECK(!memcmp(got, want, n));
	got[n - 1] = 0; /* without its newline */
	printf("cin-read: got '%s'\n", got);
}

static void full(void)
{
	/* 5000 bytes come; the VMM fills the ring and then waits for room, never more. */
	CHECK(wait_used(CAP_CONSOLE_IN_SIZE));
	xtf_delay(0, 100 * MS);
	CHECK_EQ(used(), CAP_CONSOLE_IN_SIZE);
	CHECK_EQ(IN->prod, CAP_CONSOLE_IN_SIZE);
	read_all(0, 5000);
}

/* Bytes around the input ring that the VMM must never write. */
static volatile uint8_t *const gap = (volatile uint8_t *)(uintptr_t)(CAP_GPA_CONSOLE +
								    sizeof(struct cap_console_ring));
#define GAP_LEN (CAP_GPA_CONSOLE_IN - CAP_GPA_CONSOLE - sizeof(struct cap_console_ring))
static volatile uint8_t *const tail = (volatile uint8_t *)(uintptr_t)(CAP_GPA_CONSOLE_IN +
								     sizeof(struct cap_console_in));
#define TAIL_LEN (CAP_GPA_GUEST_LOW_END - CAP_GPA_CONSOLE_IN - sizeof(struct cap_console_in))

static void canaries(bool set)
{
	for (unsigned i = 0; i < GAP_LEN; i++)
		if (set)
			gap[i] = 0xa5;
		else if (gap[i] != 0xa5)
			CHECK_EQ(gap[i], 0xa5);
	for (unsigned i = 0; i < TAIL_LEN; i++)
		if (set)
			tail[i] = 0x5a;
		else if (tail[i] != 0x5a)
			CHECK_EQ(tail[i], 0x5a);
	for (unsigned i = 0; i < sizeof(IN->pad); i++)
		if (set)
			IN->pad[i] = 0xc3;
		else if (IN->pad[i] != 0xc3)
			CHECK_EQ(IN->pad[i], 0xc3);
}

static void hostile(void)
{
	static const uint32_t bad[] = {
		100,                            /* ahead of prod */
		0x80000000u,                    /* far ahead */
		(uint32_t)-(CAP_CONSOLE_IN_SIZE + 1), /* one more than the ring behind */
		(uint32_t)-5000,                /* far behind */
	};
	uint32_t prod;

	/* 3000 bytes come: the ring is full and 952 wait in the host's pipe. */
	CHECK(wait_used(CAP_CONSOLE_IN_SIZE));
	prod = IN->prod;
	CHECK_EQ(prod, CAP_CONSOLE_IN_SIZE);
	canaries(true);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* cons relative to prod: the VMM writes nothing while it is inconsistent */
		__atomic_store_n(&IN->cons, prod + bad[i], __ATOMIC_RELEASE);
		xtf_delay(0, 100 * MS);
		CHECK_EQ(IN->prod, prod);
		canaries(false);
	}
	/* A sane cons again: input resumes, and no byte was lost or overwritten. */
	__atomic_store_n(&IN->cons, 0, __ATOMIC_RELEASE);
	read_all(0, 3000);
	canaries(false);
	printf("cin-hostile: the domain kept running\n");
}

static void noflag(void)
{
	const volatile uint8_t *p = (const volatile uint8_t *)IN;
	unsigned nonzero = 0;

	CHECK_EQ(si->flags & CAP_SI_CONSOLE_INPUT, 0);
	xtf_delay(0, 100 * MS);
	for (unsigned i = 0; i < sizeof(struct cap_console_in); i++)
		nonzero += p[i] != 0;
	CHECK_EQ(nonzero, 0); /* no ring, no port, no byte */
}

void test_main(void)
{
	char part[16];

	if (!xtf_arg("part", part, sizeof(part)))
		xtf_skip("no part= on the command line");
	if (!strcmp(part, "layout"))
		layout();
	else if (!strcmp(part, "read"))
		read_line();
	else if (!strcmp(part, "full"))
		full();
	else if (!strcmp(part, "hostile"))
		hostile();
	else if (!strcmp(part, "noflag"))
		noflag();
	else
		xtf_skip("unknown part");
}
