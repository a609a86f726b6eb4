/* SPDX-License-Identifier: Apache-2.0 */
/* A timer interrupt: the local APIC timer, periodic, through the IDT, while the CPU halts. */
#include "hvm.h"

static volatile unsigned ticks;

static void tick(struct isr_frame *f)
{
	(void)f;
	ticks++;
}

int main(void)
{
	isr_register(0x40, tick);
	lapic_timer_periodic(0x40, 1000000); /* 1 ms */
	while (ticks < 20)
		__asm__ volatile("sti; hlt; cli");
	lapic_write(0x320, 1u << 16); /* mask the timer again */
	printf("timer: %u local APIC timer interrupts received\n", ticks);
	TEST_CHECK(ticks >= 20);
	test_finish(true);
}
