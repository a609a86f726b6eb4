/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox. The allowlists are in sandbox_rules.h, compiled to BPF at build time
 * (build/gen/seccomp_bpf.c, by tools/seccomp-gen.c). A call outside them raises SIGSYS,
 * whose handler names the call and ends the VMM: a thread asking for something new is a
 * bug or an attack.
 */
#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <malloc.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <grp.h>
#include <unistd.h>

#include "capsule/log.h"
#include "capsule/sandbox.h"
#include "capsule/vm.h"

extern const struct sock_filter capsule_seccomp_guest[], capsule_seccomp_service[],
	capsule_seccomp_vmm[], capsule_seccomp_spawner[], capsule_seccomp_seal[];
extern const size_t capsule_seccomp_guest_len, capsule_seccomp_service_len,
	capsule_seccomp_vmm_len, capsule_seccomp_spawner_len, capsule_seccomp_seal_len;

static bool enabled; /* set once by the CLI (sandbox_set_enabled) before any thread starts */
static void (*fatal_hook)(void); /* set once, likewise: put the terminal back */

void sandbox_on_fatal(void (*fn)(void))
{
	fatal_hook = fn;
}

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	char msg[160];
	int n;

	(void)sig, (void)ctx;
	if (fatal_hook)
		fatal_hook(); /* async-signal-safe by contract */
	n = snprintf(msg, sizeof(msg),
		     "capsule: seccomp: a confined thread made system call %d, which its "
		     "allowlist forbids (src/util/sandbox.c); stopping\n", si->si_syscall);
	if (write(2, msg, (size_t)n) < 0)
		_exit(CAPSULE_EXIT_VMM_ERROR);
	_exit(CAPSULE_EXIT_VMM_ERROR);
}

void sandbox_set_enabled(bool on)
{
	struct sigaction sa;

	enabled = on;
	/* glibc's malloc opens files behind a confined thread's back: /sys to size its arenas
	 * when a thread first allocates, and /proc/sys/vm/overcommit_memory the first time it
	 * shrinks a thread arena's heap (which a busy API thread does within seconds). One
	 * arena, the main one, does neither: it grows and shrinks with brk. The VMM's threads
	 * allocate little, and not on the guest's fast paths. */
	mallopt(M_ARENA_MAX, 1);
	/* Once per process, before any thread is confined (sigaction is not on the list). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSYS, &sa, NULL);
}

int sandbox_enter(const char *who, enum sandbox_profile profile)
{
	static const char *const names[] = {"guest", "service", "vmm", "spawner"};
	const struct sock_filter *const progs[] = {capsule_seccomp_guest, capsule_seccomp_service,
						    capsule_seccomp_vmm, capsule_seccomp_spawner};
	const size_t lens[] = {capsule_seccomp_guest_len, capsule_seccomp_service_len,
			       capsule_seccomp_vmm_len, capsule_seccomp_spawner_len};
	struct sock_fprog prog = {
		.len = (unsigned short)lens[profile],
		.filter = (struct sock_filter *)progs[profile],
	};

	prctl(PR_SET_NAME, who, 0, 0, 0); /* what `top -H` and /proc/PID/task/TID/comm show */
#if defined(__SANITIZE_ADDRESS__)
	return 0; /* the sanitizer runtime makes system calls of its own */
#endif
	if (!enabled)
		return 0;
	/* On top of whatever this thread inherited (the vmm list): both apply, so the
	 * narrower one decides. The program was compiled at build time: one system call. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
		log_err("%s: cannot install the seccomp filter: %s", who, strerror(errno));
		return -errno;
	}
	log_debug("%s: confined (%s allowlist)", who, names[profile]);
	return 0;
}

int sandbox_seal(const char *who)
{
	struct sock_fprog prog = {
		.len = (unsigned short)capsule_seccomp_seal_len,
		.filter = (struct sock_filter *)capsule_seccomp_seal,
	};

	prctl(PR_SET_NAME, who, 0, 0, 0); /* the guest list allows naming */
#if defined(__SANITIZE_ADDRESS__)
	return 0;
#endif
	if (!enabled)
		return 0;
	/* no_new_privs came with the spawner's program. The kernel checks the seal against
	 * the calls the inherited program allows only (its action cache): a short job. */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
		log_err("%s: cannot seal the seccomp filter: %s", who, strerror(errno));
		return -errno;
	}
	return 0;
}

int sandbox_drop_privileges(const struct sandbox_ids *ids)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct none[2];

	memset(none, 0, sizeof(none));
	/* The bounding set first: dropping from it needs CAP_SETPCAP, which goes next. */
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL && errno != EPERM)
			return -errno;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	/* The ids while CAP_SETUID and CAP_SETGID are still there; leaving uid 0 for good
	 * clears the permitted and effective sets as well (capset makes sure). */
	if (ids && (setgroups(0, NULL) < 0 || setresgid(ids->gid, ids->gid, ids->gid) < 0 ||
		    setresuid(ids->uid, ids->uid, ids->uid) < 0)) {
		log_err("cannot become uid %u gid %u: %s", (unsigned)ids->uid, (unsigned)ids->gid,
			strerror(errno));
		return -errno;
	}
	if (syscall(SYS_capset, &hdr, none) < 0) {
		log_err("cannot drop capabilities: %s", strerror(errno));
		return -errno;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	log_info("dropped every capability (effective, permitted, bounding, ambient)");
	return 0;
}
