/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest kit, HVM flavour: for small test kernels that boot by multiboot or PVH on Capsule's
 * virtual PC (and on QEMU). Serial console, interrupts, local APIC and IOAPIC, other CPUs.
 * kit.h's strings, printf, malloc and TEST_CHECK work here too; test_finish exits through
 * the debug-exit port (status 1 for success, 3 for failure).
 */
#ifndef CAPSULE_KIT_HVM_H
#define CAPSULE_KIT_HVM_H

#include "kit.h"

struct hvm_boot {
	bool pvh;            /* booted through PVH (else multiboot) */
	const char *cmdline;  /* the arguments (multiboot: after the kernel's path) */
	const char *progname; /* multiboot: the kernel's path, progname_len bytes; else "" */
	unsigned progname_len;
	uint64_t mem_top;    /* end of the RAM above 1 MiB */
	uint64_t initrd, initrd_size;
	unsigned nr_mmap;
};
extern struct hvm_boot hvm_boot;

struct isr_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};
typedef void (*isr_fn)(struct isr_frame *f);
void isr_register(unsigned vector, isr_fn fn);

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

noreturn void debug_exit(uint32_t code);

/* Local APIC (xAPIC MMIO) and IOAPIC. */
uint32_t lapic_read(uint32_t reg);
void lapic_write(uint32_t reg, uint32_t v);
unsigned lapic_id(void);
void lapic_eoi(void);
/* Periodic timer at `vector` every `ns` nanoseconds (KVM's APIC timer counts ns). */
void lapic_timer_periodic(unsigned vector, uint32_t ns);
void ioapic_route(unsigned pin, unsigned vector, unsigned dest_apic, bool level);

/* Other CPUs: INIT-SIPI-SIPI to each; they run fn(apic_id). How many came up. */
unsigned smp_boot(unsigned cpus, void (*fn)(unsigned id));

/* CMOS clock */
uint8_t cmos_read(uint8_t reg);

#endif
