/* SPDX-License-Identifier: Apache-2.0 */
/* What the kit's own files share. */
#ifndef KIT_INTERNAL_H
#define KIT_INTERNAL_H

#include "kit.h"

/* Lives at the bottom of every KIT_STACK_SIZE-aligned stack: this_cpu() finds it. */
struct kit_cpu {
	unsigned id;
	int timer_port; /* 0 until bound */
	void (*fn)(void *arg);
	void *arg;
};

static inline struct kit_cpu *kit_cpu(void)
{
	uintptr_t sp;

	__asm__("mov %%rsp, %0" : "=r"(sp));
	return (struct kit_cpu *)(sp & ~(KIT_STACK_SIZE - 1));
}


#endif
