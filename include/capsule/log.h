/* SPDX-License-Identifier: Apache-2.0 */
/* One logging API for the VMM: levels, printf checking, debug lines name the function. */
#ifndef CAPSULE_LOG_H
#define CAPSULE_LOG_H

#include <stdbool.h>
#include <stdnoreturn.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_msg(enum log_level level, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Launch phases (CAPSULE_STAMP_PHASES=1, bench/launch_phases.py): with stamps on, print
 * "capsule: phase WHAT at monotonic S.NNNNNNNNN" on stderr; off, nothing. Set once by the CLI. */
void log_set_stamps(bool on);
void log_stamp(const char *what);
/* Setup-time only: print "capsule: <message>" and exit with CAPSULE_EXIT_VMM_ERROR. */
noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_err(...) log_msg(LOG_ERROR, __func__, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __func__, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __func__, __VA_ARGS__)
#define log_debug(...)                                                                     \
	do {                                                                               \
		if (log_get_level() >= LOG_DEBUG)                                          \
			log_msg(LOG_DEBUG, __func__, __VA_ARGS__);                         \
	} while (0)

#endif
