/* SPDX-License-Identifier: Apache-2.0 */
/* Local APIC, IOAPIC and bringing up the other CPUs. */
#include "hvm.h"

#define LAPIC 0xfee00000ul
#define IOAPIC 0xfec00000ul
#define LAPIC_ID 0x20
#define LAPIC_EOI 0xb0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_DIV 0x3e0

uint64_t ap_stacks[256];
extern char tramp_start[], tramp_end[], tramp_cr3[];
static void (*ap_fn)(unsigned id);
static volatile unsigned ap_count;
void ap_entry(unsigned id);

uint32_t lapic_read(uint32_t reg)
{
	return *(volatile uint32_t *)(LAPIC + reg);
}

void lapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(LAPIC + reg) = v;
}

unsigned lapic_id(void)
{
	return lapic_read(LAPIC_ID) >> 24;
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

void lapic_timer_periodic(unsigned vector, uint32_t ns)
{
	lapic_write(LAPIC_TIMER_DIV, 0xb); /* divide by 1 */
	lapic_write(LAPIC_LVT_TIMER, (1u << 17) | vector);
	lapic_write(LAPIC_TIMER_INIT, ns);
}

void ioapic_route(unsigned pin, unsigned vector, unsigned dest_apic, bool level)
{
	volatile uint32_t *sel = (volatile uint32_t *)IOAPIC, *win = (volatile uint32_t *)(IOAPIC + 0x10);

	*sel = 0x11 + 2 * pin;
	*win = dest_apic << 24;
	*sel = 0x10 + 2 * pin;
	*win = vector | (level ? 1u << 15 : 0); /* fixed delivery, physical, active high */
}

void ap_entry(unsigned id)
{
	__atomic_fetch_add(&ap_count, 1, __ATOMIC_SEQ_CST);
	if (ap_fn)
		ap_fn(id);
}

/* The real-mode trampoline at 0x8000, into long mode with this kernel's page tables. */
static void copy_trampoline(void (*fn)(unsigned id))
{
	uint64_t cr3;

	ap_fn = fn;
	memcpy((void *)0x8000, tramp_start, (size_t)(tramp_end - tramp_start));
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	*(volatile uint32_t *)(0x8000 + (tramp_cr3 - tramp_start)) = (uint32_t)cr3;
}

uint32_t hvm_resume_vector(void (*fn)(unsigned id))
{
	uint8_t *stack = memalign(16, 16384);

	copy_trampoline(fn);
	ap_stacks[lapic_id()] = (uint64_t)(uintptr_t)(stack + 16384);
	return 0x8000;
}

unsigned smp_boot(unsigned cpus, void (*fn)(unsigned id))
{
	copy_trampoline(fn);
	for (unsigned id = 1; id < cpus; id++) {
		uint8_t *stack = memalign(16, 16384);

		ap_stacks[id] = (uint64_t)(uintptr_t)(stack + 16384);
		lapic_write(LAPIC_ICR_HI, id << 24);
		lapic_write(LAPIC_ICR_LO, 0x4500); /* INIT */
		lapic_write(LAPIC_ICR_HI, id << 24);
		lapic_write(LAPIC_ICR_LO, 0x4608); /* SIPI: start at 0x8000 */
		lapic_write(LAPIC_ICR_HI, id << 24);
		lapic_write(LAPIC_ICR_LO, 0x4608);
	}
	/* The trampoline runs emulated here: give it time, then report who arrived. */
	for (uint64_t spin = 0; ap_count < cpus - 1 && spin < 2000000000ull; spin++)
		__asm__ volatile("pause");
	return ap_count;
}
