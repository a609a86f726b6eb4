/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The framework's C half: start-up, the hypercall wrapper, a console ring writer and a
 * small printf, the result line, and secondary vCPUs. Written from docs/pv-abi.md alone.
 */
#include "xtf.h"

/* The numbers docs/pv-abi.md states, against the header: a stranger's guest uses either. */
#define AT(type, field, off) _Static_assert(__builtin_offsetof(type, field) == (off), #field)
AT(struct cap_hcall, a, 8);                     /* §6.1 R-HC-2: 48 bytes */
_Static_assert(sizeof(struct cap_hcall) == 48, "cap_hcall");
AT(struct cap_console_ring, cons, 4);           /* §7 */
AT(struct cap_console_ring, buf, 64);
_Static_assert(CAP_CONSOLE_RING_SIZE == 8192, "console ring size");
AT(struct cap_shared_info, evtchn_mask, 128);   /* §8 */
AT(struct cap_shared_info, vcpu, 256);
AT(struct cap_vcpu_info, pending_sel, 8);
_Static_assert(sizeof(struct cap_start_info) == 1544, "start_info"); /* §5 */
AT(struct cap_start_info, mem_bytes, 8);
AT(struct cap_start_info, free_start, 64);
AT(struct cap_start_info, nr_devices, 96);
AT(struct cap_start_info, devices, 104);
AT(struct cap_start_info, cmdline, 488);
_Static_assert(CAP_GPA_START_INFO == 0x50000 && CAP_GPA_SHARED_INFO == 0x51000 &&
		       CAP_GPA_CONSOLE == 0x52000 && CAP_GPA_IMAGE_MIN == 0x100000 &&
		       CAP_INITIAL_STACK == 0x10000 && CAP_HC_PORT_BASE == 0x500,
	       "§3, §4, §6 addresses");
_Static_assert(CAP_EVTCHN_PORTS == 1024 && CAP_MAX_VCPUS == 64 && CAP_MAX_DEVICES == 16 &&
		       CAP_CMDLINE_MAX == 1024 && CAP_SHUTDOWN_CODE_MAX == 123,
	       "§5, §8, §11 limits");

struct xtf_regs xtf_entry_regs;
struct xtf_regs xtf_ap_regs[CAP_MAX_VCPUS];
struct cap_start_info *si;
struct cap_shared_info *shared;
struct cap_console_ring *ring;
unsigned xtf_failures;
uint32_t xtf_ring_prod0, xtf_ring_cons0;

/* R-HC-2, R-START-8: argument blocks 8-byte aligned, in the image, so below 4 GiB. */
struct cap_hcall xtf_hc_block[CAP_MAX_VCPUS] __attribute__((aligned(64)));
static struct cap_hcall console_block __attribute__((aligned(8)));

void xtf_start_c(struct xtf_regs *r);
void xtf_ap_c(struct xtf_regs *r);

static uint64_t hc_block_out(struct cap_hcall *b, unsigned nr)
{
	uint64_t rax = (uint32_t)(uintptr_t)b;

	__asm__ volatile("outl %%eax, %%dx"
			 : "+a"(rax)
			 : "d"((uint16_t)(CAP_HC_PORT_BASE + nr))
			 : "memory");
	return rax;
}

int64_t hc_cpu(unsigned cpu, unsigned nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	struct cap_hcall *b = &xtf_hc_block[cpu % CAP_MAX_VCPUS];
	uint64_t rax;

	*b = (struct cap_hcall){.ret = 0, .a = {a0, a1, a2, a3, 0}};
	rax = hc_block_out(b, nr);
	/* RAX changes only when the VMM could not use the block (R-HC-2, R-HC-5). */
	if (rax != (uint32_t)(uintptr_t)b)
		return (int64_t)rax;
	return ((volatile struct cap_hcall *)b)->ret;
}

uint64_t hc_out(unsigned nr, uint64_t rax)
{
	__asm__ volatile("outl %%eax, %%dx"
			 : "+a"(rax)
			 : "d"((uint16_t)(CAP_HC_PORT_BASE + nr))
			 : "memory");
	return rax;
}

/* ---- console (R-CON-*): several vCPUs may print, so writers take this lock ---- */
static volatile int console_lock;

static void lock(void)
{
	while (__atomic_exchange_n(&console_lock, 1, __ATOMIC_ACQUIRE))
		cpu_relax();
}

static void unlock(void)
{
	__atomic_store_n(&console_lock, 0, __ATOMIC_RELEASE);
}

static void drain_locked(void)
{
	*(volatile struct cap_hcall *)&console_block = (struct cap_hcall){0};
	hc_block_out(&console_block, CAP_HC_CONSOLE_WRITE);
}

static void put_locked(const char *s, size_t n, bool flush_lines)
{
	bool newline = false;

	for (size_t i = 0; i < n; i++) {
		uint32_t prod = ring->prod;

		/* Full: exactly CAP_CONSOLE_RING_SIZE ahead of cons is allowed, not more. */
		if (prod - __atomic_load_n(&ring->cons, __ATOMIC_ACQUIRE) >= CAP_CONSOLE_RING_SIZE)
			drain_locked();
		ring->buf[prod % CAP_CONSOLE_RING_SIZE] = (uint8_t)s[i];
		__atomic_store_n(&ring->prod, prod + 1, __ATOMIC_RELEASE);
		newline |= s[i] == '\n';
	}
	if (newline && flush_lines)
		drain_locked();
}

void xtf_write(const char *s, size_t n)
{
	lock();
	put_locked(s, n, true);
	unlock();
}

void xtf_ring_put(const char *s, size_t n)
{
	lock();
	put_locked(s, n, false);
	unlock();
}

/* ---- formatting: %d %i %u %x %p %s %c %%, 0 and width, l/ll/z ---- */
struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, uint64_t v, unsigned base, bool neg, int width, char pad)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	while (width-- > n)
		put(o, pad);
	while (n)
		put(o, tmp[--n]);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = {buf, size, 0};

	for (; *fmt; fmt++) {
		int width = 0, lng = 0;
		char pad = ' ';

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		if (*++fmt == '0')
			pad = '0';
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			width = width * 10 + (*fmt - '0');
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			lng++;
		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t s = lng ? va_arg(ap, int64_t) : va_arg(ap, int);

			put_num(&o, s < 0 ? -(uint64_t)s : (uint64_t)s, 10, s < 0, width, pad);
			break;
		}
		case 'u':
		case 'x':
			put_num(&o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned),
				*fmt == 'u' ? 10 : 16, false, width, pad);
			break;
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_num(&o, (uintptr_t)va_arg(ap, void *), 16, false, width, pad);
			break;
		case 's':
			for (const char *s = va_arg(ap, const char *); s && *s; s++)
				put(&o, *s);
			break;
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case '%':
			put(&o, '%');
			break;
		default:
			return -1;
		}
	}
	if (o.size)
		o.buf[o.len < o.size ? o.len : o.size - 1] = 0;
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int printf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		xtf_write(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	return n;
}

/* ---- results ---- */
void xtf_fail(const char *file, int line, const char *fmt, ...)
{
	char buf[400];
	va_list ap;

	__atomic_fetch_add(&xtf_failures, 1, __ATOMIC_SEQ_CST);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("FAIL %s:%d: %s\n", file, line, buf);
}

static noreturn void power_off(uint64_t code)
{
	hc(CAP_HC_SHUTDOWN, CAP_SHUTDOWN_POWEROFF, code, 0, 0);
	/* Refused: say so the loud way rather than spin. */
	hc(CAP_HC_SHUTDOWN, CAP_SHUTDOWN_CRASH, code, 0, 0);
	for (;;)
		__asm__ volatile("ud2");
}

noreturn void xtf_skip(const char *why)
{
	printf("skipped: %s\n", why);
	printf("Test result: SKIP\n");
	power_off(0);
}

noreturn void xtf_finish(void)
{
	bool ok = __atomic_load_n(&xtf_failures, __ATOMIC_SEQ_CST) == 0;

	printf("Test result: %s\n", ok ? "SUCCESS" : "FAILURE");
	power_off(ok ? 0 : 1);
}

noreturn void xtf_finish_code(uint64_t code)
{
	if (__atomic_load_n(&xtf_failures, __ATOMIC_SEQ_CST))
		xtf_finish();
	printf("Test result: SUCCESS\n");
	power_off(code);
}

/* ---- start-up ---- */
void xtf_start_c(struct xtf_regs *r)
{
	xtf_entry_regs = *r;
	si = (struct cap_start_info *)(uintptr_t)r->rdi;
	if (si->magic != CAP_START_MAGIC) /* nothing to print with: end loudly */
		hc(CAP_HC_SHUTDOWN, CAP_SHUTDOWN_CRASH, 0xbad, 0, 0);
	shared = (struct cap_shared_info *)(uintptr_t)si->shared_info_gpa;
	ring = (struct cap_console_ring *)(uintptr_t)si->console_gpa;
	xtf_ring_prod0 = ring->prod;
	xtf_ring_cons0 = ring->cons;
	printf("Test: %s\n", test_title);
	test_main();
	xtf_finish();
}

/* ---- secondary vCPUs (R-VCPU-*) ---- */
#define AP_STACK 8192
static uint8_t ap_stacks[CAP_MAX_VCPUS][AP_STACK] __attribute__((aligned(16)));
static void (*ap_fn[CAP_MAX_VCPUS])(unsigned cpu);

int64_t xtf_vcpu_up_rdi(unsigned cpu, void (*fn)(unsigned cpu), uint64_t rdi)
{
	if (cpu >= CAP_MAX_VCPUS)
		return CAP_EINVAL;
	ap_fn[cpu] = fn;
	return hc(CAP_HC_VCPU_UP, cpu, (uintptr_t)xtf_ap_entry,
		  (uintptr_t)(ap_stacks[cpu] + AP_STACK), rdi);
}

uint64_t xtf_ap_stack_top(unsigned cpu)
{
	return (uintptr_t)(ap_stacks[cpu % CAP_MAX_VCPUS] + AP_STACK);
}

void xtf_delay(unsigned cpu, uint64_t ns)
{
	uint64_t end = now_ns_cpu(cpu) + ns;

	while (now_ns_cpu(cpu) < end)
		hc_cpu(cpu, CAP_HC_YIELD, 0, 0, 0, 0);
}

bool xtf_wait_flag(unsigned cpu, volatile int *flag, uint64_t timeout_ns)
{
	uint64_t end = now_ns_cpu(cpu) + timeout_ns;

	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE))
		if (now_ns_cpu(cpu) > end)
			return false;
	return true;
}

int64_t xtf_vcpu_up(unsigned cpu, void (*fn)(unsigned cpu))
{
	return xtf_vcpu_up_rdi(cpu, fn, 0);
}

void xtf_ap_c(struct xtf_regs *r)
{
	unsigned cpu = (unsigned)r->rsi;

	if (r->rsi >= CAP_MAX_VCPUS || !ap_fn[cpu]) {
		hc(CAP_HC_SHUTDOWN, CAP_SHUTDOWN_CRASH, 0xa9, 0, 0);
		return;
	}
	xtf_ap_regs[cpu] = *r;
	ap_fn[cpu](cpu);
	hc_cpu(cpu, CAP_HC_VCPU_DOWN, 0, 0, 0, 0);
	/* vcpu_down does not return on vCPUs other than 0 (R-VCPU-4). */
	hc_cpu(cpu, CAP_HC_SHUTDOWN, CAP_SHUTDOWN_CRASH, 0xd0, 0, 0);
}

/* ---- freestanding helpers (gcc may emit calls to the first four) ---- */
void *memset(void *d, int c, size_t n)
{
	uint8_t *p = d;

	while (n--)
		*p++ = (uint8_t)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	uint8_t *p = d;
	const uint8_t *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n && *a && *a == *b; n--, a++, b++)
		;
	return n ? (unsigned char)*a - (unsigned char)*b : 0;
}

int strcmp(const char *a, const char *b)
{
	return strncmp(a, b, (size_t)-1);
}

const char *xtf_arg(const char *key, char *buf, size_t size)
{
	size_t k = strlen(key);

	for (const char *p = si->cmdline; *p;) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, k) && p[k] == '=') {
			size_t n = 0;

			for (p += k + 1; *p && *p != ' ' && n + 1 < size; p++)
				buf[n++] = *p;
			buf[n] = 0;
			return buf;
		}
		while (*p && *p != ' ')
			p++;
	}
	return NULL;
}

uint64_t xtf_strtou(const char *s)
{
	uint64_t v = 0;
	unsigned base = 10;

	if (s[0] == '0' && s[1] == 'x')
		base = 16, s += 2;
	for (; *s; s++) {
		unsigned d = *s >= '0' && *s <= '9' ? (unsigned)(*s - '0')
			     : *s >= 'a' && *s <= 'f' ? (unsigned)(*s - 'a' + 10)
						       : 99;

		if (d >= base)
			break;
		v = v * base + d;
	}
	return v;
}
