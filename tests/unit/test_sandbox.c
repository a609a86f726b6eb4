/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vCPU threads' confinement (src/util/sandbox.c, src/core/vcpu.c): they are made by one
 * spawner thread, inherit its seccomp program and seal it, and are then held to the guest
 * list exactly: what the spawner needed to make them (clone3, rseq, seccomp,
 * sched_setaffinity) and what no guest thread may do (openat, execve) end the process
 * with the seccomp report, and the guest list's calls still work. Each case runs a real VM
 * (needs /dev/kvm) in a child process with the sandbox on and makes the call on a vCPU
 * thread, from the kick signal's handler, which every vCPU thread takes.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule/log.h"
#include "capsule/sandbox.h"
#include "capsule/vm.h"

enum { NR_VCPUS = 4, FORBIDDEN_EXIT = CAPSULE_EXIT_VMM_ERROR };

static volatile long call_nr;  /* what the handler calls on the vCPU thread */
static volatile int call_done; /* it came back (the call was allowed) */

static void make_the_call(int sig)
{
	(void)sig;
	/* Arguments that fail harmlessly if the call is allowed (seccomp: 2, GET_ACTION_AVAIL,
	 * not 0, which would put the thread in strict mode). */
	syscall(call_nr, call_nr == SYS_seccomp ? 2 : 0, 0, 0, 0, 0, 0);
	call_done = 1;
}

/* A field of /proc/self/task/TID/status ("Seccomp", "Seccomp_filters"), or -1. */
static int task_status(pid_t tid, const char *field)
{
	char path[64], line[128];
	size_t n = strlen(field);
	int v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':')
			v = atoi(line + n + 1);
	fclose(f);
	return v;
}

/* In the child: a VM whose vCPU threads are up; vCPU `id` makes system call nr. */
static int child(long nr, unsigned id)
{
	struct vm_config cfg = {.mem_bytes = 16u << 20, .nr_vcpus = NR_VCPUS,
				.cpuid_at_start = true};
	struct sigaction sa = {.sa_handler = make_the_call};
	struct timespec ms = {0, 1000000};
	static struct vm vm;
	sigset_t set;
	pid_t tid = 0;

	log_set_level(LOG_ERROR);
	sandbox_set_enabled(true);
	/* As capsule run does: the kick blocked everywhere but on the vCPU threads. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (vm_create(&vm, &cfg))
		return 10;
	for (int i = 0, up = 0; i < 5000 && up < NR_VCPUS; i++) {
		/* Each vCPU thread made and sealed; they may run in any order. */
		for (up = 0; up < NR_VCPUS; up++) {
			tid = __atomic_load_n(&vm.vcpus[up].tid, __ATOMIC_SEQ_CST);
			if (!tid || task_status(tid, "Seccomp_filters") < 2)
				break;
		}
		if (up < NR_VCPUS)
			nanosleep(&ms, NULL);
	}
	tid = __atomic_load_n(&vm.vcpus[id].tid, __ATOMIC_SEQ_CST);
	/* Mode 2 (filter); the spawner's program and the seal (on no inherited one here). */
	if (!tid || task_status(tid, "Seccomp") != 2 || task_status(tid, "Seccomp_filters") != 2)
	{
		fprintf(stderr, "vCPU %u: tid %d, seccomp mode %d, filters %d\n", id, (int)tid,
			task_status(tid, "Seccomp"), task_status(tid, "Seccomp_filters"));
		return 11;
	}
	if (task_status(gettid(), "Seccomp") != 0)
		return 12; /* this thread made the VM and stays as it was */
	call_nr = nr;
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL); /* after vm_create, which sets its own */
	pthread_kill(vm.vcpus[id].thread, VCPU_KICK_SIGNAL);
	for (int i = 0; i < 5000 && !call_done; i++)
		nanosleep(&ms, NULL);
	if (!call_done)
		return 13;
	vm_destroy(&vm);
	return 0;
}

/* The child's exit status for system call nr on vCPU id, its stderr in err. */
static int run_child(long nr, unsigned id, char *err, size_t len)
{
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		_exit(child(nr, id));
	}
	close(fds[1]);
	n = read(fds[0], err, len - 1);
	err[n > 0 ? n : 0] = 0;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static bool sandbox_is_on(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return false; /* capsule's sanitizer build confines nothing (src/util/sandbox.c) */
#else
	return true;
#endif
}

static void forbidden(long nr, unsigned id)
{
	char err[1024], want[64];

	if (access("/dev/kvm", R_OK | W_OK))
		fail_msg("needs /dev/kvm");
	if (!sandbox_is_on()) {
		skip();
		return;
	}
	assert_int_equal(run_child(nr, id, err, sizeof(err)), FORBIDDEN_EXIT);
	snprintf(want, sizeof(want), "made system call %ld,", nr);
	if (!strstr(err, want))
		fail_msg("stderr '%s' does not say '%s'", err, want);
}

/* What making threads takes, which the spawner had, is sealed away again. */
static void spawner_calls_sealed(void **state)
{
	(void)state;
	forbidden(SYS_clone3, 0);
	forbidden(SYS_rseq, NR_VCPUS - 1);
	forbidden(SYS_seccomp, 1);
	forbidden(SYS_sched_setaffinity, 2);
}

/* What no guest-facing thread may do, inherited from the spawner. */
static void never_allowed(void **state)
{
	(void)state;
	forbidden(SYS_openat, 0);
	forbidden(SYS_execve, NR_VCPUS - 1);
	forbidden(SYS_socket, 1);
}

/* The guest list still works on every vCPU thread, the last one made too. */
static void guest_calls_allowed(void **state)
{
	char err[1024];

	(void)state;
	if (access("/dev/kvm", R_OK | W_OK))
		fail_msg("needs /dev/kvm");
	if (!sandbox_is_on()) {
		skip();
		return;
	}
	for (unsigned id = 0; id < NR_VCPUS; id++) {
		int rc = run_child(SYS_getpid, id, err, sizeof(err));

		if (rc)
			fail_msg("vCPU %u: getpid: child exit %d, stderr '%s'", id, rc, err);
	}
	assert_int_equal(run_child(SYS_gettid, 0, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(spawner_calls_sealed),
		cmocka_unit_test(never_allowed),
		cmocka_unit_test(guest_calls_allowed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
