/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "capsule/log.h"
#include "capsule/vm.h"

/* The one process-wide setting: how chatty the VMM is (set once by the CLI). */
static enum log_level current_level = LOG_WARN;

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

static bool stamps; /* likewise, for launch profiles */

void log_set_stamps(bool on)
{
	stamps = on;
}

void log_stamp(const char *what)
{
	struct timespec ts;

	if (!stamps)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(stderr, "capsule: phase %s at monotonic %lld.%09ld\n", what, (long long)ts.tv_sec,
		ts.tv_nsec);
}

void log_msg(enum log_level level, const char *func, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	va_list ap;

	if (level > current_level)
		return;
	flockfile(stderr);
	if (level == LOG_DEBUG)
		fprintf(stderr, "capsule: debug: %s: ", func);
	else
		fprintf(stderr, "capsule: %s: ", names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void die(const char *fmt, ...)
{
	va_list ap;

	fputs("capsule: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(CAPSULE_EXIT_VMM_ERROR);
}
