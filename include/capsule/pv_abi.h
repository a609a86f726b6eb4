/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Capsule PV domain ABI, version 1: the one header shared by the VMM and its guests.
 *
 * docs/pv-abi.md (revision 6) is the specification; each definition below names the
 * section ("§n") that defines it, and tests/conformance/ checks that the two agree.
 * Every layout is pinned with static_assert. Guest-physical addresses are plain uint64_t
 * on both sides; the VMM only turns them into pointers through its checked accessor
 * (include/capsule/mem.h).
 */
#ifndef CAPSULE_PV_ABI_H
#define CAPSULE_PV_ABI_H

#include <stdint.h>

#define CAP_PV_ABI_VERSION 1u /* §2 R-IMG-3, §5 R-SI-1 */

/* §2 R-IMG-2: the note that marks a PV image, in a PT_NOTE segment: n_namesz 8, name
 * "Capsule\0", n_type CAP_ELFNOTE_ABI, n_descsz 4, descriptor = uint32 ABI version. */
#define CAP_ELFNOTE_NAME "Capsule"
#define CAP_ELFNOTE_ABI  1u

/* §3 guest-physical layout of a PV domain (identity-mapped). Page 0 is never mapped. */
#define CAP_GPA_GDT         0x1000ull  /* supervisor only (§13 R-DEV-1) */
#define CAP_GPA_IDT         0x2000ull  /* supervisor only */
#define CAP_GPA_TRAP_CODE   0x3000ull  /* supervisor only: exception stubs (§12) */
#define CAP_GPA_TSS         0x4000ull  /* supervisor only: CAP_TSS_STRIDE per vCPU */
#define CAP_GPA_TRAP_STACKS 0x10000ull /* supervisor only: 4 KiB per vCPU */
#define CAP_GPA_START_INFO  0x50000ull /* user read/write (§3 R-MEM-2, §5) */
#define CAP_GPA_SHARED_INFO 0x51000ull /* user read/write (§8) */
#define CAP_GPA_CONSOLE     0x52000ull /* user read/write, CAP_CONSOLE_PAGES pages (§7) */
#define CAP_GPA_PAGETABLES  0x60000ull /* supervisor only */
#define CAP_GPA_IMAGE_MIN   0x100000ull /* lowest address an image may load at (§2 R-IMG-6) */
#define CAP_TSS_STRIDE      512u
#define CAP_CONSOLE_PAGES   3u
/*
 * Below CAP_GPA_IMAGE_MIN only [CAP_GPA_GUEST_LOW, CAP_GPA_GUEST_LOW_END) belongs to the
 * guest (start_info, shared_info, console). The rest is VMM-owned: mapped supervisor-only,
 * and never read or written by a device or hypercall on the guest's behalf.
 */
#define CAP_GPA_GUEST_LOW     CAP_GPA_START_INFO
#define CAP_GPA_GUEST_LOW_END (CAP_GPA_CONSOLE + CAP_CONSOLE_PAGES * 4096ull)
/* §4.1 R-START-8: the initial stack, below the top of RAM; images must end before it. */
#define CAP_INITIAL_STACK   0x10000ull

#define CAP_MAX_VCPUS 64u /* §5 R-SI-2 */

/*
 * §6.1 hypercalls: `out %eax, %dx` with dx = CAP_HC_PORT_BASE + number and EAX (only EAX:
 * R-HC-1) = the guest-physical address of a struct cap_hcall. The address is bad if it is
 * not 8-byte aligned, below CAP_GPA_IMAGE_MIN, or the block is not wholly inside RAM; the
 * VMM then sets RAX to CAP_EFAULT instead of writing .ret (R-HC-2). No other register
 * changes (R-HC-4). The I/O bitmap opens these ports plus the 3 above the last, which a
 * 32-bit `out` to it also covers; any other `in`/`out` at CPL 3 raises #GP (R-HC-6).
 */
#define CAP_HC_PORT_BASE 0x500u
#define CAP_HC_PORT_COUNT 16u
#define CAP_HC_PORT_SPAN (CAP_HC_PORT_COUNT + 3u)

/* §6.3 the hypercall table; numbers without an entry return CAP_ENOSYS (R-HC-6). */
enum cap_hypercall {
	CAP_HC_CONSOLE_WRITE = 0,  /* §7: write out the ring; ret = bytes written */
	CAP_HC_YIELD = 1,          /* §6.3 R-HC-9: give the host CPU away; ret 0 */
	CAP_HC_BLOCK = 2,          /* §8.1: a0 = deadline ns (0: none); ret 1 event, 0 not */
	CAP_HC_SHUTDOWN = 3,       /* §11: a0 = enum cap_shutdown_reason, a1 = code */
	CAP_HC_SET_TIMER = 4,      /* §9: a0 = deadline ns (domain time, 0 cancels), caller's */
	CAP_HC_VCPU_UP = 5,        /* §10: a0 = vcpu, a1 = rip, a2 = rsp, a3 = rdi */
	CAP_HC_VCPU_DOWN = 6,      /* §10: stop the calling vCPU (EINVAL on vCPU 0) */
	CAP_HC_EVTCHN_ALLOC = 7,   /* §8 R-EV-2: a0 = vCPU to notify; ret = port */
	CAP_HC_EVTCHN_BIND_TIMER = 8, /* §8 R-EV-11: ret = port raised by the caller's timer */
	CAP_HC_EVTCHN_SEND = 9,    /* §8 R-EV-5: a0 = port */
	CAP_HC_EVTCHN_MASK = 10,   /* §8 R-EV-6: a0 = port */
	CAP_HC_EVTCHN_UNMASK = 11, /* §8 R-EV-7: a0 = port; notifies if it is pending */
	CAP_HC_EVTCHN_CLOSE = 12,  /* §8 R-EV-9: a0 = port */
	CAP_HC_TIME = 13,          /* §9 R-TIME-1: ret = a0 = domain time ns; a1 = UTC ns */
	CAP_HC_COUNT
};

/* §11 shutdown reasons, and the largest power-off code (R-SD-1, R-SD-2). */
enum cap_shutdown_reason {
	CAP_SHUTDOWN_POWEROFF = 0,
	CAP_SHUTDOWN_REBOOT = 1,
	CAP_SHUTDOWN_CRASH = 2,
};
#define CAP_SHUTDOWN_CODE_MAX 123u

/* §6.2 R-HC-8: errors, in cap_hcall.ret or RAX (Linux errno values, negated). -2 is
 * withdrawn (it was CAP_ENOENT, which no hypercall returned) and will not be reused. */
#define CAP_EFAULT (-14)
#define CAP_EBUSY (-16)
#define CAP_EINVAL (-22)
#define CAP_ENOSPC (-28)
#define CAP_ENOSYS (-38)

/* §6.1 R-HC-2, R-HC-3: the argument block, read once and written back whole. */
struct cap_hcall {
	int64_t ret;
	uint64_t a[5];
};
_Static_assert(sizeof(struct cap_hcall) == 48, "cap_hcall layout");

/* §8 event channels: pending/mask bitmaps in shared_info; port 0 is never valid. */
#define CAP_EVTCHN_PORTS 1024u
#define CAP_EVTCHN_WORDS (CAP_EVTCHN_PORTS / 64)

/* §8: per-vCPU hints, set by the VMM when it notifies the vCPU (R-EV-5, R-EV-7), never
 * cleared by it (R-EV-10), not looked at by block (R-BLK-4). There is no upcall (R-EV-1). */
struct cap_vcpu_info {
	union {
		uint8_t notified;       /* 1: the VMM notified this vCPU of an event */
		uint8_t upcall_pending; /* its revision 1 name (§15) */
	};
	uint8_t pad[7];
	uint64_t pending_sel;   /* bit w: word w of evtchn_pending may hold this vCPU's events */
};
_Static_assert(sizeof(struct cap_vcpu_info) == 16, "cap_vcpu_info layout");

/* §8: at start_info.shared_info_gpa; both sides write it, atomically. */
struct cap_shared_info {
	uint64_t evtchn_pending[CAP_EVTCHN_WORDS]; /* bit p: port p raised (R-EV-5) */
	uint64_t evtchn_mask[CAP_EVTCHN_WORDS];    /* bit p: port p masked (R-EV-6) */
	struct cap_vcpu_info vcpu[CAP_MAX_VCPUS];
	uint32_t host_request; /* §11.1 R-REQ-2: enum cap_host_request, written by the VMM */
	uint32_t generation;   /* §11.2 R-GEN-1: restores and clones so far (revision 5) */
};
_Static_assert(sizeof(struct cap_shared_info) == 256 + 1024 + 8, "cap_shared_info layout");

/* §11.1 what the host asks of the guest through start_info.control_port (R-REQ-2). */
enum cap_host_request {
	CAP_REQUEST_NONE = 0,
	CAP_REQUEST_POWEROFF = 1, /* shut down cleanly, then CAP_HC_SHUTDOWN poweroff */
	CAP_REQUEST_REBOOT = 2,   /* shut down cleanly, then CAP_HC_SHUTDOWN reboot */
};

/* §7 the console ring: the guest produces, the VMM consumes on CAP_HC_CONSOLE_WRITE.
 * prod and cons are free-running; byte i is buf[i % CAP_CONSOLE_RING_SIZE] (R-CON-2). */
#define CAP_CONSOLE_RING_SIZE 8192u /* power of two; prod - cons <= this (R-CON-3) */
struct cap_console_ring {
	uint32_t prod; /* written by the guest */
	uint32_t cons; /* written by the VMM before console_write returns (R-CON-4) */
	uint8_t pad[56];
	uint8_t buf[CAP_CONSOLE_RING_SIZE];
};
_Static_assert(sizeof(struct cap_console_ring) == 64 + 8192, "console ring layout");
_Static_assert(sizeof(struct cap_console_ring) <= CAP_CONSOLE_PAGES * 4096, "console pages");

/*
 * §7.1 console input (revision 4): the VMM produces, the guest consumes; present only if
 * start_info.flags has CAP_SI_CONSOLE_INPUT (R-CIN-1). Free-running counters as the output
 * ring: byte i is buf[i % CAP_CONSOLE_IN_SIZE], prod - cons <= CAP_CONSOLE_IN_SIZE
 * (R-CIN-2). A cons further than that from prod stops input until it is sane (R-CIN-4).
 */
#define CAP_GPA_CONSOLE_IN  (CAP_GPA_CONSOLE + 0x2400ull) /* after the output ring */
#define CAP_CONSOLE_IN_SIZE 2048u /* power of two */
#define CAP_SI_CONSOLE_INPUT 1u   /* start_info.flags: the input ring is there (R-CIN-1) */
#define CAP_SI_MEASURED 2u        /* start_info.flags: launch_measurement is set (R-SI-9) */
struct cap_console_in {
	uint32_t prod;  /* written by the VMM, after the bytes (release) */
	uint32_t cons;  /* written by the guest once it has read the bytes */
	uint32_t port;  /* R-CIN-3: raised when input arrives, notifies vCPU 0 */
	uint32_t flags; /* 0 */
	uint8_t pad[48];
	uint8_t buf[CAP_CONSOLE_IN_SIZE];
};
_Static_assert(sizeof(struct cap_console_in) == 64 + 2048, "console input ring layout");
_Static_assert((CAP_CONSOLE_IN_SIZE & (CAP_CONSOLE_IN_SIZE - 1)) == 0, "a power of two");
_Static_assert(CAP_GPA_CONSOLE_IN >= CAP_GPA_CONSOLE + sizeof(struct cap_console_ring),
	       "the input ring does not overlap the output ring");
_Static_assert(CAP_GPA_CONSOLE_IN + sizeof(struct cap_console_in) <= CAP_GPA_GUEST_LOW_END,
	       "the input ring is inside the console pages");
_Static_assert(CAP_GPA_CONSOLE_IN % 64 == 0, "the input ring is cache-line aligned");

#define CAP_START_MAGIC 0x43415053u /* "CAPS"; §5 R-SI-1 */
#define CAP_CMDLINE_MAX 1024u       /* with its NUL (§5 R-SI-5) */
#define CAP_MAX_DEVICES 16u         /* §5 R-SI-6 */

/* §5 R-SI-6, §13: one virtio-mmio device in the window after RAM. */
struct cap_device_desc {
	uint32_t type;    /* virtio device id */
	uint32_t evtchn;  /* its event channel, notifying vCPU 0 (R-EV-13) */
	uint64_t mmio_base;
	uint64_t mmio_size;
};
_Static_assert(sizeof(struct cap_device_desc) == 24, "device desc layout");

/* §5: at CAP_GPA_START_INFO (RDI at entry), written once before vCPU 0 starts. */
struct cap_start_info {
	uint32_t magic;            /* R-SI-1 */
	uint32_t version;          /* R-SI-1 */
	uint64_t mem_bytes;        /* R-SI-2: guest RAM, from gpa 0 */
	uint32_t nr_vcpus;         /* R-SI-2 */
	uint32_t flags;            /* R-SI-1: CAP_SI_* bits (R-CIN-1) */
	uint64_t tsc_khz;          /* R-SI-7: guest TSC frequency, 0 if unknown */
	uint64_t boot_tsc;         /* R-SI-7: guest TSC at domain time 0 (approximate) */
	uint64_t boot_wallclock_ns; /* R-SI-7: UTC ns at domain time 0 */
	uint64_t shared_info_gpa;  /* R-SI-3 */
	uint64_t console_gpa;      /* R-SI-3 */
	uint64_t free_start;       /* R-SI-4: RAM the guest may use: [free_start, free_end) */
	uint64_t free_end;
	uint64_t image_start;      /* R-SI-4 */
	uint64_t image_end;
	uint32_t nr_devices;       /* R-SI-6 */
	uint32_t control_port;     /* §11.1 R-REQ-1: host requests arrive here (0: none) */
	struct cap_device_desc devices[CAP_MAX_DEVICES];
	char cmdline[CAP_CMDLINE_MAX]; /* R-SI-5 */
	uint8_t launch_measurement[32]; /* R-SI-9 (revision 6): docs/measured-launch.md */
};
_Static_assert(sizeof(struct cap_start_info) == 104 + 16 * 24 + 1024 + 32, "start_info layout");
_Static_assert(sizeof(struct cap_start_info) <= 4096, "start_info fits a page");

#endif
