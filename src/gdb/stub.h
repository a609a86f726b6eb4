/* SPDX-License-Identifier: Apache-2.0 */
/* The stub's state, shared by the socket thread (stub.c) and the target (target.c). */
#ifndef CAPSULE_GDB_STUB_H
#define CAPSULE_GDB_STUB_H

#include <pthread.h>

#include "capsule/domain.h"
#include "capsule/gdb.h"
#include "capsule/usock.h"

#define GDB_MAX_SW_BPS 64
#define GDB_MAX_HW_BPS 4 /* DR0-DR3 */

struct gdb_sw_bp {
	bool used;
	uint64_t gva;
	gpa_t gpa;
	uint8_t orig; /* the byte the int3 replaced */
	bool hw;      /* a PV domain's Z1, planted as an int3 (target.c) */
	bool removed; /* !used: it was planted at gva and taken out (gdb_sw_bp_gone) */
};

struct gdb_stub {
	struct domain *d;
	struct usock sock;
	int conn;    /* gdb's connection, or -1 */
	bool live;   /* atomic: a connection is there to report stops to (gdb_vcpu_stopped) */
	bool broken; /* a send to it failed: dropped at the end of the loop's turn */
	int wake_fd; /* eventfd: a stop posted, a boot ended, the stub closing */
	pthread_t thread;
	bool thread_started;

	/* The socket thread holds vm_lock while it handles a packet or stops the domain;
	 * gdb_stub_attach/detach take it to change the boot. */
	pthread_mutex_t vm_lock;
	struct vm *vm;      /* the current boot, or NULL */
	pthread_cond_t attached; /* with vm_lock: a boot's VM is there */
	bool halted;        /* the boot's vCPUs are paused by us */
	bool ended;         /* the boot ended (exit_code): tell gdb, drop it */
	int exit_code;
	bool closing;
	struct gdb_sw_bp sw[GDB_MAX_SW_BPS];
	uint64_t hw[GDB_MAX_HW_BPS];
	bool hw_used[GDB_MAX_HW_BPS];
	bool hw_is_sw[GDB_MAX_HW_BPS]; /* an HVM domain's Z0 in a debug register (target.c) */
	struct gdb_session sess;
	struct gdb_rx rx;

	/* Posted by a vCPU thread (gdb_vcpu_stopped): the first stop since the last resume. */
	pthread_mutex_t ev_lock;
	bool posted;
	struct gdb_stop stop;
};

/* target.c: the ops on s->vm (vm_lock held, the vCPUs paused), and arming the vCPUs'
 * debug state for a resume (step_vcpu: the one to single-step, or -1). */
extern const struct gdb_target_ops gdb_kvm_ops;
int gdb_arm(struct gdb_stub *s, int step_vcpu);
/* Remove every breakpoint and the vCPUs' debug state (detach, a new boot). */
void gdb_disarm_all(struct gdb_stub *s);
/* Whether debug register n holds a software breakpoint (stop reason "swbreak"). */
bool gdb_hw_is_sw(const struct gdb_stub *s, unsigned n);
/* A breakpoint taken out while a vCPU may have been on its way through the PV trap path
 * with its int3 (its slot remembers it, and the int3 is no longer in guest memory): the
 * trap is ours, and the vCPU must run the restored instruction, not the byte after it. */
bool gdb_sw_bp_gone(struct gdb_stub *s, uint64_t gva, const struct guest_mem *m);
/* The breakpoint planted at gva, or NULL. */
const struct gdb_sw_bp *gdb_sw_bp_at(const struct gdb_stub *s, uint64_t gva);

#endif
