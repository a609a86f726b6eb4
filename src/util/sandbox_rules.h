/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The seccomp allowlists, one per kind of thread, each system call with the reason it is
 * needed. tools/seccomp-gen.c compiles them to BPF at build time (with libseccomp);
 * src/util/sandbox.c loads a program when a thread confines itself.
 *
 *   guest    vCPUs, device threads, receive pumps, the PV timer, the UART: guest data
 *   service  the control socket and the signal thread: input from the host
 *   vmm      the main thread once the domain is set up, and so every thread it creates
 *            (which then add their own, narrower list on top): it builds the domain again
 *            on reboot and tears it down
 *   spawner  the thread that makes a VM's vCPU threads (src/core/vcpu.c): guest and what
 *            making threads takes. The vCPU threads inherit its program, compiled by the
 *            kernel once per VM, not once per vCPU, and each then stacks the small seal
 *            program, which traps exactly spawner_rules: what is left is the guest list.
 * guest is a subset of service, which is a subset of vmm (the generator adds them up), so
 * a list stacked on top of another only ever narrows it.
 *
 * Audit rule: a blocking call interrupted by a signal may come back as restart_syscall,
 * and every thread can take a signal (SIGSTOP/SIGCONT from a shell, the vCPU kick), so
 * restart_syscall is on every list.
 */
#ifndef CAPSULE_SANDBOX_RULES_H
#define CAPSULE_SANDBOX_RULES_H

#include <seccomp.h>

struct sandbox_rule {
	int nr;
	const char *why;
};

static const struct sandbox_rule guest_rules[] = {
	{SCMP_SYS(ioctl), "KVM_RUN and register access on the vCPU fd"},
	{SCMP_SYS(read), "eventfds, the TAP, stdin"},
	{SCMP_SYS(write), "console output, the TAP, eventfds, irqfds"},
	{SCMP_SYS(readv), "virtio-net receive into the guest's buffers (the TAP), stdio"},
	{SCMP_SYS(writev), "virtio-net transmit of a frame's segments (the TAP), stdio"},
	{SCMP_SYS(pread64), "virtio-blk without io_uring"},
	{SCMP_SYS(pwrite64), "virtio-blk without io_uring"},
	{SCMP_SYS(preadv), "virtio-blk without io_uring, and short transfers"},
	{SCMP_SYS(pwritev), "virtio-blk without io_uring, and short transfers"},
	{SCMP_SYS(fdatasync), "virtio-blk flush"},
	{SCMP_SYS(fallocate), "virtio-blk discard, balloon page release"},
	{SCMP_SYS(io_uring_enter), "virtio-blk batches (liburing submit and wait)"},
	{SCMP_SYS(getrandom), "virtio-rng"},
	{SCMP_SYS(poll), "virtio-console output waits for room on stdout"},
	{SCMP_SYS(ppoll), "the same, as glibc may call it"},
	{SCMP_SYS(epoll_wait), "device threads wait for kicks on their event loop"},
	{SCMP_SYS(epoll_pwait), "the same, as glibc may call it"},
	{SCMP_SYS(epoll_ctl), "the event loop: receive pumps stop watching input while it waits"},
	{SCMP_SYS(futex), "locks and condition variables"},
	{SCMP_SYS(timerfd_settime), "PV timers: set_timer arms the domain's timerfd"},
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
	{SCMP_SYS(restart_syscall), "a blocking call resumed after a signal (see above)"},
	{SCMP_SYS(sigaltstack), "thread exit"},
	{SCMP_SYS(getpid), "kicking a vCPU (pthread_kill)"},
	{SCMP_SYS(gettid), "kicking a vCPU (pthread_kill)"},
	{SCMP_SYS(tgkill), "kicking a vCPU (pthread_kill)"},
	{SCMP_SYS(exit), "thread exit"},
	{SCMP_SYS(exit_group), "process exit"},
};

static const struct sandbox_rule service_rules[] = {
	{SCMP_SYS(accept4), "control socket clients"},
	{SCMP_SYS(close), "control socket clients"},
	{SCMP_SYS(rt_sigtimedwait), "the signal thread (sigwaitinfo)"},
	{SCMP_SYS(sendto), "API responses: send(MSG_NOSIGNAL), a client gone is no SIGPIPE"},
	{SCMP_SYS(recvmsg), "API requests, with the descriptors a client passes (snapshot files)"},
	{SCMP_SYS(ftruncate), "a snapshot's memory file gets the memory's size"},
	{SCMP_SYS(fcntl), "a migration hands the disk images' locks over (F_OFD_SETLK)"},
	{SCMP_SYS(sched_setaffinity), "vcpu-pin: the API pins a vCPU thread by its tid (any "
	 "tid: a jailed VMM's uid keeps that to its own)"},
};

/* Not in the guest list: the seal takes each of these from a vCPU thread again. */
static const struct sandbox_rule spawner_rules[] = {
	{SCMP_SYS(clone), "the vCPU threads"},
	{SCMP_SYS(clone3), "the vCPU threads"},
	{SCMP_SYS(set_robust_list), "a new thread's start (glibc)"},
	{SCMP_SYS(rseq), "a new thread's start (glibc)"},
	{SCMP_SYS(seccomp), "a vCPU thread stacks the seal"},
	{SCMP_SYS(sched_setaffinity), "a vCPU thread pins itself (vcpu-pin, --cpus) first"},
};

static const struct sandbox_rule vmm_rules[] = {
	{SCMP_SYS(memfd_create), "guest memory of a rebooted domain"},
	{SCMP_SYS(eventfd2), "kick, stop and irq eventfds of a rebooted domain"},
	{SCMP_SYS(epoll_create1), "event loops of a rebooted domain"},
	{SCMP_SYS(timerfd_create), "the timers of a rebooted PV domain"},
	{SCMP_SYS(clone), "threads of a rebooted domain"},
	{SCMP_SYS(clone3), "threads of a rebooted domain"},
	{SCMP_SYS(set_robust_list), "new threads"},
	{SCMP_SYS(rseq), "new threads"},
	{SCMP_SYS(rt_sigaction), "the vCPU kick handler, set at every vm_create"},
	{SCMP_SYS(seccomp), "new threads confine themselves further"},
	{SCMP_SYS(unlink), "removing the control socket at exit"},
};

#endif
