/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules: R-HC-1 R-HC-2 R-HC-3 R-HC-4 R-HC-5 R-HC-6 R-HC-7 R-HC-8 R-HC-9 R-DEV-2 R-FLT-2
 * The hypercall calling convention: the port, EAX, the argument block and what makes its
 * address bad, which registers survive, widths, numbers and ports. "part=" selects.
 */
#include "xtf.h"

const char test_title[] = "hypercall calling convention";

#define EFAULT64 0xfffffffffffffff2ull
#define EINVAL64 0xffffffffffffffeaull

static struct cap_hcall blk __attribute__((aligned(64)));

static void eax_only(void)
{
	uint64_t gpa = (uintptr_t)&blk;
	uint64_t rax = 0xdeadbeef00000000ull | gpa;

	blk = (struct cap_hcall){0};
	CHECK_EQ(hc_out(CAP_HC_TIME, rax), rax); /* RAX untouched, upper half ignored */
	CHECK(blk.ret > 0);
	CHECK_EQ((uint64_t)blk.ret, blk.a[0]);
}

/* A bad address: RAX = CAP_EFAULT (all 64 bits) and not a byte written anywhere. */
static void bad(uint64_t gpa, const void *watch)
{
	uint8_t before[48];
	uint64_t rax;

	if (watch)
		memcpy(before, watch, 48);
	rax = hc_out(CAP_HC_TIME, gpa);
	if (rax != EFAULT64)
		xtf_fail(__FILE__, __LINE__, "block at 0x%llx: RAX 0x%llx, want CAP_EFAULT",
			 (unsigned long long)gpa, (unsigned long long)rax);
	if (watch && memcmp(before, watch, 48))
		xtf_fail(__FILE__, __LINE__, "block at 0x%llx: memory written",
			 (unsigned long long)gpa);
}

static void bad_address(void)
{
	uint64_t mem = si->mem_bytes;
	uint8_t *top = (uint8_t *)(uintptr_t)(mem - 48);
	uint64_t rax;

	memset(&blk, 0x5c, sizeof(blk));
	bad((uintptr_t)&blk + 4, &blk); /* misaligned */
	bad((uintptr_t)&blk + 1, &blk);
	bad(0, NULL);                                          /* below 1 MiB: page 0 */
	bad(CAP_GPA_GDT, NULL);                                /* the VMM's (R-DEV-2) */
	bad(CAP_GPA_PAGETABLES, NULL);
	bad(CAP_GPA_START_INFO, (void *)(uintptr_t)CAP_GPA_START_INFO); /* guest's, < 1 MiB */
	bad(CAP_GPA_CONSOLE + 0x2800, (void *)(uintptr_t)(CAP_GPA_CONSOLE + 0x2800));
	bad(CAP_GPA_IMAGE_MIN - 48, NULL);                     /* ends just below 1 MiB */
	bad(mem - 40, top);                                    /* crosses the end of RAM */
	bad(mem - 8, top);
	bad(mem, NULL);                                        /* the device window */
	bad(mem + 0x1000, NULL);
	bad(0xfffffff8u, NULL);
	/* The boundaries themselves are good: the last 48 bytes of RAM (the top of the
	 * initial stack, where only the registers saved at entry lie, already copied). */
	memset(top, 0, 48);
	rax = hc_out(CAP_HC_TIME, mem - 48);
	CHECK_EQ(rax, mem - 48);
	CHECK(((struct cap_hcall *)top)->ret > 0);
	blk = (struct cap_hcall){0};
	CHECK_EQ(hc_out(CAP_HC_TIME, (uintptr_t)&blk), (uintptr_t)&blk);
	CHECK(blk.ret > 0);
}

static void written_back(void)
{
	uint64_t gpa = (uintptr_t)&blk;

	/* time: ret and a0 the domain time, a1 UTC, a2..a4 back as they were */
	blk = (struct cap_hcall){.ret = -1, .a = {7, 8, 0x2222, 0x3333, 0x4444}};
	CHECK_EQ(hc_out(CAP_HC_TIME, gpa), gpa);
	CHECK(blk.ret > 0 && (uint64_t)blk.ret == blk.a[0]);
	CHECK(blk.a[1] > 1600000000ull * 1000000000ull);
	CHECK_EQ(blk.a[2], 0x2222);
	CHECK_EQ(blk.a[3], 0x3333);
	CHECK_EQ(blk.a[4], 0x4444);
	/* an error: ret is the full 64-bit negative value, RAX and the arguments unchanged */
	blk = (struct cap_hcall){.ret = 0x1234, .a = {0, 0x11, 0x22, 0x33, 0x44}};
	CHECK_EQ(hc_out(CAP_HC_EVTCHN_SEND, gpa), gpa);
	CHECK_EQ((uint64_t)blk.ret, EINVAL64);
	CHECK(blk.a[0] == 0 && blk.a[1] == 0x11 && blk.a[4] == 0x44);
	/* yield: 0, nothing else changes */
	blk = (struct cap_hcall){.ret = 99, .a = {1, 2, 3, 4, 5}};
	CHECK_EQ(hc_out(CAP_HC_YIELD, gpa), gpa);
	CHECK(blk.ret == 0 && blk.a[0] == 1 && blk.a[4] == 5);
}

/* Every register before and after one `out`: RAX/RDX carry the call, the rest patterns. */
/* Not static, and used: the asm names them. */
uint64_t regs_in[16] __attribute__((used)), regs_out[16] __attribute__((used));
uint64_t flags_in __attribute__((used)), flags_out __attribute__((used));
uint8_t xmm_in[32] __attribute__((aligned(16), used));
uint8_t xmm_out[32] __attribute__((aligned(16), used));

static void registers(void)
{
	uint64_t gpa = (uintptr_t)&blk;

	for (int i = 0; i < 16; i++)
		regs_in[i] = 0x0101010101010101ull * (uint64_t)(i + 1) ^ 0x8000000000000000ull;
	regs_in[0] = 0xaaaaaaaa00000000ull | gpa;                     /* rax */
	regs_in[3] = 0xdddddddd00000000ull | (CAP_HC_PORT_BASE + CAP_HC_TIME); /* rdx */
	for (int i = 0; i < 32; i++)
		xmm_in[i] = (uint8_t)(0x30 + i);
	blk = (struct cap_hcall){0};
	/* Load all of them from regs_in (RSP last: it is only compared), the flags from a
	 * pattern, `out`, store them all to regs_out; RIP-relative, so no base register. */
	__asm__ volatile(
		"lea -128(%%rsp), %%rsp\n\t" /* keep off the red zone */
		"push %%rbx; push %%rbp; push %%r12; push %%r13; push %%r14; push %%r15\n\t"
		"movdqa xmm_in(%%rip), %%xmm0; movdqa xmm_in+16(%%rip), %%xmm1\n\t"
		"mov %%rsp, regs_in+56(%%rip)\n\t"
		"mov regs_in+0(%%rip), %%rax; mov regs_in+8(%%rip), %%rbx\n\t"
		"mov regs_in+16(%%rip), %%rcx; mov regs_in+24(%%rip), %%rdx\n\t"
		"mov regs_in+32(%%rip), %%rsi; mov regs_in+40(%%rip), %%rdi\n\t"
		"mov regs_in+48(%%rip), %%rbp\n\t"
		"mov regs_in+64(%%rip), %%r8; mov regs_in+72(%%rip), %%r9\n\t"
		"mov regs_in+80(%%rip), %%r10; mov regs_in+88(%%rip), %%r11\n\t"
		"mov regs_in+96(%%rip), %%r12; mov regs_in+104(%%rip), %%r13\n\t"
		"mov regs_in+112(%%rip), %%r14; mov regs_in+120(%%rip), %%r15\n\t"
		"pushq $0x8d7; popfq\n\t" /* CF PF AF ZF SF OF set */
		"pushfq; popq flags_in(%%rip)\n\t"
		"outl %%eax, %%dx\n\t"
		"pushfq; popq flags_out(%%rip)\n\t"
		"mov %%rax, regs_out+0(%%rip); mov %%rbx, regs_out+8(%%rip)\n\t"
		"mov %%rcx, regs_out+16(%%rip); mov %%rdx, regs_out+24(%%rip)\n\t"
		"mov %%rsi, regs_out+32(%%rip); mov %%rdi, regs_out+40(%%rip)\n\t"
		"mov %%rbp, regs_out+48(%%rip); mov %%rsp, regs_out+56(%%rip)\n\t"
		"mov %%r8, regs_out+64(%%rip); mov %%r9, regs_out+72(%%rip)\n\t"
		"mov %%r10, regs_out+80(%%rip); mov %%r11, regs_out+88(%%rip)\n\t"
		"mov %%r12, regs_out+96(%%rip); mov %%r13, regs_out+104(%%rip)\n\t"
		"mov %%r14, regs_out+112(%%rip); mov %%r15, regs_out+120(%%rip)\n\t"
		"movdqa %%xmm0, xmm_out(%%rip); movdqa %%xmm1, xmm_out+16(%%rip)\n\t"
		"pop %%r15; pop %%r14; pop %%r13; pop %%r12; pop %%rbp; pop %%rbx\n\t"
		"lea 128(%%rsp), %%rsp\n\t"
		"cld"
		:
		:
		: "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "xmm0", "xmm1",
		  "memory", "cc");
	for (int i = 0; i < 16; i++)
		if (regs_out[i] != regs_in[i])
			xtf_fail(__FILE__, __LINE__, "register %d: 0x%llx before, 0x%llx after", i,
				 (unsigned long long)regs_in[i], (unsigned long long)regs_out[i]);
	CHECK_EQ(flags_out, flags_in);
	CHECK_EQ(flags_in & 0x8d5, 0x8d5);
	CHECK(!memcmp(xmm_in, xmm_out, sizeof(xmm_in)));
	CHECK(blk.ret > 0); /* and it was a real hypercall */
}

static void width(void)
{
	uint16_t port = CAP_HC_PORT_BASE + CAP_HC_TIME;
	uint64_t rax = 0x1234000000000000ull | (uintptr_t)&blk;
	uint32_t in32;
	uint8_t in8;

	blk = (struct cap_hcall){.ret = 0x5e47};
	__asm__ volatile("outb %%al, %%dx" : "+a"(rax) : "d"(port));
	CHECK_EQ(rax, EINVAL64);
	rax = (uintptr_t)&blk;
	__asm__ volatile("outw %%ax, %%dx" : "+a"(rax) : "d"(port));
	CHECK_EQ(rax, EINVAL64);
	CHECK_EQ(blk.ret, 0x5e47); /* no call was made */
	/* 1-byte outs to the three ports above the last hypercall port: also EINVAL */
	rax = (uintptr_t)&blk;
	__asm__ volatile("outb %%al, %%dx" : "+a"(rax) : "d"((uint16_t)(CAP_HC_PORT_BASE + 18)));
	CHECK_EQ(rax, EINVAL64);
	__asm__ volatile("inl %%dx, %%eax" : "=a"(in32) : "d"(port));
	CHECK_EQ(in32, 0xffffffffu);
	__asm__ volatile("inb %%dx, %%al" : "=a"(in8) : "d"((uint16_t)CAP_HC_PORT_BASE));
	CHECK_EQ(in8, 0xff);
}

static volatile int go, done[CAP_MAX_VCPUS];

static void hammer(unsigned cpu)
{
	uint64_t last = 0;

	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		cpu_relax();
	for (int i = 0; i < 2000; i++) {
		int64_t t = hc_cpu(cpu, CAP_HC_TIME, 0, 0, 0, 0);

		/* each vCPU's own block: its result is its own, in order */
		if (t <= 0 || (uint64_t)t < last || (uint64_t)t != xtf_hc_block[cpu].a[0]) {
			done[cpu] = -1;
			return;
		}
		last = (uint64_t)t;
	}
	done[cpu] = 1;
}

static void concurrent(void)
{
	for (unsigned c = 1; c < si->nr_vcpus; c++)
		CHECK_EQ(xtf_vcpu_up(c, hammer), 0);
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	hammer(0);
	for (unsigned c = 0; c < si->nr_vcpus; c++) {
		CHECK(xtf_wait_flag(0, &done[c], 10000000000ull));
		CHECK_EQ(done[c], 1);
	}
}

void test_main(void)
{
	char part[16];

	if (!xtf_arg("part", part, sizeof(part)))
		xtf_skip("no part= on the command line");
	if (!strcmp(part, "eax")) {
		eax_only();
	} else if (!strcmp(part, "badaddr")) {
		bad_address();
	} else if (!strcmp(part, "result")) {
		written_back();
	} else if (!strcmp(part, "regs")) {
		registers();
	} else if (!strcmp(part, "width")) {
		width();
	} else if (!strcmp(part, "enosys")) {
		CHECK_EQ(hc0(14), CAP_ENOSYS);
		CHECK_EQ(hc(15, 1, 2, 3, 4), CAP_ENOSYS);
		CHECK_EQ(CAP_HC_COUNT, 14);
	} else if (!strcmp(part, "port510")) { /* a 32-bit out at 0x510 covers closed 0x513 */
		printf("expect-stderr: #GP (general protection)\n");
		hc_out(16, (uintptr_t)&blk);
		CHECK(!"a 32-bit out to 0x510 did not raise #GP");
	} else if (!strcmp(part, "closed")) { /* the VMM's trap port, closed to CPL 3 */
		printf("expect-stderr: #GP (general protection)\n");
		__asm__ volatile("outb %%al, %%dx" : : "a"(0), "d"((uint16_t)0x4ff));
		CHECK(!"an out to port 0x4ff did not raise #GP");
	} else if (!strcmp(part, "errors")) {
		CHECK_EQ(CAP_EFAULT, -14);
		CHECK_EQ(CAP_EBUSY, -16);
		CHECK_EQ(CAP_EINVAL, -22);
		CHECK_EQ(CAP_ENOSPC, -28);
		CHECK_EQ(CAP_ENOSYS, -38);
#ifdef CAP_ENOENT
		CHECK(!"CAP_ENOENT is withdrawn from the ABI");
#endif
	} else if (!strcmp(part, "concurrent")) {
		concurrent();
	} else if (!strcmp(part, "yield")) {
		CHECK_EQ(hc0(CAP_HC_YIELD), 0);
		CHECK_EQ(hc(CAP_HC_YIELD, 1, 2, 3, 4), 0);
	} else {
		xtf_skip("unknown part");
	}
}
