/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runc's logging, which containerd's shim reads back: --log FILE gets one line per
 * message, as JSON ({"level":"error","msg":"...","time":"..."}) with --log-format json;
 * the shim reports the last error line when a command fails. Errors go to stderr too.
 * The one process-wide setting of this short-lived program is where the log goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capsule/oci.h"

static struct {
	int fd;
	bool json, debug;
} log_to = {.fd = -1};

void oci_log_init(const struct oci_opts *o)
{
	log_to.json = o->log_json;
	log_to.debug = o->debug;
	if (o->log) {
		log_to.fd = open(o->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (log_to.fd < 0)
			fprintf(stderr, "capsule-oci: cannot open the log %s: %s\n", o->log,
				strerror(errno));
	}
}

static void log_line(const char *level, const char *msg)
{
	char when[40], *line = NULL;
	struct timespec ts;
	struct tm tm;

	if (log_to.fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (log_to.json) {
		json_t *j = json_pack("{s:s, s:s, s:s}", "level", level, "msg", msg, "time", when);

		line = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (line)
			dprintf(log_to.fd, "%s\n", line);
		free(line);
	} else {
		dprintf(log_to.fd, "time=\"%s\" level=%s msg=\"%s\"\n", when, level, msg);
	}
}

static void vlog(const char *level, const char *fmt, va_list ap)
{
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_line(level, msg);
	if (!strcmp(level, "error") || (log_to.debug && log_to.fd < 0))
		fprintf(stderr, "capsule-oci: %s\n", msg);
}

void oci_log(const char *level, const char *fmt, ...)
{
	va_list ap;

	if (!strcmp(level, "debug") && !log_to.debug)
		return;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

int oci_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("error", fmt, ap);
	va_end(ap);
	return 1;
}
