/*
 * Capsule PV domain ABI, version 1: the one header shared by the VMM and the guest kit.
 *
 * Everything here is a contract with guest code, so every layout is pinned with
 * static_assert. Guest-physical addresses are plain uint64_t on both sides; the VMM only
 * turns them into pointers through its checked accessor (include/capsule/mem.h).
 * The prose specification is docs/pv-abi.md.
 */
#ifndef CAPSULE_PV_ABI_H
#define CAPSULE_PV_ABI_H

#include <stdint.h>

#define CAP_PV_ABI_VERSION 1u

/* ELF note that marks a PV image: owner "Capsule", type 1, descriptor = uint32 version. */
#define CAP_ELFNOTE_NAME "Capsule"
#define CAP_ELFNOTE_ABI  1u

/* Guest-physical layout of a PV domain. Page 0 is never mapped (null pointers fault). */
#define CAP_GPA_GDT         0x1000ull  /* supervisor only */
#define CAP_GPA_IDT         0x2000ull  /* supervisor only */
#define CAP_GPA_TRAP_CODE   0x3000ull  /* supervisor only: exception stubs */
#define CAP_GPA_TSS         0x4000ull  /* supervisor only: CAP_TSS_STRIDE per vCPU */
#define CAP_GPA_TRAP_STACKS 0x10000ull /* supervisor only: 4 KiB per vCPU */
#define CAP_GPA_START_INFO  0x50000ull /* user read/write */
#define CAP_GPA_SHARED_INFO 0x51000ull /* user read/write */
#define CAP_GPA_CONSOLE     0x52000ull /* user read/write, CAP_CONSOLE_PAGES pages */
#define CAP_GPA_PAGETABLES  0x60000ull /* supervisor only */
#define CAP_GPA_IMAGE_MIN   0x100000ull /* lowest address an image may load at */
#define CAP_TSS_STRIDE      512u
#define CAP_CONSOLE_PAGES   3u

#define CAP_MAX_VCPUS 64u

/*
 * Hypercalls: `out %eax, %dx` with dx = CAP_HC_PORT_BASE + number and eax = the
 * guest-physical address of a struct cap_hcall (8-byte aligned, at or above CAP_GPA_IMAGE_MIN,
 * below 4 GiB). The VMM writes
 * the result to .ret. If the address itself is unusable, the struct cannot be written: the
 * VMM then sets RAX to CAP_EFAULT instead (RAX is otherwise left unchanged).
 * Only these ports are open in the TSS I/O bitmap (plus the 3 above the last, which a
 * 32-bit `out` also covers); any other `out` at CPL 3 raises #GP.
 */
#define CAP_HC_PORT_BASE 0x500u
#define CAP_HC_PORT_COUNT 16u
#define CAP_HC_PORT_SPAN (CAP_HC_PORT_COUNT + 3u)

enum cap_hypercall {
	CAP_HC_CONSOLE_WRITE = 0,  /* drain the console ring; ret = bytes written */
	CAP_HC_YIELD = 1,          /* give the host CPU away */
	CAP_HC_BLOCK = 2,          /* a0 = deadline ns (0: none); ret 1 event, 0 otherwise */
	CAP_HC_SHUTDOWN = 3,       /* a0 = enum cap_shutdown_reason, a1 = exit code */
	CAP_HC_SET_TIMER = 4,      /* a0 = deadline ns (domain time, 0 cancels), this vCPU */
	CAP_HC_VCPU_UP = 5,        /* a0 = vcpu, a1 = rip, a2 = rsp, a3 = rdi */
	CAP_HC_VCPU_DOWN = 6,      /* stop the calling vCPU (not vCPU 0) */
	CAP_HC_EVTCHN_ALLOC = 7,   /* a0 = target vcpu; ret = port */
	CAP_HC_EVTCHN_BIND_TIMER = 8, /* ret = port fired by the caller's timer */
	CAP_HC_EVTCHN_SEND = 9,    /* a0 = port */
	CAP_HC_EVTCHN_MASK = 10,   /* a0 = port */
	CAP_HC_EVTCHN_UNMASK = 11, /* a0 = port; re-raises the event if it is pending */
	CAP_HC_EVTCHN_CLOSE = 12,  /* a0 = port */
	CAP_HC_TIME = 13,          /* ret = a0 = domain time ns; a1 = wall clock ns (UTC) */
	CAP_HC_COUNT
};

enum cap_shutdown_reason {
	CAP_SHUTDOWN_POWEROFF = 0,
	CAP_SHUTDOWN_REBOOT = 1,
	CAP_SHUTDOWN_CRASH = 2,
};

/* Error codes returned in cap_hcall.ret (Linux errno values, negated). */
#define CAP_ENOENT (-2)
#define CAP_EFAULT (-14)
#define CAP_EBUSY (-16)
#define CAP_EINVAL (-22)
#define CAP_ENOSPC (-28)
#define CAP_ENOSYS (-38)

struct cap_hcall {
	int64_t ret;
	uint64_t a[5];
};
_Static_assert(sizeof(struct cap_hcall) == 48, "cap_hcall layout");

/* Event channels: Xen-style pending/mask bitmaps in shared_info. */
#define CAP_EVTCHN_PORTS 1024u
#define CAP_EVTCHN_WORDS (CAP_EVTCHN_PORTS / 64)

struct cap_vcpu_info {
	uint8_t upcall_pending; /* set by the VMM when an event for this vCPU is raised */
	uint8_t pad[7];
	uint64_t pending_sel;   /* bit w: word w of evtchn_pending may hold this vCPU's events */
};
_Static_assert(sizeof(struct cap_vcpu_info) == 16, "cap_vcpu_info layout");

struct cap_shared_info {
	uint64_t evtchn_pending[CAP_EVTCHN_WORDS];
	uint64_t evtchn_mask[CAP_EVTCHN_WORDS];
	struct cap_vcpu_info vcpu[CAP_MAX_VCPUS];
};
_Static_assert(sizeof(struct cap_shared_info) == 256 + 1024, "cap_shared_info layout");

/* Console ring: the guest produces, the VMM consumes on CAP_HC_CONSOLE_WRITE. */
#define CAP_CONSOLE_RING_SIZE 8192u /* power of two */
struct cap_console_ring {
	uint32_t prod; /* written by the guest */
	uint32_t cons; /* written by the VMM */
	uint8_t pad[56];
	uint8_t buf[CAP_CONSOLE_RING_SIZE];
};
_Static_assert(sizeof(struct cap_console_ring) == 64 + 8192, "console ring layout");
_Static_assert(sizeof(struct cap_console_ring) <= CAP_CONSOLE_PAGES * 4096, "console pages");

#define CAP_START_MAGIC 0x43415053u /* "CAPS" */
#define CAP_CMDLINE_MAX 1024u
#define CAP_MAX_DEVICES 16u

struct cap_device_desc {
	uint32_t type;    /* virtio device id */
	uint32_t evtchn;  /* completion event channel */
	uint64_t mmio_base;
	uint64_t mmio_size;
};
_Static_assert(sizeof(struct cap_device_desc) == 24, "device desc layout");

struct cap_start_info {
	uint32_t magic;
	uint32_t version;
	uint64_t mem_bytes;        /* guest RAM, from gpa 0 */
	uint32_t nr_vcpus;
	uint32_t flags;
	uint64_t tsc_khz;          /* guest TSC frequency */
	uint64_t boot_tsc;         /* guest TSC at domain time 0 (approximate) */
	uint64_t boot_wallclock_ns; /* UTC ns at domain time 0 */
	uint64_t shared_info_gpa;
	uint64_t console_gpa;
	uint64_t free_start;       /* RAM the guest may use: [free_start, free_end) */
	uint64_t free_end;
	uint64_t image_start;
	uint64_t image_end;
	uint32_t nr_devices;
	uint32_t pad;
	struct cap_device_desc devices[CAP_MAX_DEVICES];
	char cmdline[CAP_CMDLINE_MAX];
};
_Static_assert(sizeof(struct cap_start_info) == 104 + 16 * 24 + 1024, "start_info layout");
_Static_assert(sizeof(struct cap_start_info) <= 4096, "start_info fits a page");

#endif
