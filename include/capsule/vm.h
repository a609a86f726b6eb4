/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The core: a VM owns its KVM file descriptors, guest memory, I/O buses and vCPUs; a vCPU
 * is a thread whose run loop dispatches KVM exits through a table (src/core/exit.c).
 * The VM and vCPU are always passed explicitly; there is no file-level mutable state.
 */
#ifndef CAPSULE_VM_H
#define CAPSULE_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "capsule/bus.h"
#include "capsule/console_ring.h"
#include "capsule/mem.h"

/* Exit statuses of `capsule run` that are not the guest's own code (see README). */
#define CAPSULE_EXIT_TIMEOUT 124
#define CAPSULE_EXIT_VMM_ERROR 125
#define CAPSULE_EXIT_CRASH 126

/*
 * The signal that makes a vCPU leave KVM_RUN: a real-time one, unblocked only in vCPU
 * threads, so that SIGUSR1 and SIGUSR2 stay the user's (as in Firecracker).
 */
#define VCPU_KICK_SIGNAL (SIGRTMIN)

/* Open /dev/kvm, with a message saying what to do if it cannot: the fd or -errno. */
int kvm_open(void);

enum vm_end_reason {
	VM_END_NONE = 0, /* still running */
	VM_END_POWEROFF,
	VM_END_REBOOT,
	VM_END_CRASH,
	VM_END_TIMEOUT,
};

enum vcpu_state { VCPU_DOWN, VCPU_RUNNING, VCPU_STOPPED };

struct vm;
struct vcpu_kvm_state;
struct gdb_stub;
struct watch_set;

#define VCPU_EXIT_REASONS 48u
/* KVM's name for an exit reason ("io", "mmio", "hlt", ...), or NULL if it has none here. */
const char *vcpu_exit_reason_name(unsigned reason);
/* CPU time this vCPU's thread has used, in ns (0 if it has no thread). */
uint64_t vcpu_cpu_ns(const struct vcpu *v);

/* The console's history (src/core/console_log.c): the last CONSOLE_LOG_SIZE bytes. */
#define CONSOLE_LOG_SIZE (64u << 10)
struct console_log {
	pthread_mutex_t lock;
	uint64_t total;              /* bytes ever appended */
	char buf[CONSOLE_LOG_SIZE];  /* byte i is buf[i % CONSOLE_LOG_SIZE] */
	struct console_ring_head *mirror; /* a shared mapping of a ring file, or NULL */
};
void console_log_init(struct console_log *l);
/* Append what a console device wrote; NULL l: nothing. */
void console_log_append(struct console_log *l, const void *p, size_t n);
/* The last min(cap, kept) bytes, oldest first, into out; how many. *total: bytes ever. */
size_t console_log_read(struct console_log *l, char *out, size_t cap, uint64_t *total);
/* Mirror everything appended from now on into the ring file fd (include/capsule/
 * console_ring.h), made or continued (a valid ring's history is kept). 0 or -errno. */
int console_log_mirror(struct console_log *l, int fd);

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;               /* -1 in a VM built without KVM (unit tests) */
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	enum vcpu_state state;   /* under vm->lock */
	pthread_cond_t wake;     /* under vm->lock: an event may be pending for this vCPU */
	struct kvm_regs init_regs;   /* loaded by the vCPU thread before its first run */
	struct kvm_sregs init_sregs;
	/* A restored vCPU: its whole saved state, loaded instead of init_regs/init_sregs
	 * (struct vcpu_kvm_state, include/capsule/kvm_state.h); NULL for a fresh boot. */
	const struct vcpu_kvm_state *restore;
	uint64_t exits;          /* exits handled by this vCPU (statistics) */
	uint64_t exits_by_reason[VCPU_EXIT_REASONS]; /* by kvm_run.exit_reason (last: others) */
	clockid_t cpu_clock;     /* the thread's CPU-time clock, set by the thread itself */
	bool cpu_clock_set;
	bool throttle_due;       /* atomic: take a throttle sleep before the next KVM_RUN */
	uint64_t throttled_ns;   /* under vm->lock: time spent in throttle sleeps */
	uint64_t throttle_from_ns; /* under vm->lock: when its last throttle sleep ended */
	pid_t tid;               /* the thread's id, set by the thread itself (0 before) */
};

struct vm_config {
	uint64_t mem_bytes;  /* the region, a hole included */
	gpa_t hole_start, hole_end; /* a hole in it (gmem_set_hole), or both 0 */
	unsigned nr_vcpus;
	int kvm_fd;    /* an open /dev/kvm the caller keeps; 0 (unset): vm_create opens its own */
	bool platform; /* HVM: in-kernel PIC/IOAPIC/LAPIC and PIT, created before the vCPUs */
	int mem_file;  /* > 0: guest memory is this snapshot memory file, copy-on-write */
	const cpu_set_t *affinity; /* per vCPU: where its thread may run (NULL: anywhere) */
	bool mem_private; /* else: private anonymous memory for KSM, not a memfd */
	bool cpuid_at_start; /* vCPUs but 0 set their CPUID when started, not when made (PV:
			      * the guest brings them up, and KVM_SET_CPUID2 is slow here) */
};

struct vm {
	int kvm_fd, fd;          /* -1 in a VM built without KVM */
	bool kvm_fd_borrowed;    /* the caller's (vm_config.kvm_fd): not ours to close */
	int run_mmap_size;
	const struct kvm_cpuid2 *supported_cpuid; /* under lock until cpuid_ready; see
						   * vm_supported_cpuid() */
	struct guest_mem mem;
	struct io_bus pio, mmio;
	bool strict_io;          /* an unclaimed port/MMIO access crashes the domain (PV) */
	unsigned nr_vcpus;
	struct vcpu *vcpus;
	uint64_t t0_ns;          /* CLOCK_MONOTONIC at domain time 0 */

	pthread_mutex_t lock;    /* lifecycle, vCPU states, and the PV event state */
	pthread_cond_t ended_cond;
	enum vm_end_reason end_reason; /* first reason wins; read with vm_ended() */
	int end_code;
	unsigned running_vcpus;
	bool cpuid_ready;       /* under lock: supported_cpuid is there for the vCPU threads */
	bool cpuid_at_start;    /* vm_config's */
	pthread_t spawner;      /* makes the vCPU threads (src/core/vcpu.c) */
	bool spawner_started;   /* under lock */
	bool spawner_done;      /* under lock: every vCPU thread there will be is made */
	unsigned vcpus_made;    /* under lock: vCPUs 0 to this - 1 have their fd and kvm_run */
	bool pause_requested;   /* under lock */
	unsigned paused_vcpus;  /* under lock */
	unsigned loading_vcpus; /* under lock: restored vCPUs yet to load their state (pause_cond) */
	pthread_cond_t pause_cond;
	unsigned throttle_pct;     /* atomic: vCPUs sleep this share of the time (src/core/throttle.c) */
	uint64_t throttle_next_ns; /* under lock: when vm_throttle_tick kicks next */

	const cpu_set_t *affinity; /* vm_config's: each vCPU thread applies its own at start */
	void *pv;                /* struct pv_domain of a PV domain */
	struct gdb_stub *gdb;    /* the debugger of this boot (include/capsule/gdb.h), or NULL */
	struct watch_set *watches; /* armed on this boot (include/capsule/introspect.h), or NULL */
	bool pause_asked;        /* a watch stopped the vCPUs: the domain's pause, please */
	FILE *console;           /* where guest console output goes */
	struct console_log *console_log; /* and its history (the domain's), or NULL */
};

/* Memory, buses and vCPU structs, without KVM: what unit tests drive. */
int vm_init_nokvm(struct vm *vm, const struct vm_config *cfg);
/*
 * All of the above plus the KVM VM, its memory slot and its vCPUs. One spawner thread then
 * asks KVM's CPUID (once per process), confines itself and makes the vCPU threads, which
 * inherit its seccomp program, seal it (sandbox_seal), set their CPUID and wait, parked,
 * for vcpu_start(); this thread goes on building the domain meanwhile.
 */
int vm_create(struct vm *vm, const struct vm_config *cfg);
/* Ends the domain if it runs and joins every vCPU thread. */
void vm_join_vcpus(struct vm *vm);
/* vm_join_vcpus, then frees everything. */
void vm_destroy(struct vm *vm);

/* Record why the domain ends (first caller wins) and kick every vCPU; true if first. */
bool vm_end(struct vm *vm, enum vm_end_reason reason, int code);
bool vm_ended(struct vm *vm);
/* Wait until the domain ends or timeout_ms passes (0: no limit); returns the reason. */
enum vm_end_reason vm_wait(struct vm *vm, uint64_t timeout_ms);
/* Wait until the domain ends or CLOCK_MONOTONIC reaches deadline_ns (0: no limit), and
 * only wait: VM_END_NONE at the deadline. */
enum vm_end_reason vm_wait_until(struct vm *vm, uint64_t deadline_ns);
/* Raise or lower an interrupt line (GSI) of the in-kernel irqchip. */
int vm_irq_line(struct vm *vm, uint32_t gsi, bool level);
/* Wait until every restored vCPU has loaded its saved state (its LAPIC too: an interrupt
 * raised before would be lost), or the VM ended. */
void vm_wait_loaded(struct vm *vm);
/* Guest RAM to KVM: slot i for RAM range i (gmem_ram_ranges), with these flags. 0 or -errno. */
int vm_set_mem_slots(struct vm *vm, uint32_t flags);

/*
 * Stop every running vCPU at an instruction boundary (out of KVM_RUN, in its thread) and
 * wait until all have: returns how many, -EBUSY (paused already, or ending), or -ETIMEDOUT
 * if they did not all stop within VM_PAUSE_TIMEOUT_MS (the domain then runs on).
 * vm_resume lets them go on. For snapshots and `capsule control pause`.
 */
#define VM_PAUSE_TIMEOUT_MS 5000u
int vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
/* vm_pause in two halves: ask every vCPU to stop (callable from a vCPU thread: -EBUSY if
 * a pause is asked already, or the domain ends), and wait until they have (as vm_pause;
 * -EINVAL if the pause was lifted meanwhile). For the debugger (src/gdb/). */
int vm_pause_request(struct vm *vm);
int vm_pause_wait(struct vm *vm);

/*
 * Throttling (src/core/throttle.c, a migration's auto-converge): every running vCPU sleeps
 * pct percent of the time (0: not at all; at most VM_THROTTLE_MAX), enforced by the
 * kicks of vm_throttle_tick, which the thread that set it calls often (every batch it
 * sends); each vCPU takes its sleep in vcpu_throttle, between two KVM_RUNs.
 */
#define VM_THROTTLE_MAX 99u
void vm_throttle_set(struct vm *vm, unsigned pct);
unsigned vm_throttle_pct(struct vm *vm);
void vm_throttle_tick(struct vm *vm);
void vcpu_throttle(struct vcpu *v);

/* Nanoseconds since domain time 0. */
uint64_t vm_time_ns(const struct vm *vm);
uint64_t monotonic_ns(void);

/* Start the thread that makes every vCPU's parked thread (vm_create does this). */
int vcpu_spawner_start(struct vm *vm);
/*
 * Let the vCPU's thread run from init_sregs and regs (NULL: init_regs as they are), once the
 * spawner has made it. -EBUSY if the vCPU is not down, -EINVAL if the domain is ending or
 * it has no thread.
 */
int vcpu_start(struct vcpu *v, const struct kvm_regs *regs);
/*
 * End the domain as crashed and, if this is what ended it, report why on stderr:
 * "domain crashed: <message> on vCPU n" and the registers (regs and sregs, or the vCPU's own
 * where NULL).
 */
enum exit_action vcpu_crash(struct vcpu *v, const struct kvm_regs *regs,
			    const struct kvm_sregs *sregs, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void vcpu_dump_regs(const struct kvm_regs *r, const struct kvm_sregs *s, FILE *out);

/* Make the vCPU leave KVM_RUN soon (vm->lock held). */
void kick_vcpu(struct vcpu *v);

/* The exit table: handles one KVM exit of v. */
enum exit_action vcpu_handle_exit(struct vcpu *v);

/* KVM_GET_SUPPORTED_CPUID into *out: asked once per process, shared by every VM (not to be
 * freed). The spawner thread asks it for its VM (vm_supported_cpuid waits for that). */
int cpuid_fetch_supported(int kvm_fd, const struct kvm_cpuid2 **out);
/* Ask it now on a thread of its own, for a VM made soon on kvm_fd (which stays open): the
 * host kernel's CPUID instructions then overlap the VM's creation, and the spawner finds
 * the answer there (or waits for it). */
void cpuid_prefetch(int kvm_fd);
/* The supported CPUID once the spawner has it, or NULL (no KVM, or KVM refused). */
const struct kvm_cpuid2 *vm_supported_cpuid(struct vm *vm);
/* This vCPU's CPUID: the supported set with its APIC ID and the topology. */
int cpuid_setup(struct vcpu *v);
/* The adjustment itself: vCPU `id` of `nr`, over `count` entries. */
void cpuid_adjust(struct kvm_cpuid_entry2 *e, unsigned count, unsigned id, unsigned nr);

#endif
