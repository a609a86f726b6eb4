/* SPDX-License-Identifier: Apache-2.0 */
/* The CMOS clock reads the host's date (the command line says which: YYYY-MM-DD). */
#include "hvm.h"

static unsigned bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 15);
}

int main(void)
{
	unsigned century = bcd(cmos_read(0x32)), year = bcd(cmos_read(0x09));
	unsigned month = bcd(cmos_read(0x08)), day = bcd(cmos_read(0x07));
	unsigned hour = bcd(cmos_read(0x04)), min = bcd(cmos_read(0x02));
	char date[16];

	snprintf(date, sizeof(date), "%02u%02u-%02u-%02u", century, year, month, day);
	printf("rtc: %s %02u:%02u UTC, status B 0x%x\n", date, hour, min, cmos_read(0x0b));
	TEST_CHECK(!strncmp(date, hvm_boot.cmdline, 10));
	TEST_CHECK(hour < 24 && min < 60);
	TEST_CHECK(cmos_read(0x0d) & 0x80); /* valid RAM and time */
	test_finish(true);
}
