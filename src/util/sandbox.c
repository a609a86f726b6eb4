/*
 * The seccomp allowlist (libseccomp). Every syscall listed says why a guest-facing thread
 * needs it; anything else raises SIGSYS, whose handler names the syscall and ends the VMM:
 * a thread that handles guest data asking for something new is a bug or an attack.
 */
#include <errno.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "capsule/log.h"
#include "capsule/sandbox.h"
#include "capsule/vm.h"

static bool enabled; /* set once by the CLI (sandbox_set_enabled) before any thread starts */

static const struct {
	int nr;
	const char *why;
} allowed[] = {
	{SCMP_SYS(ioctl), "KVM_RUN and register access on the vCPU fd"},
	{SCMP_SYS(read), "eventfds, the TAP, stdin"},
	{SCMP_SYS(write), "console output, the TAP, eventfds, irqfds"},
	{SCMP_SYS(readv), "stdio"},
	{SCMP_SYS(writev), "stdio"},
	{SCMP_SYS(pread64), "virtio-blk without io_uring"},
	{SCMP_SYS(pwrite64), "virtio-blk without io_uring"},
	{SCMP_SYS(preadv), "virtio-blk without io_uring"},
	{SCMP_SYS(pwritev), "virtio-blk without io_uring"},
	{SCMP_SYS(fdatasync), "virtio-blk flush"},
	{SCMP_SYS(fallocate), "virtio-blk discard, balloon page release"},
	{SCMP_SYS(io_uring_enter), "virtio-blk batches"},
	{SCMP_SYS(getrandom), "virtio-rng"},
	{SCMP_SYS(poll), "device threads wait for kicks"},
	{SCMP_SYS(ppoll), "device threads wait for kicks"},
	{SCMP_SYS(futex), "locks and condition variables"},
	{SCMP_SYS(sched_yield), "the yield hypercall"},
	{SCMP_SYS(clock_gettime), "domain time"},
	{SCMP_SYS(clock_nanosleep), "timed waits"},
	{SCMP_SYS(nanosleep), "timed waits"},
	{SCMP_SYS(gettimeofday), "wall clock"},
	{SCMP_SYS(fstat), "stdio's first write"},
	{SCMP_SYS(newfstatat), "stdio's first write"},
	{SCMP_SYS(lseek), "stdio"},
	{SCMP_SYS(mmap), "malloc, and stacks of vCPUs started by a vCPU"},
	{SCMP_SYS(munmap), "malloc"},
	{SCMP_SYS(mprotect), "thread stack guard pages"},
	{SCMP_SYS(madvise), "malloc and thread exit"},
	{SCMP_SYS(brk), "malloc"},
	{SCMP_SYS(mremap), "malloc"},
	{SCMP_SYS(clone), "a vCPU starting another vCPU (vcpu_up)"},
	{SCMP_SYS(clone3), "a vCPU starting another vCPU (vcpu_up)"},
	{SCMP_SYS(set_robust_list), "new threads"},
	{SCMP_SYS(rseq), "new threads"},
	{SCMP_SYS(rt_sigprocmask), "new threads, signal masks"},
	{SCMP_SYS(rt_sigreturn), "the vCPU kick signal"},
	{SCMP_SYS(sigaltstack), "thread exit"},
	{SCMP_SYS(getpid), "kicking a vCPU (pthread_kill)"},
	{SCMP_SYS(gettid), "kicking a vCPU (pthread_kill)"},
	{SCMP_SYS(tgkill), "kicking a vCPU (pthread_kill)"},
	{SCMP_SYS(exit), "thread exit"},
	{SCMP_SYS(exit_group), "process exit"},
	{SCMP_SYS(seccomp), "a thread started by a confined thread adds its own filter"},
};

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
	/* Once per process, before any thread is confined (sigaction is not on the list). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSYS, &sa, NULL);
}

int sandbox_enter(const char *who)
{
	scmp_filter_ctx ctx;
	int err = 0;

	prctl(PR_SET_NAME, who, 0, 0, 0); /* what `top -H` and /proc/PID/task/TID/comm show */
#if defined(__SANITIZE_ADDRESS__)
	(void)who;
	return 0; /* the sanitizer runtime makes system calls of its own */
#endif
	if (!enabled)
		return 0;
	/* A thread started by a confined thread (a vCPU brought up by another) inherited the
	 * filter already; stacking it again would change nothing. */
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2)
		return 0;
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && !err; i++)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i].nr, 0);
	/* prctl only to ask the question above, and for a new thread to name itself */
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				       SCMP_A0(SCMP_CMP_EQ, PR_GET_SECCOMP));
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				       SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	if (err)
		log_err("%s: cannot install the seccomp filter: %s", who, strerror(-err));
	else
		log_debug("%s: seccomp filter installed", who);
	return err;
}
