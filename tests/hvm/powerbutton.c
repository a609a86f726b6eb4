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
 * With full ACPI (capsule run --acpi full) the button is the FADT's fixed power button
 * instead: the kernel sets PWRBTN_EN, routes the SCI (the FADT's SCI_INT; level, active high
 * as the MADT's override says) and, in the handler as Linux's SCI handler does, reads
 * PM1_STS and clears PWRBTN_STS by writing it back (the line must then drop: a level
 * interrupt that stayed up would come back for ever). Then S5 through PM1a_CNT.
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

#define VEC_SCI 0x52
#define PM1_PWRBTN (1u << 8)

static volatile unsigned presses, ticks;
static uint16_t pm1a_evt;
static volatile uint16_t sci_status;

/* Full ACPI's SCI: take the status, clear what was set (write 1 to clear). */
static void on_sci(struct isr_frame *f)
{
	uint16_t sts = inw(pm1a_evt);

	(void)f;
	sci_status |= sts;
	outw(pm1a_evt, sts);
	presses++;
}

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

/* The fixed power button of full ACPI, then S5 through PM1a_CNT. */
static noreturn void full_acpi(const uint8_t *fadt, bool ignore)
{
	uint16_t pm1a_cnt = (uint16_t)acpi_le(fadt + 64, 4), after;
	unsigned sci = (unsigned)acpi_le(fadt + 46, 2);
	int s5 = acpi_sleep_type("_S5_");

	pm1a_evt = (uint16_t)acpi_le(fadt + 56, 4);
	printf("powerbutton: full ACPI: PM1a_EVT 0x%x, SCI %u\n", pm1a_evt, sci);
	TEST_CHECK(pm1a_evt && pm1a_cnt && sci && s5 >= 0);
	TEST_CHECK(!(inw(pm1a_evt) & PM1_PWRBTN)); /* nobody has pressed it yet */
	isr_register(VEC_SCI, on_sci);
	isr_register(VEC_TIMER, on_tick);
	if (!ignore) {
		outw(pm1a_evt + 2, PM1_PWRBTN); /* PWRBTN_EN */
		ioapic_route(sci, VEC_SCI, lapic_id(), true);
	}
	lapic_timer_periodic(VEC_TIMER, 10000000);
	printf("powerbutton: waiting%s\n", ignore ? " (ignoring the button)" : "");
	while (!presses && ticks < WAIT_TICKS)
		__asm__ volatile("sti; hlt; cli");
	if (ignore) {
		printf("powerbutton: still running after %u ticks\n", ticks);
		test_finish(false);
	}
	lapic_write(0x320, 1u << 16);
	after = inw(pm1a_evt);
	printf("powerbutton: %u SCI(s) after %u ticks; PM1_STS 0x%x in the handler, then 0x%x\n",
	       presses, ticks, sci_status, after);
	TEST_CHECK(presses == 1); /* one press, one interrupt: the line dropped when cleared */
	TEST_CHECK(sci_status & PM1_PWRBTN);
	TEST_CHECK(!(after & PM1_PWRBTN));
	printf("powerbutton: the power button was pressed\n");
	printf("powerbutton: powering off: S5 (SLP_TYP %d) to PM1a_CNT at 0x%x\n", s5, pm1a_cnt);
	printf("Test result: SUCCESS\n");
	outw(pm1a_cnt, (uint16_t)(s5 << 10 | 1u << 13));
	printf("powerbutton: still running after S5\n");
	test_finish(false);
}

int main(void)
{
	bool ignore = strstr(hvm_boot.cmdline, "ignore") != NULL;
	const uint8_t *fadt = acpi_table("FACP");
	uint32_t first, second;
	uint16_t port;

	if (fadt && !(acpi_le(fadt + 112, 4) & FADT_HW_REDUCED))
		full_acpi(fadt, ignore);

	isr_register(VEC_GED, on_ged);
	isr_register(VEC_TIMER, on_tick);
	first = ged_events();
	TEST_CHECK(first == 0); /* nobody has pressed it yet */
	if (!ignore)
		ioapic_route(GED_GSI, VEC_GED, lapic_id(), false);
	lapic_timer_periodic(VEC_TIMER, 10000000);
	printf("powerbutton: waiting%s\n", ignore ? " (ignoring the button)" : "");
	/* The GED has other events too (bit 1: a new VM generation ID, after a restore):
	 * each interrupt's events are taken, as _EVT does, until the button's. */
	first = 0;
	while (!(first & GED_POWER_BUTTON) && ticks < WAIT_TICKS) {
		__asm__ volatile("sti; hlt; cli");
		if (presses)
			first |= ged_events();
	}
	if (ignore) {
		/* The host should have destroyed us long ago. */
		printf("powerbutton: still running after %u ticks\n", ticks);
		test_finish(false);
	}
	lapic_write(0x320, 1u << 16); /* mask the timer */
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
