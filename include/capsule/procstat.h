/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /proc/PID/stat, read once and parsed after the process's name (which may hold anything,
 * spaces and ')' included, but nothing after its last ')'): for capsuled and capsule-oci,
 * which both tell their VMMs from a reused pid by the start time.
 */
#ifndef CAPSULE_PROCSTAT_H
#define CAPSULE_PROCSTAT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The fields from the state (the 3rd) on, in buf: a pointer into it, or NULL. */
const char *proc_stat_fields(pid_t pid, char *buf, size_t len);
/* The start time (field 22, clock ticks since boot); 0 if no such process, or a zombie. */
uint64_t proc_start_time(pid_t pid);

#endif
