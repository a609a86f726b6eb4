/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ACPI power button, from the guest's side of the plumbing: what Linux's GED driver
 * does without the AML. The kernel routes the GED's GSI through the IOAPIC (edge, active
 * high, as the DSDT's _CRS says), says it is waiting, sleeps until the interrupt, and reads
 * the event register as _EVT does: bit 0 is the power button, and the read clears it.
 * The host presses the button (capsule control SOCK shutdown). The LAPIC timer bounds the
 * wait so that a button that never comes fails instead of hanging.
 *
 * Then it turns the machine off as Linux does on hardware-reduced ACPI: SLP_TYP 5 (\_S5)
 * with SLP_EN to the sleep control register that the FADT names (found from the RSDP, as
 * a kernel finds it), so the domain powers off with code 0.
 *
 * "ignore" on the command line: take no notice of the button, as a guest without ACPI
 * would, so that the host has to destroy it after the grace time.
 */
#include "hvm.h"

/* Where Capsule puts them (include/capsule/hvm.h: HVM_GED, HVM_GED_GSI); the DSDT says
 * the same, but a test kernel has no AML interpreter to ask it. */
#define GED_EVENTS 0xfeb00000ul
#define GED_GSI 16
#define GED_POWER_BUTTON 1u
#define VEC_GED 0x51
#define VEC_TIMER 0x40
#define WAIT_TICKS 3000 /* of 10 ms: 30 s, longer than any grace time the tests give */

static volatile unsigned presses, ticks;

static void on_ged(struct isr_frame *f)
{
	(void)f;
	presses++;
}

static void on_tick(struct isr_frame *f)
{
	(void)f;
	ticks++;
}

static uint32_t ged_events(void)
{
	return *(volatile uint32_t *)GED_EVENTS;
}

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

/* The FADT's SLEEP_CONTROL_REG (a SystemIO port), or 0: RSDP in 0xe0000-0xfffff, its
 * XSDT, the FACP among the XSDT's tables. */
static uint16_t sleep_control_port(void)
{
	for (uintptr_t p = 0xe0000; p < 0x100000; p += 16) {
		const uint8_t *rsdp = (const uint8_t *)p, *xsdt;

		if (memcmp(rsdp, "RSD PTR ", 8))
			continue;
		xsdt = (const uint8_t *)(uintptr_t)le(rsdp + 24, 8);
		for (uint32_t off = 36; off + 8 <= le(xsdt + 4, 4); off += 8) {
			const uint8_t *t = (const uint8_t *)(uintptr_t)le(xsdt + off, 8);

			if (!memcmp(t, "FACP", 4) && le(t + 4, 4) >= 256 && t[244] == 1)
				return (uint16_t)le(t + 248, 8);
		}
	}
	return 0;
}

int main(void)
{
	bool ignore = strstr(hvm_boot.cmdline, "ignore") != NULL;
	uint32_t first, second;
	uint16_t port;

	isr_register(VEC_GED, on_ged);
	isr_register(VEC_TIMER, on_tick);
	first = ged_events();
	TEST_CHECK(first == 0); /* nobody has pressed it yet */
	if (!ignore)
		ioapic_route(GED_GSI, VEC_GED, lapic_id(), false);
	lapic_timer_periodic(VEC_TIMER, 10000000);
	printf("powerbutton: waiting%s\n", ignore ? " (ignoring the button)" : "");
	while (!presses && ticks < WAIT_TICKS)
		__asm__ volatile("sti; hlt; cli");
	if (ignore) {
		/* The host should have destroyed us long ago. */
		printf("powerbutton: still running after %u ticks\n", ticks);
		test_finish(false);
	}
	lapic_write(0x320, 1u << 16); /* mask the timer */
	first = ged_events();
	second = ged_events();
	printf("powerbutton: %u interrupt(s) after %u ticks; events 0x%x, then 0x%x\n", presses,
	       ticks, first, second);
	TEST_CHECK(presses >= 1);
	TEST_CHECK(first & GED_POWER_BUTTON);
	TEST_CHECK(second == 0); /* the read cleared it */
	printf("powerbutton: the power button was pressed\n");
	port = sleep_control_port();
	printf("powerbutton: powering off: S5 to the sleep control register at 0x%x\n", port);
	TEST_CHECK(port != 0);
	printf("Test result: SUCCESS\n");
	outb(port, 5 << 2 | 0x20); /* SLP_TYP 5, SLP_EN */
	printf("powerbutton: still running after S5\n");
	test_finish(false);
}
