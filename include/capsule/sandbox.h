/*
 * The sandbox of the threads that handle guest input (vCPUs, device threads, receive
 * pumps): a seccomp allowlist installed by each such thread before it touches guest data.
 * The main thread, which builds domains (and rebuilds them on reboot), stays outside.
 */
#ifndef CAPSULE_SANDBOX_H
#define CAPSULE_SANDBOX_H

#include <stdbool.h>

/*
 * Whether sandbox_enter() installs the filter (capsule run --no-seccomp turns it off);
 * also installs the SIGSYS reporter. Call once, from the main thread, before any other.
 */
void sandbox_set_enabled(bool on);
/* Name the calling thread `who` (15 characters at most) and confine it: 0, or a negative
 * errno (the thread must not go on). */
int sandbox_enter(const char *who);

#endif
