/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suspend to RAM (S3) and resume, as a kernel does it: a waking vector in the FACS (the
 * kit's real-mode trampoline), the CMOS alarm two seconds ahead with RTC_EN as the wake
 * event, then \_S3's SLP_TYP with SLP_EN to PM1a_CNT. The machine sleeps; the firmware's
 * part (Capsule's) is to start this CPU again at the waking vector, with memory kept. The
 * resumed code checks that memory survived (a pattern, a flag) and that PM1_STS says
 * WAK_STS and RTC_STS. Needs full ACPI (capsule run --acpi full).
 */
#include "hvm.h"

#define PATTERN_WORDS 16384
#define PM1_RTC_STS (1u << 10)
#define PM1_WAK_STS (1u << 15)

static uint32_t pattern[PATTERN_WORDS];
static volatile unsigned going_to_sleep;
static uint16_t pm1a_evt;
static uint32_t vector;
static volatile uint8_t *facs;

static uint32_t word(unsigned i)
{
	return (i + 1) * 2654435761u;
}

static uint8_t bcd_add(uint8_t bcd, unsigned n, unsigned mod)
{
	unsigned v = ((bcd >> 4) * 10 + (bcd & 15) + n) % mod;

	return (uint8_t)((v / 10) << 4 | (v % 10));
}

static void resumed(unsigned id)
{
	unsigned bad = 0;
	uint16_t sts = inw(pm1a_evt);

	for (unsigned i = 0; i < PATTERN_WORDS; i++)
		bad += pattern[i] != word(i);
	printf("suspend: CPU %u resumed at the waking vector; PM1_STS 0x%x, %u of %u words "
	       "changed\n", id, sts, bad, PATTERN_WORDS);
	TEST_CHECK(going_to_sleep == 1);
	TEST_CHECK(bad == 0);
	TEST_CHECK(sts & PM1_WAK_STS);
	TEST_CHECK(sts & PM1_RTC_STS);
	TEST_CHECK(acpi_le((const uint8_t *)facs + 12, 4) == vector);
	outw(pm1a_evt, PM1_WAK_STS | PM1_RTC_STS); /* write 1 to clear */
	TEST_CHECK(!(inw(pm1a_evt) & (PM1_WAK_STS | PM1_RTC_STS)));
	test_finish(true);
}

int main(void)
{
	const uint8_t *fadt = acpi_table("FACP");
	int typ = acpi_sleep_type("_S3_");
	uint16_t pm1a_cnt;
	uint8_t sec;

	TEST_CHECK(fadt != NULL);
	TEST_CHECK(!(acpi_le(fadt + 112, 4) & FADT_HW_REDUCED));
	facs = (volatile uint8_t *)acpi_table("FACS");
	pm1a_evt = (uint16_t)acpi_le(fadt + 56, 4);
	pm1a_cnt = (uint16_t)acpi_le(fadt + 64, 4);
	printf("suspend: FACS at %p, PM1a_EVT 0x%x, PM1a_CNT 0x%x, \\_S3 SLP_TYP %d\n",
	       (void *)facs, pm1a_evt, pm1a_cnt, typ);
	TEST_CHECK(facs && !memcmp((const void *)facs, "FACS", 4));
	TEST_CHECK(pm1a_evt && pm1a_cnt && typ >= 0 && typ < 8);
	for (unsigned i = 0; i < PATTERN_WORDS; i++)
		pattern[i] = word(i);
	vector = hvm_resume_vector(resumed);
	*(volatile uint32_t *)(facs + 12) = vector; /* FIRMWARE_WAKING_VECTOR */
	/* The wake event: the CMOS alarm 2 s ahead (minutes and hours "don't care"). */
	sec = cmos_read(0);
	cmos_write(0x01, bcd_add(sec, 2, 60));
	cmos_write(0x03, 0xff);
	cmos_write(0x05, 0xff);
	cmos_write(0x0b, cmos_read(0x0b) | 0x20); /* AIE */
	outw(pm1a_evt + 2, (uint16_t)(inw(pm1a_evt + 2) | PM1_RTC_STS)); /* RTC_EN */
	outw(pm1a_evt, PM1_WAK_STS | PM1_RTC_STS);
	going_to_sleep = 1;
	printf("suspend: going to S3 (waking vector 0x%x, alarm at second %x)\n", vector,
	       bcd_add(sec, 2, 60));
	outw(pm1a_cnt, (uint16_t)(typ << 10 | 1u << 13));
	for (volatile unsigned spin = 0; spin < 10000000; spin++)
		;
	printf("suspend: still running after S3\n");
	test_finish(false);
}
