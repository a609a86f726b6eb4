/*
 * The seccomp sandbox. The allowlist is in sandbox_rules.h, compiled to BPF at build time
 * (build/gen/seccomp_bpf.c, by tools/seccomp-gen.c). A call outside it raises SIGSYS, whose
 * handler names the call and ends the VMM: a thread that handles guest data asking for
 * something new is a bug or an attack.
 */
#include <errno.h>
#include <linux/filter.h>
#include <malloc.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "capsule/log.h"
#include "capsule/sandbox.h"
#include "capsule/vm.h"

extern const struct sock_filter capsule_seccomp_bpf[];
extern const size_t capsule_seccomp_bpf_len;

static bool enabled; /* set once by the CLI (sandbox_set_enabled) before any thread starts */

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	char msg[160];
	int n;

	(void)sig, (void)ctx;
	n = snprintf(msg, sizeof(msg),
		     "capsule: seccomp: a guest-facing thread made system call %d, which its "
		     "allowlist forbids (src/util/sandbox.c); stopping\n", si->si_syscall);
	if (write(2, msg, (size_t)n) < 0)
		_exit(CAPSULE_EXIT_VMM_ERROR);
	_exit(CAPSULE_EXIT_VMM_ERROR);
}

void sandbox_set_enabled(bool on)
{
	struct sigaction sa;

	enabled = on;
	/* glibc's malloc reads /sys to size its arenas when a new thread first allocates:
	 * fix the number now, so that a confined thread never needs to open a file. */
	mallopt(M_ARENA_MAX, 4);
	/* Once per process, before any thread is confined (sigaction is not on the list). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSYS, &sa, NULL);
}

int sandbox_enter(const char *who)
{
	struct sock_fprog prog = {
		.len = (unsigned short)capsule_seccomp_bpf_len,
		.filter = (struct sock_filter *)capsule_seccomp_bpf,
	};

	prctl(PR_SET_NAME, who, 0, 0, 0); /* what `top -H` and /proc/PID/task/TID/comm show */
#if defined(__SANITIZE_ADDRESS__)
	return 0; /* the sanitizer runtime makes system calls of its own */
#endif
	if (!enabled)
		return 0;
	/* A thread started by a confined thread (a vCPU brought up by another) inherited the
	 * filter already; stacking it again would change nothing. */
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2)
		return 0;
	/* The program was compiled at build time: loading it is one system call. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
		log_err("%s: cannot install the seccomp filter: %s", who, strerror(errno));
		return -errno;
	}
	return 0;
}
