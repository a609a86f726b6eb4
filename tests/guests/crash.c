/* SPDX-License-Identifier: Apache-2.0 */
/* Faults the way its command line says; the VMM must report it and end the domain. */
#include "kit.h"

int main(void)
{
	const char *how = start_info->cmdline;
	volatile int zero = 0;

	printf("crash: about to %s\n", how);
	if (!strcmp(how, "null"))
		*(volatile int *)0 = 1;
	else if (!strcmp(how, "div0")) /* asm: gcc turns 1/x into a compare */
		__asm__ volatile("xor %%edx, %%edx; divl %1" : : "a"(1), "r"(zero) : "rdx");
	else if (!strcmp(how, "gdt")) /* supervisor-only page */
		*(volatile uint64_t *)CAP_GPA_GDT = 0;
	else if (!strcmp(how, "port")) /* closed in the I/O bitmap */
		__asm__ volatile("outb %%al, %%dx" : : "a"(0), "d"(0x3f8));
	else if (!strcmp(how, "ud2"))
		__asm__ volatile("ud2");
	else if (!strcmp(how, "int3"))
		__asm__ volatile("int3");
	else if (!strcmp(how, "hlt"))
		__asm__ volatile("hlt");
	else if (!strcmp(how, "beyond")) /* past guest RAM and the device window: unmapped */
		*(volatile int *)(uintptr_t)(start_info->mem_bytes + (4 << 20)) = 1;
	else if (!strcmp(how, "mmio")) /* an empty slot of the device window */
		*(volatile int *)(uintptr_t)(start_info->mem_bytes + 0x100000) = 1;
	else if (!strcmp(how, "stack")) { /* point the stack at nothing and call */
		__asm__ volatile("mov $8, %%rsp; call 1f; 1:" : : : "memory");
	} else if (!strcmp(how, "secondary")) {
		static volatile int spin = 1;

		smp_start(1, (void (*)(void *))0xdead0000, NULL); /* jumps to unmapped memory */
		while (spin)
			yield();
	} else if (!strcmp(how, "guest"))
		crash(7);
	printf("crash: still alive\n");
	test_finish(false);
}
