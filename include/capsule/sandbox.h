/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox: every thread of the VMM runs under a seccomp allowlist for its kind
 * (src/util/sandbox_rules.h), and once the domain is set up the process holds no
 * capabilities. Guest-facing threads (vCPUs, device threads, receive pumps, the PV timer,
 * the UART) get the narrowest list; the control socket and signal threads the service
 * list; the main thread, once it has opened every file and device, the vmm list, which
 * every thread it creates inherits beneath its own.
 */
#ifndef CAPSULE_SANDBOX_H
#define CAPSULE_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

/* SANDBOX_SPAWNER: the guest list and making threads, for the thread that makes the vCPU
 * threads; they inherit it and sandbox_seal() themselves back to the guest list. */
enum sandbox_profile { SANDBOX_GUEST, SANDBOX_SERVICE, SANDBOX_VMM, SANDBOX_SPAWNER };

/*
 * Whether sandbox_enter() installs filters (capsule run --no-seccomp turns it off); also
 * installs the SIGSYS reporter. Call once, from the main thread, before any other.
 */
void sandbox_set_enabled(bool on);
/* Name the calling thread `who` (15 characters at most) and confine it: 0, or a negative
 * errno (the thread must not go on). */
int sandbox_enter(const char *who, enum sandbox_profile profile);
/*
 * Name a thread made by a SANDBOX_SPAWNER thread and take from it what making threads
 * takes, so that the guest list is what it is left with: one small program (the seal)
 * on the spawner's inherited one, which the kernel compiled once for all of them. 0 or a
 * negative errno (the thread must not go on).
 */
int sandbox_seal(const char *who);
/* The user and group a jailed VMM becomes (include/capsule/jail.h). */
struct sandbox_ids {
	uid_t uid;
	gid_t gid;
};
/*
 * Drop every capability (effective, permitted, inheritable, ambient and the bounding set)
 * and set no_new_privs: after this the process can use what it has opened but gains
 * nothing new, even as root. With ids, it also becomes that uid and gid (real, effective
 * and saved) with no supplementary groups. 0, or a negative errno.
 */
int sandbox_drop_privileges(const struct sandbox_ids *ids);
/* Call fn (async-signal-safe) before the process stops on a forbidden call. Set it once,
 * before any thread starts. */
void sandbox_on_fatal(void (*fn)(void));

#endif
