/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ACPI PM timer, found as a kernel finds it (the FADT's PM_TMR_BLK, 24 or 32 bits by
 * TMR_VAL_EXT), must count at 3.579545 MHz: over CMOS-clock seconds (within 2%), and the
 * same against the TSC (a quarter second of PM timer is a quarter of the TSC's second).
 * Needs full ACPI (capsule run --acpi full; QEMU's pc machine).
 */
#include "hvm.h"

#define PM_HZ 3579545u

static uint16_t port;
static uint32_t mask;

static uint32_t pm_read(void)
{
	return inl(port) & mask;
}

/* Spin until the CMOS seconds change; the PM timer and the TSC right then. */
static void second_edge(uint32_t *pm, uint64_t *tsc)
{
	uint8_t s = cmos_read(0);

	while (cmos_read(0) == s)
		;
	*pm = pm_read();
	*tsc = rdtsc();
}

static bool near(uint64_t got, uint64_t want)
{
	return got > want - want / 50 && got < want + want / 50;
}

int main(void)
{
	const uint8_t *fadt = acpi_table("FACP");
	uint32_t flags, t[3], start, now, prev, backwards = 0;
	uint64_t c[3], c0, c1, tsc_hz;

	TEST_CHECK(fadt != NULL);
	flags = (uint32_t)acpi_le(fadt + 112, 4);
	port = (uint16_t)acpi_le(fadt + 76, 4);
	if (acpi_le(fadt + 4, 4) >= 220 && fadt[208] == 1 && acpi_le(fadt + 212, 8))
		port = (uint16_t)acpi_le(fadt + 212, 8); /* X_PM_TMR_BLK, SystemIO */
	mask = flags & (1u << 8) ? 0xffffffffu : 0xffffffu;
	printf("pmtimer: PM_TMR_BLK 0x%x, %u bits, FADT flags 0x%x\n", port,
	       mask == 0xffffffffu ? 32 : 24, flags);
	TEST_CHECK(!(flags & FADT_HW_REDUCED));
	TEST_CHECK(port != 0);
	prev = pm_read();
	for (unsigned i = 0; i < 1000; i++, prev = now) {
		now = pm_read();
		backwards += ((now - prev) & mask) > mask / 2;
	}
	TEST_CHECK(backwards == 0);
	second_edge(&t[0], &c[0]);
	second_edge(&t[1], &c[1]);
	second_edge(&t[2], &c[2]);
	printf("pmtimer: %u and %u ticks in two CMOS seconds\n", (t[1] - t[0]) & mask,
	       (t[2] - t[1]) & mask);
	TEST_CHECK(near((t[1] - t[0]) & mask, PM_HZ));
	TEST_CHECK(near((t[2] - t[1]) & mask, PM_HZ));
	tsc_hz = c[2] - c[1];
	start = pm_read();
	c0 = rdtsc();
	while (((pm_read() - start) & mask) < PM_HZ / 4)
		;
	c1 = rdtsc();
	printf("pmtimer: TSC %llu Hz; a quarter second of PM timer is %llu TSC ticks\n",
	       (unsigned long long)tsc_hz, (unsigned long long)(c1 - c0));
	TEST_CHECK(near((c1 - c0) * 4, tsc_hz));
	test_finish(true);
}
