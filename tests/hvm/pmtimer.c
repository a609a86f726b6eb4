/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ACPI PM timer, found as a kernel finds it (the FADT's PM_TMR_BLK, 24 or 32 bits by
 * TMR_VAL_EXT), must count at 3.579545 MHz. Measured against clocks read in the same
 * instant, so that a vCPU the host does not run for a while (a shared host) changes
 * nothing: the local APIC timer's count (KVM's APIC timer counts nanoseconds at divide 1)
 * and the TSC. Over half a second the PM timer must advance 3.579545 MHz x the APIC's time
 * within 2%, and its rate against the TSC must be the same (within 2%) over a second window
 * of a quarter second. Needs full ACPI (capsule run --acpi full; QEMU's pc machine).
 */
#include "hvm.h"

#define PM_HZ 3579545u
#define LAPIC_TIMER 0x320
#define LAPIC_INITIAL 0x380
#define LAPIC_CURRENT 0x390
#define LAPIC_DIVIDE 0x3e0

static uint16_t port;
static uint32_t mask;

static uint32_t pm_read(void)
{
	return inl(port) & mask;
}

struct sample {
	uint32_t pm, apic; /* the APIC count goes down, a nanosecond a tick */
	uint64_t tsc;
};

/* The three clocks at one instant: retried if the vCPU was away in between. */
static struct sample take(void)
{
	struct sample s;

	for (int tries = 0; tries < 100; tries++) {
		uint32_t before = lapic_read(LAPIC_CURRENT);

		s.tsc = rdtsc();
		s.pm = pm_read();
		s.apic = lapic_read(LAPIC_CURRENT);
		if (before - s.apic < 200000) /* within 200 us */
			break;
	}
	return s;
}

static bool near(uint64_t got, uint64_t want)
{
	return got > want - want / 50 && got < want + want / 50;
}

int main(void)
{
	const uint8_t *fadt = acpi_table("FACP");
	uint32_t flags, now, prev, backwards = 0;
	struct sample a, b, c;
	uint64_t ns1, ns2, pm1, pm2, hz, tsc_hz, per_tsc1, per_tsc2;

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
	/* The APIC timer as a clock: one-shot, masked, divide 1, from the top (4.29 s). */
	lapic_write(LAPIC_DIVIDE, 0xb);
	lapic_write(LAPIC_TIMER, 1u << 16);
	lapic_write(LAPIC_INITIAL, 0xffffffffu);
	a = take();
	while (((pm_read() - a.pm) & mask) < PM_HZ / 2)
		;
	b = take();
	while (((pm_read() - b.pm) & mask) < PM_HZ / 4)
		;
	c = take();
	ns1 = a.apic - b.apic, ns2 = b.apic - c.apic;
	pm1 = (b.pm - a.pm) & mask, pm2 = (c.pm - b.pm) & mask;
	hz = pm1 * 1000000000ull / ns1;
	tsc_hz = (b.tsc - a.tsc) * 1000000000ull / ns1;
	printf("pmtimer: %llu ticks in %llu us of APIC time: %llu Hz; TSC %llu Hz\n",
	       (unsigned long long)pm1, (unsigned long long)(ns1 / 1000), (unsigned long long)hz,
	       (unsigned long long)tsc_hz);
	TEST_CHECK(near(hz, PM_HZ));
	/* Against the TSC: PM ticks per million TSC ticks, the same in both windows. */
	per_tsc1 = pm1 * 1000000ull / (b.tsc - a.tsc);
	per_tsc2 = pm2 * 1000000ull / (c.tsc - b.tsc);
	printf("pmtimer: %llu and %llu PM ticks per million TSC ticks (%llu us, then %llu us)\n",
	       (unsigned long long)per_tsc1, (unsigned long long)per_tsc2,
	       (unsigned long long)(ns1 / 1000), (unsigned long long)(ns2 / 1000));
	TEST_CHECK(near(per_tsc2, per_tsc1));
	TEST_CHECK(near(per_tsc1 * tsc_hz / 1000000, PM_HZ));
	test_finish(true);
}
