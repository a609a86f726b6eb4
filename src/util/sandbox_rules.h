/*
 * The seccomp allowlist of guest-facing threads: each system call with the reason a vCPU,
 * device thread or receive pump needs it. tools/seccomp-gen.c compiles it to BPF at build
 * time (with libseccomp); src/util/sandbox.c loads that program at thread start.
 */
#ifndef CAPSULE_SANDBOX_RULES_H
#define CAPSULE_SANDBOX_RULES_H

#include <seccomp.h>

static const struct sandbox_rule {
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
	{SCMP_SYS(mmap), "malloc"},
	{SCMP_SYS(munmap), "malloc"},
	{SCMP_SYS(mprotect), "malloc"},
	{SCMP_SYS(madvise), "malloc and thread exit"},
	{SCMP_SYS(brk), "malloc"},
	{SCMP_SYS(mremap), "malloc"},
	{SCMP_SYS(rt_sigprocmask), "signal masks"},
	{SCMP_SYS(rt_sigreturn), "the vCPU kick signal"},
	{SCMP_SYS(sigaltstack), "thread exit"},
	{SCMP_SYS(getpid), "kicking a vCPU (pthread_kill)"},
	{SCMP_SYS(gettid), "kicking a vCPU (pthread_kill)"},
	{SCMP_SYS(tgkill), "kicking a vCPU (pthread_kill)"},
	{SCMP_SYS(exit), "thread exit"},
	{SCMP_SYS(exit_group), "process exit"},
};

#endif
