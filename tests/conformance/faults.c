/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules: R-FLT-1 R-FLT-2
 * Exceptions end the domain with a report that names the exception and where it was.
 * The guest prints what capsule's report must contain ("expect-stderr:"). "part=" selects.
 */
#include "xtf.h"

const char test_title[] = "faults";

extern char ud2_here[], pf_here[];

void test_main(void)
{
	char part[16];

	if (!xtf_arg("part", part, sizeof(part)))
		xtf_skip("no part= on the command line");
	if (!strcmp(part, "ud2")) {
		printf("expect-stderr: #UD (invalid opcode) at rip=0x%llx\n",
		       (unsigned long long)(uintptr_t)ud2_here);
		__asm__ volatile("ud2_here: ud2");
	} else if (!strcmp(part, "pf")) { /* a user-mode write to an unmapped page */
		printf("expect-stderr: #PF (page fault) at rip=0x%llx cr2=0x%llx error=0x6\n",
		       (unsigned long long)(uintptr_t)pf_here,
		       (unsigned long long)(si->mem_bytes + (8u << 20)));
		__asm__ volatile("pf_here: movq $1, (%0)"
				 :
				 : "r"(si->mem_bytes + (8u << 20))
				 : "memory");
	} else if (!strcmp(part, "hlt")) {
		printf("expect-stderr: #GP (general protection)\n");
		__asm__ volatile("hlt");
	} else if (!strcmp(part, "int")) {
		printf("expect-stderr: domain crashed: \n");
		__asm__ volatile("int $0x80");
	} else {
		xtf_skip("unknown part");
	}
	CHECK(!"the domain survived");
}
