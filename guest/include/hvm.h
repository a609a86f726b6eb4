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

#define HVM_MMAP_MAX 32
struct hvm_mmap {
	uint64_t addr, len;
	uint32_t type; /* 1 RAM, 2 reserved (E820's types) */
};

struct hvm_boot {
	bool pvh;            /* booted through PVH (else multiboot) */
	const char *cmdline;  /* the arguments (multiboot: after the kernel's path) */
	const char *progname; /* multiboot: the kernel's path, progname_len bytes; else "" */
	unsigned progname_len;
	uint64_t mem_top;    /* end of the RAM above 1 MiB */
	uint64_t initrd, initrd_size;
	unsigned nr_mmap;
	struct hvm_mmap mmap[HVM_MMAP_MAX]; /* the memory map, from either protocol */
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
void cmos_write(uint8_t reg, uint8_t v);

/* ACPI (acpi.c): a table by signature ("FACP", "APIC", and "DSDT", "FACS" through the
 * FADT), or NULL; little-endian fields; a \_Sx package's SLP_TYP ("_S5_"), or -1. */
const uint8_t *acpi_table(const char *sig);
uint64_t acpi_le(const uint8_t *p, unsigned n);
int acpi_sleep_type(const char *name);
#define FADT_HW_REDUCED (1u << 20)

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* Resume from S3: the real-mode waking vector for the FACS (the AP trampoline, copied
 * low), after which this CPU runs fn(apic_id) in long mode on a fresh stack, with no IDT. */
uint32_t hvm_resume_vector(void (*fn)(unsigned id));

/* PCI bus 0 through 0xcf8/0xcfc (pci.c): configuration reads and writes, a BAR's address,
 * a 64-bit BAR's size (sized as firmware does), a virtio-pci function's capabilities. */
uint32_t pci_cfg32(unsigned slot, unsigned off);
uint16_t pci_cfg16(unsigned slot, unsigned off);
uint8_t pci_cfg8(unsigned slot, unsigned off);
void pci_cfg_write32(unsigned slot, unsigned off, uint32_t v);
void pci_cfg_write16(unsigned slot, unsigned off, uint16_t v);
uint64_t pci_bar_addr(unsigned slot, unsigned bar);
uint64_t pci_bar_size64(unsigned slot, unsigned bar);
struct vpci_caps {
	uint8_t common_bar, notify_bar, isr_bar, device_bar, msix_cap;
	uint32_t common, notify, isr, device, notify_mult;
};
/* The common, notify, ISR and device capabilities and MSI-X: all found, or false. */
bool vpci_find_caps(unsigned slot, struct vpci_caps *c);

#endif
