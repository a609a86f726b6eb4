/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Full ACPI without KVM: the tables of the full profile (iasl must disassemble them: the
 * FADT's PM1a blocks, PM timer, SCI and FACS, the FACS, the MADT's SCI override, \_S3 and
 * \_S5 and no GED in the DSDT), and acpi_pm's registers: the timer's rate and width, PM1
 * status write-1-to-clear, enables, SLP_TYP kept, SCI_EN fixed, the RTC alarm, and its
 * state's round trip with hostile states refused. And the MP table, for kernels without ACPI.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule/hvm.h"

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* One table through iasl -d; the disassembly (static buffer). */
static char *disassemble(const uint8_t *table, size_t len, const char *name)
{
	char dir[] = "/tmp/capsule-acpi-XXXXXX", path[256], cmd[512];
	static char text[65536];
	size_t n;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	f = fopen(path, "wb");
	fwrite(table, 1, len, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -d %s.dat >iasl.log 2>&1", dir, name);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/%s.dsl", dir, name);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = 0;
	fclose(f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	if (getenv("SHOW_DSL"))
		fputs(text, stderr);
	return text;
}

/* "Label : value" on one line of iasl's table dump. */
static void field(const char *dsl, const char *label, const char *value)
{
	const char *p = strstr(dsl, label), *eol;

	if (!p)
		fail_msg("no \"%s\" in the disassembly", label);
	eol = strchr(p, '\n');
	if (!eol || !strstr(p, value) || strstr(p, value) > eol)
		fail_msg("\"%s\" is not \"%s\": %.*s", label, value, (int)(eol ? eol - p : 80), p);
}

static void full_tables(void **state)
{
	struct vm_config cfg = {.mem_bytes = 64 << 20, .nr_vcpus = 2};
	static struct hvm_domain h;
	uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt, *facs;
	struct vm vm;
	char *dsl;

	(void)state;
	assert_int_equal(vm_init_nokvm(&vm, &cfg), 0);
	memset(&h, 0, sizeof(h));
	h.vm = &vm;
	h.acpi = HVM_ACPI_FULL;
	h.devices[0].dev.base = HVM_VIRTIO_BASE;
	h.devices[0].gsi = hvm_device_gsi(HVM_ACPI_FULL, 0);
	h.nr_devices = 1;
	for (unsigned i = 0; i < HVM_MAX_DEVICES; i++) /* the SCI's GSI is not a device's */
		assert_int_not_equal(hvm_device_gsi(HVM_ACPI_FULL, i), ACPI_SCI_GSI);
	assert_int_equal(acpi_build(&h), 0);
	rsdp = gmem_ptr(&vm.mem, h.rsdp, 36);
	xsdt = gmem_ptr(&vm.mem, le32(rsdp + 24), 36);
	fadt = gmem_ptr(&vm.mem, le32(xsdt + 36), 276);
	madt = gmem_ptr(&vm.mem, le32(xsdt + 44), 36);
	dsdt = gmem_ptr(&vm.mem, le32(fadt + 40), 36);
	facs = gmem_ptr(&vm.mem, le32(fadt + 36), 64);
	assert_non_null(facs);
	assert_int_equal(h.pm.facs, le32(fadt + 36));
	assert_int_equal(h.pm.facs % 64, 0);
	assert_memory_equal(facs, "FACS", 4);
	for (uint8_t *t = xsdt; t; t = t == xsdt ? fadt : t == fadt ? madt : t == madt ? dsdt : NULL)
		assert_int_equal(sum(t, le32(t + 4)), 0);

	dsl = disassemble(fadt, le32(fadt + 4), "facp");
	field(dsl, "Hardware Reduced (V5)", ": 0");
	field(dsl, "SCI Interrupt", ": 0009");
	field(dsl, "PM1A Event Block Address", ": 0000B000");
	field(dsl, "PM1A Control Block Address", ": 0000B004");
	field(dsl, "PM Timer Block Address", ": 0000B008");
	field(dsl, "PM1 Event Block Length", ": 04");
	field(dsl, "PM1 Control Block Length", ": 02");
	field(dsl, "PM Timer Block Length", ": 04");
	field(dsl, "32-bit PM Timer (V1)", ": 1");
	field(dsl, "Power Button (V1)", ": 0"); /* 0: a fixed power button is present */
	field(dsl, "FACS Address", ": ");
	field(dsl, "RTC Century Index", ": 32");
	field(dsl, "Reset Register Supported (V2)", ": 1");
	const char *tmr = strstr(dsl, "PM Timer Block :");
	assert_non_null(tmr);
	field(tmr, "Address :", "000000000000B008");
	field(tmr, "Bit Width", ": 20");
	const char *slp = strstr(dsl, "Sleep Control Register :"); /* none: that is reduced ACPI's */
	assert_non_null(slp);
	field(slp, "Space ID", ": 00");
	field(slp, "Address :", "0000000000000000");

	dsl = disassemble(facs, 64, "facs");
	field(dsl, "Signature :", "\"FACS\"");
	field(dsl, "Length :", "00000040");
	field(dsl, "32 Firmware Waking Vector :", "00000000");
	field(dsl, "Version :", "02");

	dsl = disassemble(madt, le32(madt + 4), "apic");
	char *iso = strstr(dsl, "Interrupt Source Override");
	assert_non_null(iso);
	field(iso, "Source :", "09");
	field(iso, "Interrupt :", "00000009");
	field(iso, "Polarity :", "1");
	field(iso, "Trigger Mode :", "3");

	dsl = disassemble(dsdt, le32(dsdt + 4), "dsdt");
	char *s3 = strstr(dsl, "Name (_S3, Package (0x02)");
	assert_non_null(s3);
	assert_non_null(strstr(s3, "One"));
	assert_non_null(strstr(dsl, "Name (_S5, Package (0x02)"));
	/* The fixed power button, not a control-method one; the GED serves the VM generation
	 * ID alone, whose device (VMGENCTR, ADDR) is there as in the reduced profile. */
	assert_null(strstr(dsl, "PNP0C0C"));
	assert_null(strstr(dsl, "Notify (\\_SB.PWRB"));
	assert_non_null(strstr(dsl, "ACPI0013"));
	assert_non_null(strstr(dsl, "Notify (\\_SB.VGEN, 0x80)"));
	assert_non_null(strstr(dsl, "Name (_HID, \"VMGENCTR\")"));
	assert_non_null(strstr(dsl, "Method (ADDR, 0, NotSerialized)"));
	assert_non_null(strstr(dsl, "Device (VR00)"));
	vm_destroy(&vm);
}

static uint32_t rd(struct acpi_pm *pm, uint16_t port, uint32_t len)
{
	uint8_t b[4] = {0};

	acpi_pm_access(pm, port, b, len, false);
	return le32(b);
}

static void wr(struct acpi_pm *pm, uint16_t port, uint32_t v, uint32_t len)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	acpi_pm_access(pm, port, b, len, true);
}

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void pm_registers(void **state)
{
	struct vm_config cfg = {.mem_bytes = 16 << 20, .nr_vcpus = 1};
	struct timespec ts = {0, 100 * 1000 * 1000};
	uint32_t t0, t1, b0, b1;
	uint64_t m0a, m0b, m1a, m1b;
	struct acpi_pm pm;
	struct cmos c;
	struct vm vm;

	(void)state;
	assert_int_equal(vm_init_nokvm(&vm, &cfg), 0);
	rtc_init(&c);
	acpi_pm_init(&pm, &vm, &c);
	/* the timer: 3.579545 MHz, 32 bits wide, read whole or in bytes. Its ticks between
	 * two reads lie between what the host clock says passed between the inner and the
	 * outer brackets of those reads (a tick either way), however late the test runs. */
	m0a = mono_ns();
	t0 = rd(&pm, ACPI_PM_TMR, 4);
	m0b = mono_ns();
	nanosleep(&ts, NULL);
	m1a = mono_ns();
	t1 = rd(&pm, ACPI_PM_TMR, 4);
	m1b = mono_ns();
	assert_in_range(t1 - t0, (m1a - m0b) * ACPI_PM_TIMER_HZ / 1000000000ull - 1,
			(m1b - m0a) * ACPI_PM_TIMER_HZ / 1000000000ull + 1);
	assert_true(t1 - t0 >= ACPI_PM_TIMER_HZ / 10 - 1); /* it ran: 100 ms at least */
	b0 = rd(&pm, ACPI_PM_TMR + 3, 1);
	b1 = rd(&pm, ACPI_PM_TMR, 4) >> 24;
	assert_true(b1 - b0 <= 1);
	/* PM1_CNT: SCI_EN reads 1 and stays; SLP_TYP is kept, SLP_EN is not */
	assert_int_equal(rd(&pm, ACPI_PM1_CNT, 2), PM1_CNT_SCI_EN);
	wr(&pm, ACPI_PM1_CNT, 3u << 10, 2);
	assert_int_equal(rd(&pm, ACPI_PM1_CNT, 2), (3u << 10) | PM1_CNT_SCI_EN);
	wr(&pm, ACPI_PM1_CNT, 0, 2);
	assert_int_equal(rd(&pm, ACPI_PM1_CNT, 2), PM1_CNT_SCI_EN);
	/* the power button: status set, cleared by writing 1, enable kept; the SCI follows */
	assert_int_equal(rd(&pm, ACPI_PM1_EVT, 2) & PM1_PWRBTN_STS, 0);
	wr(&pm, ACPI_PM1_EVT + 2, PM1_PWRBTN_STS | 0x0020, 2); /* GBL_EN is not offered */
	assert_int_equal(rd(&pm, ACPI_PM1_EVT + 2, 2), PM1_PWRBTN_STS);
	assert_false(pm.sci);
	assert_int_equal(acpi_pm_power_button(&pm), 0);
	assert_true(pm.sci);
	assert_int_equal(rd(&pm, ACPI_PM1_EVT, 4) & 0xffff & PM1_PWRBTN_STS, PM1_PWRBTN_STS);
	assert_int_equal(rd(&pm, ACPI_PM1_EVT, 4) >> 16, PM1_PWRBTN_STS); /* PM1_EN in a dword */
	wr(&pm, ACPI_PM1_EVT, PM1_RTC_STS, 2); /* clears only what is written */
	assert_true(pm.sci);
	wr(&pm, ACPI_PM1_EVT, PM1_PWRBTN_STS, 2);
	assert_int_equal(rd(&pm, ACPI_PM1_EVT, 2) & PM1_PWRBTN_STS, 0);
	assert_false(pm.sci);
	/* disabled: a press sets the status, raises nothing */
	wr(&pm, ACPI_PM1_EVT + 2, 0, 2);
	acpi_pm_power_button(&pm);
	assert_false(pm.sci);
	/* past the block: all ones; writes there change nothing */
	assert_int_equal(rd(&pm, ACPI_PM_TMR + 2, 4) >> 16, 0xffff);
	/* the CMOS alarm: off until AIE; then "don't care" bytes match any time */
	uint8_t v = 0xff;
	c.index = 0x01, rtc_access(&c, 0x71, &v, true);
	c.index = 0x03, rtc_access(&c, 0x71, &v, true);
	c.index = 0x05, rtc_access(&c, 0x71, &v, true);
	assert_false(rtc_alarm_due(&c));
	v = RTC_B_AIE | 0x80;
	c.index = 0x0b, rtc_access(&c, 0x71, &v, true);
	c.index = 0x0b, rtc_access(&c, 0x71, &v, false);
	assert_int_equal(v, 0x02 | RTC_B_AIE); /* the clock's format bits stay */
	assert_true(rtc_alarm_due(&c));
	v = 0x99; /* second 99 never comes */
	c.index = 0x01, rtc_access(&c, 0x71, &v, true);
	assert_false(rtc_alarm_due(&c));
	acpi_pm_destroy(&pm);
	vm_destroy(&vm);
}

static void pm_state(void **state)
{
	struct vm_config cfg = {.mem_bytes = 16 << 20, .nr_vcpus = 1};
	uint8_t saved[PLATFORM_STATE_MAX], bad[PLATFORM_STATE_MAX];
	struct platform_dev pd, fresh;
	struct acpi_pm pm, pm2;
	const char *why = NULL;
	struct cmos c;
	struct vm vm;
	size_t n;

	(void)state;
	assert_int_equal(vm_init_nokvm(&vm, &cfg), 0);
	rtc_init(&c);
	acpi_pm_init(&pm, &vm, &c);
	acpi_pm_init(&pm2, &vm, &c);
	assert_int_equal(platform_add(&pd, &vm, &acpi_pm_ops, &pm), 0);
	assert_non_null(bus_find(&vm.pio, ACPI_PM_TMR + 3, 1));
	wr(&pm, ACPI_PM1_EVT + 2, PM1_PWRBTN_STS | PM1_RTC_STS, 2);
	wr(&pm, ACPI_PM1_CNT, 5u << 10, 2);
	acpi_pm_power_button(&pm);
	pm.tmr_offset += 1000000000; /* the timer far from the new device's */
	n = platform_save(&pd, saved, sizeof(saved));
	assert_true(n > 0 && n <= PLATFORM_STATE_MAX);
	fresh = (struct platform_dev){.ops = &acpi_pm_ops, .dev = &pm2};
	assert_int_equal(platform_restore(&fresh, saved, n, &why), 0);
	assert_int_equal(rd(&pm2, ACPI_PM1_EVT, 4), rd(&pm, ACPI_PM1_EVT, 4));
	assert_int_equal(rd(&pm2, ACPI_PM1_CNT, 2), (5u << 10) | PM1_CNT_SCI_EN);
	assert_true(pm2.sci);
	uint32_t restored = rd(&pm2, ACPI_PM_TMR, 4), original = rd(&pm, ACPI_PM_TMR, 4);
	assert_true(original - restored < ACPI_PM_TIMER_HZ); /* it went on from the saved value */
	/* hostile: the wrong size, status or enable bits it has not, SCI_EN off */
	assert_int_equal(platform_restore(&fresh, saved, n - 1, &why), -EINVAL);
	assert_non_null(strstr(why, "size"));
	static const unsigned offsets[] = {1, 3, 5, 4, 6};
	static const uint8_t values[] = {0x40, 0x80, 0x80, 0x00, 0x01};
	for (unsigned i = 0; i < 5; i++) {
		memcpy(bad, saved, n);
		bad[offsets[i]] = values[i];
		why = NULL;
		assert_int_equal(platform_restore(&fresh, bad, n, &why), -EINVAL);
		assert_non_null(why);
	}
	/* refused states changed nothing */
	assert_int_equal(rd(&pm2, ACPI_PM1_CNT, 2), (5u << 10) | PM1_CNT_SCI_EN);
	platform_remove(&pd, &vm);
	assert_null(bus_find(&vm.pio, ACPI_PM_TMR, 1));
	acpi_pm_destroy(&pm);
	acpi_pm_destroy(&pm2);
	vm_destroy(&vm);
}

static uint8_t sum8(const uint8_t *p, size_t n)
{
	return sum(p, n);
}

/* The MP table: where kernels scan, checksums, and what the MADT says. */
static void mp_table(void **state)
{
	struct vm_config cfg = {.mem_bytes = 64 << 20, .nr_vcpus = 3};
	static struct hvm_domain h;
	unsigned cpus = 0, bsp = 0, irqs = 0, lints = 0, buses = 0, ioapics = 0;
	uint8_t *fp, *t, *e;
	struct vm vm;

	(void)state;
	assert_int_equal(vm_init_nokvm(&vm, &cfg), 0);
	memset(&h, 0, sizeof(h));
	h.vm = &vm;
	assert_int_equal(acpi_build(&h), 0);
	fp = gmem_ptr(&vm.mem, HVM_MPTABLE, 16);
	assert_true(HVM_MPTABLE >= 0xf0000 && HVM_MPTABLE % 16 == 0); /* where Linux scans */
	assert_memory_equal(fp, "_MP_", 4);
	assert_int_equal(sum8(fp, 16), 0);
	assert_int_equal(fp[8], 1);
	assert_int_equal(fp[9], 4);
	assert_int_equal(fp[11], 0); /* a table follows, not a default configuration */
	t = gmem_ptr(&vm.mem, le32(fp + 4), 44);
	assert_non_null(t);
	assert_memory_equal(t, "PCMP", 4);
	uint16_t len = (uint16_t)(t[4] | t[5] << 8), n = (uint16_t)(t[34] | t[35] << 8);
	assert_int_equal(sum8(t, len), 0);
	assert_int_equal(le32(t + 36), HVM_LAPIC);
	e = t + 44;
	for (unsigned i = 0; i < n; i++) {
		assert_true(e < t + len);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], cpus);
			bsp += (e[3] & 2) != 0;
			assert_true(e[3] & 1);
			cpus++, e += 20;
			break;
		case 1:
			assert_memory_equal(e + 2, "ISA   ", 6);
			buses++, e += 8;
			break;
		case 2:
			assert_int_equal(e[1], 3); /* after the vCPUs' APIC IDs */
			assert_int_equal(le32(e + 4), HVM_IOAPIC);
			ioapics++, e += 8;
			break;
		case 3:
			assert_int_not_equal(e[5], 2);
			assert_int_equal(e[5], e[7]); /* IRQ n on pin n, as the MADT has it */
			assert_int_equal(e[6], 3);
			irqs++, e += 8;
			break;
		case 4:
			assert_int_equal(e[1], e[7] ? 1 : 3); /* LINT1 NMI, LINT0 ExtINT */
			lints++, e += 8;
			break;
		default:
			fail_msg("MP entry type %u", e[0]);
		}
	}
	assert_ptr_equal(e, t + len);
	assert_int_equal(cpus, 3);
	assert_int_equal(bsp, 1);
	assert_int_equal(buses, 1);
	assert_int_equal(ioapics, 1);
	assert_int_equal(irqs, 15);
	assert_int_equal(lints, 2);
	vm_destroy(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_tables),
		cmocka_unit_test(mp_table),
		cmocka_unit_test(pm_registers),
		cmocka_unit_test(pm_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
