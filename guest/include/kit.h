/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Capsule guest kit: what a PV guest links against. Freestanding, baseline x86-64.
 * A guest defines `int main(void)`; returning from it powers the domain off with that code
 * (0-123; see poweroff).
 */
#ifndef CAPSULE_KIT_H
#define CAPSULE_KIT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

#include "capsule/pv_abi.h"

#define KIT_STACK_SIZE 0x10000ul /* every stack is this size and aligned to it */

extern const struct cap_start_info *start_info;
extern struct cap_shared_info *shared_info;

int main(void);

/* Hypercalls (docs/pv-abi.md). Results are >= 0 or a negative CAP_E* code. */
/* The kit's own "not found" (device lookups, ARP): no hypercall returns it. */
#define CAP_ENOENT (-2)
int64_t hypercall(unsigned nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);
/* The raw form: the caller's own argument struct (tests use it to pass bad pointers). */
int64_t hypercall_raw(unsigned nr, uint32_t arg_gpa);
/* Power off with code 0-123 (capsule run's exit status); any other code crashes the domain
 * with that code instead (exit status 126), as main() returning it does. */
noreturn void poweroff(int code);
noreturn void reboot(void);
noreturn void crash(int code);
void yield(void);
int64_t block(uint64_t deadline_ns);
uint64_t time_ns(void);       /* domain time through a hypercall */
uint64_t wallclock_ns(void);  /* UTC */
uint64_t tsc_ns(void);        /* domain time from the TSC, no exit (approximate) */

/* Console: output goes through the shared ring, one exit per line at most. */
void console_write(const char *s, size_t n);
void console_flush(void);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int puts(const char *s);
/*
 * Console input (docs/pv-abi.md 7.1): up to cap bytes of what the host typed or piped in;
 * waits (block(), so host requests are answered) until some arrive or until deadline_ns
 * (domain time; 0 = no deadline), then 0. CAP_ENOENT if the domain has no console input
 * (start_info.flags lacks CAP_SI_CONSOLE_INPUT). One reader at a time.
 */
int console_read(void *buf, size_t cap, uint64_t deadline_ns);

/* Strings and memory. */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strstr(const char *haystack, const char *needle);
unsigned long strtoul(const char *s, char **end, int base);

/* Allocator: power-of-two size classes over free RAM (heap_init); thread-safe. */
void heap_init(uint64_t start, uint64_t end);
void *malloc(size_t n);
void *calloc(size_t n, size_t size);
void *memalign(size_t align, size_t n);
void free(void *p);
/* Whole 4 KiB pages, page-aligned, no header; page_free keeps them for page_alloc. */
void *page_alloc(void);
void page_free(void *p);

/* Event channels. */
int evtchn_alloc(unsigned vcpu);
int evtchn_bind_timer(void);
int evtchn_send(int port);
int evtchn_mask(int port);
int evtchn_unmask(int port);
int evtchn_close(int port);
bool evtchn_test_and_clear(int port);
/* Wait for `port` to be pending (then clear it): 1, or 0 at the deadline (0 = none). */
int evtchn_wait(int port, uint64_t deadline_ns);

/*
 * Host requests (docs/pv-abi.md 11.1): block() and so every wait in the kit looks at the
 * control port, and calls the handler, which by default powers off (or reboots) with
 * code 0. host_request_check does the same for a guest that never waits.
 */
void on_host_request(void (*fn)(uint32_t req));
bool host_request_check(void);

/* Timers: one per vCPU. */
int timer_set(uint64_t deadline_ns);
void sleep_ns(uint64_t ns);

/* vCPUs. */
unsigned this_cpu(void);
unsigned nr_cpus(void);
int smp_start(unsigned cpu, void (*fn)(void *arg), void *arg);
noreturn void vcpu_down(void);

/* Spinlocks (no interrupts in a PV guest, so no irq-save variants). */
typedef struct {
	volatile int locked;
} spinlock_t;
void spin_lock(spinlock_t *l);
void spin_unlock(spinlock_t *l);

/* Tests: the one parseable last line, then poweroff (0 on success). */
noreturn void test_finish(bool ok);
#define TEST_CHECK(cond)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			printf("check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);  \
			test_finish(false);                                                \
		}                                                                          \
	} while (0)

#endif
