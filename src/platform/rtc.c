/* SPDX-License-Identifier: Apache-2.0 */
/* The CMOS real-time clock: the host's UTC time, in BCD and 24-hour mode. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "capsule/bus.h"
#include "capsule/platform.h"
#include "capsule/vm.h"

static uint8_t bcd(int v)
{
	return (uint8_t)((v / 10) << 4 | (v % 10));
}

void rtc_access(struct cmos *c, unsigned port, uint8_t *val, bool is_write)
{
	time_t now;
	struct tm tm;

	if (port == RTC_PORT) { /* index; bit 7 is the NMI mask */
		if (is_write)
			c->index = *val & 0x7f;
		else
			*val = 0xff;
		return;
	}
	if (is_write) {
		/* The clock registers are read-only here; the alarm (seconds, minutes, hours)
		 * and status B's alarm-interrupt enable are kept, for the wake from S3. */
		if (c->index >= 0x0e || c->index == 0x01 || c->index == 0x03 || c->index == 0x05)
			c->ram[c->index] = *val;
		else if (c->index == 0x0b)
			c->ram[0x0b] = *val & RTC_B_AIE;
		return;
	}
	now = time(NULL);
	gmtime_r(&now, &tm);
	switch (c->index) {
	case 0x00: *val = bcd(tm.tm_sec); break;
	case 0x02: *val = bcd(tm.tm_min); break;
	case 0x04: *val = bcd(tm.tm_hour); break;
	case 0x06: *val = bcd(tm.tm_wday + 1); break;
	case 0x07: *val = bcd(tm.tm_mday); break;
	case 0x08: *val = bcd(tm.tm_mon + 1); break;
	case 0x09: *val = bcd(tm.tm_year % 100); break;
	case 0x32: *val = bcd(19 + tm.tm_year / 100); break;
	case 0x0a: *val = 0x26; break; /* no update in progress, 32.768 kHz */
	case 0x0b: *val = 0x02 | (c->ram[0x0b] & RTC_B_AIE); break; /* 24-hour, BCD */
	case 0x0c: *val = 0x00; break;
	case 0x0d: *val = 0x80; break; /* battery good */
	default: *val = c->ram[c->index]; break;
	}
}

/* An alarm byte matches if it is "don't care" (0xc0 and up) or equals the time's. */
static bool alarm_match(uint8_t alarm, int now)
{
	return alarm >= 0xc0 || alarm == bcd(now);
}

bool rtc_alarm_due(const struct cmos *c)
{
	time_t now = time(NULL);
	struct tm tm;

	if (!(c->ram[0x0b] & RTC_B_AIE))
		return false;
	gmtime_r(&now, &tm);
	return alarm_match(c->ram[0x01], tm.tm_sec) && alarm_match(c->ram[0x03], tm.tm_min) &&
	       alarm_match(c->ram[0x05], tm.tm_hour);
}

static enum exit_action rtc_io(struct vcpu *v, void *opaque, uint64_t addr, uint8_t *data,
			       uint32_t len, bool is_write)
{
	(void)v;
	if (len == 1)
		rtc_access(opaque, (unsigned)addr, data, is_write);
	else if (!is_write)
		memset(data, 0xff, len);
	return EXIT_CONTINUE;
}

void rtc_init(struct cmos *c)
{
	/* glibc reads the time zone file on the first gmtime_r: whoever confines the process
	 * calls tzset() before (capsule run does), since no confined thread may open files. */
	memset(c, 0, sizeof(*c));
}

/* The clock's own registers come from the host's time; the index and the RAM are state. */
static size_t rtc_save(void *dev, uint8_t *buf, size_t cap)
{
	const struct cmos *c = dev;

	if (cap < 1 + sizeof(c->ram))
		return 0;
	buf[0] = c->index;
	memcpy(buf + 1, c->ram, sizeof(c->ram));
	return 1 + sizeof(c->ram);
}

static int rtc_restore(void *dev, const uint8_t *buf, size_t len, const char **why)
{
	struct cmos *c = dev;

	if (len != 1 + sizeof(c->ram) || buf[0] >= sizeof(c->ram)) {
		*why = "the CMOS state has the wrong size or index";
		return -EINVAL;
	}
	c->index = buf[0];
	memcpy(c->ram, buf + 1, sizeof(c->ram));
	return 0;
}

const struct platform_dev_ops rtc_ops = {
	.name = "rtc",
	.ranges = {{PLATFORM_PIO, RTC_PORT, 2}},
	.io = rtc_io,
	.save = rtc_save,
	.restore = rtc_restore,
};
