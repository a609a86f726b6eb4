/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The conformance suite's framework (in the style of the Xen Test Framework): what a
 * stranger writes from docs/pv-abi.md and include/capsule/pv_abi.h alone, without the
 * guest kit. xtf_entry.S is the image's note and entry points, xtf.c the console writer, the
 * hypercall wrapper and the result line, xtf_virtio.c a minimal virtio-mmio driver.
 *
 * A test defines `const char test_title[]` and `void test_main(void)`, checks with CHECK()
 * and CHECK_EQ(), and ends by returning (the result follows from the checks) or by
 * xtf_skip(). The last console line is always "Test result: SUCCESS|FAILURE|SKIP".
 */
#ifndef XTF_H
#define XTF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

#include "capsule/pv_abi.h"

/* The registers as a vCPU started (xtf_entry.S saves them before touching anything). */
struct xtf_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rflags;
	uint64_t cs, ss, ds, es, fs, gs;
};

extern struct xtf_regs xtf_entry_regs;                 /* vCPU 0 at _start */
extern struct xtf_regs xtf_ap_regs[CAP_MAX_VCPUS];     /* each other vCPU at xtf_ap_entry */
extern struct cap_start_info *si;                      /* RDI at _start */
extern uint32_t xtf_ring_prod0, xtf_ring_cons0;        /* the console ring at _start */
extern struct cap_shared_info *shared;
extern struct cap_console_ring *ring;
extern char _start[], xtf_ap_entry[], _image_end[];

extern const char test_title[];
void test_main(void);

/* ---- hypercalls (R-HC-*): one argument block per vCPU, in .bss, below 4 GiB ---- */
extern struct cap_hcall xtf_hc_block[CAP_MAX_VCPUS];
int64_t hc_cpu(unsigned cpu, unsigned nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);
#define hc(nr, a0, a1, a2, a3) hc_cpu(0, (nr), (a0), (a1), (a2), (a3))
#define hc0(nr) hc((nr), 0, 0, 0, 0)
#define hc1(nr, a0) hc((nr), (a0), 0, 0, 0)
/* `out %eax, %dx` with RAX as given; returns RAX afterwards. */
uint64_t hc_out(unsigned nr, uint64_t rax);

/* ---- console: our own writer on the ring (R-CON-*) ---- */
void xtf_write(const char *s, size_t n);       /* append, console_write at each newline */
void xtf_ring_put(const char *s, size_t n);    /* append only: no hypercall */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- results ---- */
extern unsigned xtf_failures;
void xtf_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond))                                                               \
			xtf_fail(__FILE__, __LINE__, "%s", #cond);                         \
	} while (0)
#define CHECK_EQ(got, want)                                                                \
	do {                                                                               \
		uint64_t got_ = (uint64_t)(got), want_ = (uint64_t)(want);                 \
		if (got_ != want_)                                                         \
			xtf_fail(__FILE__, __LINE__, "%s is 0x%llx (%lld), want %s = 0x%llx", \
				 #got, (unsigned long long)got_, (long long)got_, #want,   \
				 (unsigned long long)want_);                               \
	} while (0)
noreturn void xtf_skip(const char *why);
noreturn void xtf_finish(void); /* the result line, then poweroff 0 (or 1 on failure) */
/* Powered off with `code` after a SUCCESS line (shutdown tests). */
noreturn void xtf_finish_code(uint64_t code);

/* ---- vCPUs ---- */
/* Start `cpu` at xtf_ap_entry on a stack of ours; fn(cpu) runs there, then vcpu_down. */
int64_t xtf_vcpu_up(unsigned cpu, void (*fn)(unsigned cpu));
/* The raw vcpu_up with our AP entry and stack, and an explicit RDI (for start-state tests). */
int64_t xtf_vcpu_up_rdi(unsigned cpu, void (*fn)(unsigned cpu), uint64_t rdi);
uint64_t xtf_ap_stack_top(unsigned cpu);
/* Spin (yielding) for ns of domain time, on vCPU cpu's argument block. */
void xtf_delay(unsigned cpu, uint64_t ns);
/* Spin until *flag is nonzero or timeout_ns pass: true if it became nonzero. */
bool xtf_wait_flag(unsigned cpu, volatile int *flag, uint64_t timeout_ns);

/* ---- events: the shared_info bitmaps, used atomically ---- */
static inline bool ev_pending(unsigned port)
{
	return __atomic_load_n(&shared->evtchn_pending[port / 64], __ATOMIC_SEQ_CST) >>
	       (port % 64) & 1;
}
static inline bool ev_masked(unsigned port)
{
	return __atomic_load_n(&shared->evtchn_mask[port / 64], __ATOMIC_SEQ_CST) >>
	       (port % 64) & 1;
}
static inline bool ev_test_and_clear(unsigned port)
{
	uint64_t bit = 1ull << (port % 64);

	return __atomic_fetch_and(&shared->evtchn_pending[port / 64], ~bit,
				  __ATOMIC_SEQ_CST) & bit;
}
static inline void ev_set_pending(unsigned port)
{
	__atomic_fetch_or(&shared->evtchn_pending[port / 64], 1ull << (port % 64),
			  __ATOMIC_SEQ_CST);
}

/* Domain time (CAP_HC_TIME on vCPU 0's block). */
static inline uint64_t now_ns(void)
{
	return (uint64_t)hc0(CAP_HC_TIME);
}
static inline uint64_t now_ns_cpu(unsigned cpu)
{
	return (uint64_t)hc_cpu(cpu, CAP_HC_TIME, 0, 0, 0, 0);
}

/* ---- a minimal virtio-mmio (version 2) driver, from the virtio 1.2 specification ---- */
#define XV_MAGIC 0x000
#define XV_DEVICE_ID 0x008
#define XV_DEVICE_FEATURES 0x010
#define XV_DEVICE_FEATURES_SEL 0x014
#define XV_DRIVER_FEATURES 0x020
#define XV_DRIVER_FEATURES_SEL 0x024
#define XV_QUEUE_SEL 0x030
#define XV_QUEUE_NUM 0x038
#define XV_QUEUE_READY 0x044
#define XV_QUEUE_NOTIFY 0x050
#define XV_INTERRUPT_STATUS 0x060
#define XV_INTERRUPT_ACK 0x064
#define XV_STATUS 0x070
#define XV_QUEUE_DESC 0x080
#define XV_QUEUE_AVAIL 0x090
#define XV_QUEUE_USED 0x0a0
#define XV_S_ACKNOWLEDGE 1
#define XV_S_DRIVER 2
#define XV_S_DRIVER_OK 4
#define XV_S_FEATURES_OK 8
#define XV_S_NEEDS_RESET 64
#define XV_ID_CONSOLE 3
#define XV_ID_RNG 4
#define XV_ID_BALLOON 5
#define XV_DESC_F_NEXT 1
#define XV_DESC_F_WRITE 2
#define XV_QSIZE 8

struct xv_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};
struct xv_avail {
	uint16_t flags, idx, ring[XV_QSIZE];
};
struct xv_used {
	uint16_t flags, idx;
	struct {
		uint32_t id, len;
	} ring[XV_QSIZE];
};
/* One queue's rings, page-aligned (the suite moves them around on purpose). */
struct xv_queue {
	struct xv_desc desc[XV_QSIZE] __attribute__((aligned(4096)));
	struct xv_avail avail __attribute__((aligned(64)));
	struct xv_used used __attribute__((aligned(64)));
};

/* The index in start_info.devices of the first device of this type, or -1. */
int xv_find(uint32_t type);
uint32_t xv_read(unsigned dev, unsigned reg);
void xv_write(unsigned dev, unsigned reg, uint32_t v);
/* Reset, acknowledge, negotiate VERSION_1 and the low feature bits `lo`: true if the
 * device took FEATURES_OK. */
bool xv_begin(unsigned dev, uint32_t lo);
#define XV_F_INDIRECT_DESC (1u << 28)
#define XV_DESC_F_INDIRECT 4
/* Point queue q at desc/avail/used (guest-physical) and make it ready. */
void xv_queue_at(unsigned dev, unsigned q, uint64_t desc, uint64_t avail, uint64_t used);
/* Post the chain starting at descriptor `head` on a queue set up from `vq`, and kick. */
void xv_post(unsigned dev, unsigned q, volatile struct xv_avail *avail, uint16_t head);
/* Wait for used->idx to reach idx: 1 done, -1 the device needs a reset, 0 timed out. */
int xv_wait(unsigned dev, volatile struct xv_used *used, uint16_t idx, uint64_t timeout_ns);

/* CPU probes that work at CPL 3. */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}
static inline void cpuid(uint32_t leaf, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(0));
}
/* The FS and GS bases, seen through loads: fs:addr and gs:addr must read *addr. */
static inline bool fs_gs_base_zero(void)
{
	static volatile uint64_t probe = 0x5a5a1234deadbeefull;
	uint64_t f, g;

	__asm__ volatile("movq %%fs:(%1), %0" : "=r"(f) : "r"(&probe));
	__asm__ volatile("movq %%gs:(%1), %0" : "=r"(g) : "r"(&probe));
	return f == probe && g == probe;
}
static inline uint64_t smsw(void)
{
	uint64_t v;

	__asm__ volatile("smsw %0" : "=r"(v));
	return v;
}

/* ---- small freestanding helpers ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
/* The command line's value after "key=" (up to a space), or NULL. */
const char *xtf_arg(const char *key, char *buf, size_t size);
uint64_t xtf_strtou(const char *s);
static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

#endif
