/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules: R-START-1 R-START-2 R-START-3 R-START-4 R-START-5 R-START-6 R-START-7 R-START-8
 * Rules: R-START-9
 * vCPU 0's state at its first instruction, as xtf_entry.S saved it, and what the control
 * registers imply. "part=" selects the check; parts that must end the domain say so.
 */
#include "xtf.h"

const char test_title[] = "start state of vCPU 0";

#define RFLAGS_IF 0x200u

static void gprs(void)
{
	const struct xtf_regs *r = &xtf_entry_regs;

	CHECK_EQ(r->rsp, si->mem_bytes);
	CHECK_EQ(r->rdi, CAP_GPA_START_INFO);
	CHECK_EQ(r->rsi, 0);
	CHECK_EQ(r->rax, 0);
	CHECK_EQ(r->rbx, 0);
	CHECK_EQ(r->rcx, 0);
	CHECK_EQ(r->rdx, 0);
	CHECK_EQ(r->rbp, 0);
	CHECK_EQ(r->r8, 0);
	CHECK_EQ(r->r9, 0);
	CHECK_EQ(r->r10, 0);
	CHECK_EQ(r->r11, 0);
	CHECK_EQ(r->r12, 0);
	CHECK_EQ(r->r13, 0);
	CHECK_EQ(r->r14, 0);
	CHECK_EQ(r->r15, 0);
}

static void cr0(void)
{
	double x = 2.0, y = 0;
	volatile double a = 1.5, b = 4.0;

	/* smsw is allowed at CPL 3 with CR4.UMIP clear; its low 16 bits are CR0's. */
	CHECK_EQ(smsw() & 0xffff, 0x80010033u & 0xffff);
	/* EM and TS clear: x87 and SSE run without #NM. */
	__asm__ volatile("fldl %1; fsqrt; fstpl %0" : "=m"(y) : "m"(x));
	CHECK((int)(y * 1000) == 1414);
	CHECK_EQ((uint64_t)(a * b), 6); /* mulsd */
}

static void cr4(void)
{
	uint32_t r[4];
	static uint8_t fx[512] __attribute__((aligned(16)));
	uint64_t t0, t1;
	volatile float f = 3.0f;

	cpuid(1, r);
	/* OSXSAVE mirrors CR4.OSXSAVE, clear, where the host traps CPUID; a host that runs it
	 * at CPL 3 natively gives its own answer (R-START-6), which must then be true:
	 * xgetbv runs, with x87 and SSE state enabled. */
	if (r[2] >> 27 & 1) {
		uint32_t lo, hi;

		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		CHECK_EQ(lo & 3, 3);
	}
	CHECK_EQ(r[3] >> 26 & 1, 1); /* SSE2 */
	/* OSFXSR: fxsave/fxrstor and SSE work. */
	__asm__ volatile("fxsave %0; fxrstor %0" : "+m"(fx));
	CHECK_EQ((uint64_t)(f * 2.0f), 6);
	/* TSD clear: rdtsc at CPL 3 works, and the counter moves. */
	t0 = rdtsc();
	xtf_delay(0, 1000000);
	t1 = rdtsc();
	CHECK(t1 > t0);
}

static void stack(void)
{
	/* The 64 KiB below the top of RAM are ours: write and read back all but the top
	 * 8 KiB, where this very call chain lives. */
	volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)(si->mem_bytes - CAP_INITIAL_STACK);
	uint64_t bad = 0;

	CHECK_EQ(xtf_entry_regs.rsp % 16, 0);
	CHECK_EQ(si->free_end, si->mem_bytes - CAP_INITIAL_STACK);
	for (uint64_t i = 0; i < CAP_INITIAL_STACK - 8192; i++)
		p[i] = (uint8_t)(i * 7);
	for (uint64_t i = 0; i < CAP_INITIAL_STACK - 8192; i++)
		bad += p[i] != (uint8_t)(i * 7);
	CHECK_EQ(bad, 0);
}

static void above_4g(void)
{
	struct cap_hcall on_stack = {.ret = 0x5e47, .a = {0}};
	uint64_t free_lo = (si->free_start + 63) & ~63ull;
	struct cap_hcall *low = (struct cap_hcall *)(uintptr_t)free_lo;
	uint64_t rax;

	if (si->mem_bytes <= (4ull << 30))
		xtf_skip("needs more than 4 GiB of RAM (the runner gives it when the host can)");
	CHECK(xtf_entry_regs.rsp > (4ull << 30));
	CHECK((uintptr_t)&on_stack > (4ull << 30));
	/* A block in the image works (this test prints through one), and so does free RAM
	 * below 4 GiB. */
	*low = (struct cap_hcall){0};
	rax = hc_out(CAP_HC_TIME, free_lo);
	CHECK_EQ(rax, free_lo);
	CHECK(low->ret > 0);
	/* A block on the initial stack cannot be named: EAX carries only its low 32 bits,
	 * another address (here free RAM), which is where the result goes. */
	CHECK((((uintptr_t)&on_stack) & 0xffffffffu) >= si->free_start);
	hc_out(CAP_HC_TIME, (uint32_t)(uintptr_t)&on_stack);
	CHECK_EQ(*(volatile int64_t *)&on_stack.ret, 0x5e47);
}

void test_main(void)
{
	const struct xtf_regs *r = &xtf_entry_regs;
	char part[16];

	if (!xtf_arg("part", part, sizeof(part)))
		xtf_skip("no part= on the command line");
	if (!strcmp(part, "cpl")) {
		uint16_t cs;

		__asm__ volatile("mov %%cs, %0" : "=r"(cs));
		CHECK_EQ(r->cs & 3, 3);
		CHECK_EQ(r->ss & 3, 3);
		CHECK_EQ(cs & 3, 3);
		CHECK(sizeof(void *) == 8 && (uintptr_t)&r > 0xffffffffull >> 8); /* 64-bit */
	} else if (!strcmp(part, "gprs")) {
		gprs();
	} else if (!strcmp(part, "rflags")) {
		CHECK_EQ(r->rflags & ~(uint64_t)RFLAGS_IF, 0x2);
	} else if (!strcmp(part, "fsgs")) {
		CHECK(fs_gs_base_zero());
	} else if (!strcmp(part, "cr0")) {
		cr0();
	} else if (!strcmp(part, "cr4")) {
		cr4();
	} else if (!strcmp(part, "xm")) { /* OSXMMEXCPT: an unmasked SIMD exception is #XM */
		uint32_t mxcsr = 0x1f80 & ~(1u << 9); /* unmask divide-by-zero */
		float one = 1.0f, zero = 0.0f;

		printf("expect-stderr: #XM (SIMD error)\n");
		__asm__ volatile("ldmxcsr %1; divss %2, %0" : "+x"(one) : "m"(mxcsr), "x"(zero));
		CHECK(!"divide by zero with ZE unmasked did not raise #XM");
	} else if (!strcmp(part, "rdpmc")) { /* PCE clear */
		uint32_t lo, hi;

		printf("expect-stderr: #GP (general protection)\n");
		__asm__ volatile("rdpmc" : "=a"(lo), "=d"(hi) : "c"(0));
		CHECK(!"rdpmc at CPL 3 did not raise #GP");
	} else if (!strcmp(part, "nx")) { /* NXE: an instruction fetch fault reports I/D */
		printf("expect-stderr: at rip=0xdead0000 cr2=0xdead0000 error=0x14\n");
		((void (*)(void))0xdead0000ul)();
		CHECK(!"a jump to unmapped memory did not fault");
	} else if (!strcmp(part, "syscall")) {
		printf("expect-stderr: domain crashed: \n");
		__asm__ volatile("syscall" ::: "rcx", "r11", "memory");
		CHECK(!"syscall returned");
	} else if (!strcmp(part, "stack")) {
		stack();
	} else if (!strcmp(part, "above4g")) {
		above_4g();
	} else {
		xtf_skip("unknown part");
	}
}
