/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The GDB stub (docs/debugging.md): the GDB remote serial protocol on a Unix socket
 * (`capsule run --gdb PATH`), all-stop, one thread per vCPU.
 *
 *   src/gdb/packet.c    framing ($...#xx, acks, escapes, Ctrl-C): bytes in, packets out
 *   src/gdb/commands.c  one packet -> a reply or a resume, against a target's ops
 *   src/gdb/regs.c      the x86-64 register file as gdb numbers it, and its target XML
 *   src/mem/walk.c      guest-virtual to guest-physical through the guest's page tables
 *   src/gdb/target.c    the ops on a real domain: KVM registers, memory, breakpoints
 *   src/gdb/stub.c      the socket thread: stop on connect, resume, stop reports
 *
 * packet.c and commands.c touch no KVM and no domain: the fuzzer and the unit test drive
 * them with a fake target.
 */
#ifndef CAPSULE_GDB_H
#define CAPSULE_GDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- framing */
#define GDB_PACKET_MAX 16384u /* the PacketSize= we announce; longer packets are refused */

enum gdb_rx_event {
	GDB_RX_NONE,   /* need more bytes */
	GDB_RX_PACKET, /* a packet with a good checksum is in rx->buf[0..len) (NUL ended) */
	GDB_RX_BAD,    /* a bad checksum, or too long: answer '-' */
	GDB_RX_INTR,   /* Ctrl-C (0x03) outside a packet */
	GDB_RX_ACK,    /* '+' or '-' from gdb */
};

struct gdb_rx {
	enum { RX_IDLE, RX_BODY, RX_ESC, RX_SUM1, RX_SUM2 } state;
	uint8_t sum, want;
	bool overflow;
	size_t len;
	char buf[GDB_PACKET_MAX + 1];
};

void gdb_rx_init(struct gdb_rx *rx);
/* A hex digit's value, or -1. */
int gdb_hexval(int c);
enum gdb_rx_event gdb_rx_feed(struct gdb_rx *rx, uint8_t byte);
/* "$" body "#xx" with '#', '$', '}' and '*' escaped, into out: its length, or 0 if it does
 * not fit cap. */
size_t gdb_frame(const char *body, size_t len, char *out, size_t cap);

/* ---- registers (regs.c): gdb's numbering for i386:x86-64 with our target description */
enum gdb_reg {
	GDB_RAX, GDB_RBX, GDB_RCX, GDB_RDX, GDB_RSI, GDB_RDI, GDB_RBP, GDB_RSP,
	GDB_R8, GDB_R9, GDB_R10, GDB_R11, GDB_R12, GDB_R13, GDB_R14, GDB_R15,
	GDB_RIP, GDB_EFLAGS, GDB_CS, GDB_SS, GDB_DS, GDB_ES, GDB_FS, GDB_GS,
	GDB_ST0, GDB_FCTRL = GDB_ST0 + 8, GDB_FSTAT, GDB_FTAG, GDB_FISEG, GDB_FIOFF, GDB_FOSEG,
	GDB_FOOFF, GDB_FOP, GDB_XMM0, GDB_MXCSR = GDB_XMM0 + 16, GDB_FS_BASE, GDB_GS_BASE,
	GDB_CR0, GDB_CR2, GDB_CR3, GDB_CR4, GDB_EFER, GDB_NR_REGS
};

struct gdb_regs {
	uint8_t raw[1024]; /* every register, little-endian, in gdb's order */
};

unsigned gdb_reg_size(unsigned reg);   /* bytes; 0 if there is no such register */
unsigned gdb_reg_offset(unsigned reg); /* in raw */
unsigned gdb_regs_bytes(void);         /* all of them */
uint64_t gdb_reg_get(const struct gdb_regs *r, unsigned reg); /* the low 8 bytes */
void gdb_reg_set(struct gdb_regs *r, unsigned reg, uint64_t v);
/* The target description (qXfer:features:read:target.xml), NUL ended. */
const char *gdb_target_xml(void);

/* ---- a debug target and the command layer (commands.c) */
enum gdb_bp_type { GDB_BP_SW = 0, GDB_BP_HW = 1 };

struct gdb_target_ops {
	unsigned (*nr_vcpus)(void *t);
	int (*get_regs)(void *t, unsigned vcpu, struct gdb_regs *r);     /* 0 or -errno */
	int (*set_regs)(void *t, unsigned vcpu, const struct gdb_regs *r);
	/* Bytes read or written from gva on, through vcpu's page tables (short at the first
	 * page that is not there), or -errno if none. */
	long (*read_mem)(void *t, unsigned vcpu, uint64_t gva, void *buf, size_t len);
	long (*write_mem)(void *t, unsigned vcpu, uint64_t gva, const void *buf, size_t len);
	int (*breakpoint)(void *t, unsigned vcpu, enum gdb_bp_type type, uint64_t gva,
			  bool insert); /* 0, -ENOSPC, -EFAULT, -ENOENT, -ENOTSUP */
};

/* Where gdb was told the domain stopped. */
struct gdb_stop {
	unsigned vcpu;
	int signal;         /* 5 SIGTRAP, 2 SIGINT */
	const char *reason; /* "swbreak", "hwbreak", or NULL */
};

struct gdb_session {
	const struct gdb_target_ops *ops;
	void *target;
	unsigned g_vcpu;   /* Hg: registers and memory */
	int c_vcpu;        /* Hc: what 's' steps (-1: the vCPU that stopped) */
	bool no_ack;       /* QStartNoAckMode */
	struct gdb_stop stop;
};

enum gdb_action {
	GDB_REPLY,  /* send the reply */
	GDB_RESUME, /* resume (the reply is sent at the next stop) */
	GDB_DETACH, /* reply, then let the domain run and drop the connection */
	GDB_KILL,   /* end the domain */
};

struct gdb_resume {
	int step_vcpu; /* the vCPU to single-step, or -1: all continue */
};

/* One packet (NUL ended, len bytes) into a reply (NUL ended, at most cap - 1 bytes). */
enum gdb_action gdb_dispatch(struct gdb_session *s, const char *pkt, size_t len, char *reply,
			     size_t cap, struct gdb_resume *res);
/* The stop reply for s->stop ("T05thread:01;swbreak:;"). */
void gdb_stop_reply(const struct gdb_session *s, char *reply, size_t cap);

/* ---- the stub on a domain (stub.c, target.c) */
struct domain;
struct vm;
struct vcpu;
struct gdb_stub;

/* Listen on path (mode 0600): 0, or -1 with a sentence in err. Then its thread, for d
 * (set d->gdb): the domain will wait, stopped before its first instruction, until gdb
 * connects. 0 or -1. */
int gdb_stub_open(struct gdb_stub **out, const char *path, char *err, size_t errlen);
int gdb_stub_start(struct gdb_stub *s, struct domain *d);
void gdb_stub_close(struct gdb_stub *s);
/* The domain: a boot's VM is built and about to start (its vCPUs start stopped), or ends
 * (after it, the stub no longer touches it). */
void gdb_stub_attach(struct gdb_stub *s, struct vm *vm);
void gdb_stub_detach(struct gdb_stub *s, int exit_code);

/* A vCPU thread reports a debug event: the whole domain stops and gdb is told. */
void gdb_vcpu_stopped(struct vcpu *v, int signal, const char *reason);
/* KVM_EXIT_DEBUG (HVM domains, KVM_SET_GUEST_DEBUG). */
int gdb_debug_exit(struct vcpu *v);
/* A PV domain's exception stub reported vector/error with the guest's registers in
 * regs/sregs (rip, rsp, rflags, cs, ss as the guest had them): true if it was the
 * debugger's (a breakpoint or a step), put back to the guest and reported to gdb. */
struct kvm_regs;
struct kvm_sregs;
bool gdb_pv_trap(struct vcpu *v, struct kvm_regs *regs, struct kvm_sregs *sregs,
		 uint64_t vector, uint64_t error);

#endif
