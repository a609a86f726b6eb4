/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules: R-MEM-1 R-MEM-2 R-MEM-3 R-MEM-4 R-MEM-5 R-DEV-1
 * The guest-physical map from the guest's side: what is mapped for it, what faults.
 * "part=" selects the check; parts that must end the domain print what capsule's crash
 * report must say ("expect-stderr:") and fail if they survive.
 */
#include "xtf.h"

const char test_title[] = "memory layout";

static volatile const uint64_t rodata_word = 0x1122334455667788ull;

/* A CPL 3 read of addr: a page fault, error 0x4 if nothing is mapped there, 0x5 if the
 * page is present but supervisor-only. */
static noreturn void touch(uint64_t addr, bool present)
{
	printf("expect-stderr: cr2=0x%llx error=0x%x\n", (unsigned long long)addr,
	       present ? 5 : 4);
	(void)*(volatile uint64_t *)(uintptr_t)addr;
	xtf_fail(__FILE__, __LINE__, "access to 0x%llx did not fault", (unsigned long long)addr);
	xtf_finish();
}

static void guest_low(void)
{
	/* The unused tail of each guest page below 1 MiB (R-MEM-2). */
	const uint64_t spots[] = {CAP_GPA_START_INFO + 0x800, CAP_GPA_SHARED_INFO + 0x800,
				  CAP_GPA_CONSOLE + 0x2800, CAP_GPA_CONSOLE + 0x2ff8};

	for (unsigned i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
		volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)spots[i];

		*p = 0xa5a5a5a500000000ull | i;
		CHECK_EQ(*p, 0xa5a5a5a500000000ull | i);
	}
	CHECK_EQ(si->magic, CAP_START_MAGIC);
}

static void rwx(void)
{
	static const uint8_t ret42[] = {0xb8, 0x2a, 0, 0, 0, 0xc3}; /* mov $42, %eax; ret */
	uint8_t *code = (uint8_t *)(uintptr_t)si->free_start;
	volatile uint64_t *stack_bottom = (volatile uint64_t *)(uintptr_t)(si->mem_bytes - 0x10000);
	volatile uint64_t *ro = (volatile uint64_t *)&rodata_word;

	/* Free RAM is writable and executable (no page is no-execute). */
	memcpy(code, ret42, sizeof(ret42));
	CHECK_EQ(((int (*)(void))(uintptr_t)code)(), 42);
	/* The image itself, read-only sections included, is writable (one RWX mapping). */
	*ro = 0x99;
	CHECK_EQ(*ro, 0x99);
	/* The last byte of free RAM, and the bottom of the initial stack. */
	*(volatile uint8_t *)(uintptr_t)(si->free_end - 1) = 0x5a;
	CHECK_EQ(*(volatile uint8_t *)(uintptr_t)(si->free_end - 1), 0x5a);
	*stack_bottom = 0x77;
	CHECK_EQ(*stack_bottom, 0x77);
}

void test_main(void)
{
	char part[16], val[24];

	if (!xtf_arg("part", part, sizeof(part)))
		xtf_skip("no part= on the command line");
	if (!strcmp(part, "null")) {
		touch(0, false);
	} else if (!strcmp(part, "vmm")) { /* addr= a VMM-owned page */
		touch(xtf_strtou(xtf_arg("addr", val, sizeof(val)) ? val : "0x1000"), true);
	} else if (!strcmp(part, "guestlow")) {
		guest_low();
	} else if (!strcmp(part, "rwx")) {
		rwx();
	} else if (!strcmp(part, "size")) { /* mem= the RAM size expected */
		CHECK(xtf_arg("mem", val, sizeof(val)));
		CHECK_EQ(si->mem_bytes, xtf_strtou(val));
		CHECK_EQ(xtf_entry_regs.rsp, si->mem_bytes);
	} else if (!strcmp(part, "window")) { /* an empty slot of the device window */
		printf("expect-stderr: unhandled MMIO read at 0x%llx\n",
		       (unsigned long long)(si->mem_bytes + 0x100000));
		(void)*(volatile uint32_t *)(uintptr_t)(si->mem_bytes + 0x100000);
		CHECK(!"the empty device window slot did not end the domain");
	} else if (!strcmp(part, "beyond")) {
		touch(si->mem_bytes + (2u << 20), false);
	} else {
		xtf_skip("unknown part");
	}
}
