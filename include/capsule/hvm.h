/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HVM domains: unmodified kernels on a small virtual PC.
 *
 *   layout.c   guest-physical layout and the E820 map
 *   boot.c     entry register state: 64-bit (Linux boot protocol) or 32-bit flat (multiboot, PVH)
 *   kernel.c   choose a loader by looking at the image; zero page, multiboot info, PVH start info
 *   acpi.c     RSDP, XSDT, FADT, FACS, MADT, DSDT (aml.c encodes the DSDT's AML)
 *   mptable.c  the Intel MP table, for kernels booted without ACPI
 *   domain.c   platform devices, virtio over irqfd (virtio-mmio or virtio-pci), start and teardown
 *   msi.c      MSI-X vectors of PCI functions: KVM GSI routes and irqfds
 *   cpu_model.c  --cpu: the CPUID a guest sees (a base, feature edits, vendor, threads)
 *   vmgenid.c  the VM generation ID: a new one at boot and at every restore, and its notice
 */
#ifndef CAPSULE_HVM_H
#define CAPSULE_HVM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "capsule/platform.h"
#include "capsule/virtio.h"
#include "capsule/vm.h"

/*
 * Guest-physical layout below 1 MiB (what the firmware area holds on a PC). The Linux boot
 * protocols (64-bit entry) use these fixed places; the kernel is at 1 MiB or above.
 */
#define HVM_GDT 0x500ull
#define HVM_ZERO_PAGE 0x7000ull   /* Linux boot_params */
#define HVM_BOOT_STACK 0x8ff0ull
#define HVM_PML4 0x9000ull        /* identity map of the first 4 GiB, 2 MiB pages */
#define HVM_CMDLINE 0x20000ull
#define HVM_CMDLINE_MAX 4096u
/*
 * The 32-bit entries (multiboot, PVH) take kernels linked anywhere from 4 KiB up, below
 * 1 MiB too, so their boot structures are one block (struct hvm_boot_area) placed where the
 * image and the initrd are not: the lowest free pages from 4 KiB.
 */
#define HVM_BOOT_AREA_SIZE 0x3000ull
#define HVM_BOOT_AREA_INFO 0x100u   /* multiboot information or PVH start info */
#define HVM_BOOT_AREA_MODS 0x300u   /* its module list (the initrd) */
#define HVM_BOOT_AREA_MMAP 0x400u   /* its memory map, up to 0x1000 */
#define HVM_BOOT_AREA_CMDLINE 0x1000u
#define HVM_EBDA 0x9fc00ull
#define HVM_ACPI 0xe0000ull       /* RSDP and tables, in the BIOS area Linux scans */
#define HVM_MPTABLE 0xf0000ull    /* MP floating pointer and table, for kernels without ACPI */
#define HVM_VMGENID 0xef000ull    /* the VM generation ID's 16 bytes (reserved, with the tables) */
#define HVM_VMGENID_LEN 16u
#define HVM_ACPI_END 0x100000ull
/* The PCI hole (BARs, ECAM, IOAPIC, LAPIC, virtio-mmio): RAM past 3 GiB is above 4 GiB. */
#define HVM_HOLE_START (3ull << 30)
#define HVM_HOLE_END (4ull << 30)
#define HVM_VIRTIO_BASE 0xd0000000ull
#define HVM_GED GED_MMIO_BASE     /* the ACPI Generic Event Device's register (power button) */
#define HVM_GED_GSI GED_GSI       /* its interrupt: above the ISA GSIs the devices take */
#define HVM_IOAPIC 0xfec00000ull
#define HVM_LAPIC 0xfee00000ull
#define HVM_MAX_DEVICES 9
#define HVM_PLATFORM_DEVICES 8 /* uart, rtc, i8042, debug-exit, ged, acpi-sleep, acpi-pm, pci */
#define HVM_MSI_GSI 24u        /* MSI vectors' GSIs: above the IOAPIC's 24 pins */
#define HVM_MSI_MAX 48u

#define E820_RAM 1
#define E820_RESERVED 2
#define E820_MAX 16

struct e820_entry {
	uint64_t addr, size;
	uint32_t type;
} __attribute__((packed));

struct hvm_domain;
struct hvm_device {
	struct virtio_dev dev;
	int irqfd;      /* virtio-mmio: its edge GSI's irqfd */
	uint32_t gsi;
	bool pci;       /* on the PCI bus (virtio-pci) instead */
	struct virtio_pci vp;
	unsigned msi;   /* its first MSI vector (hvm_msi) */
	struct hvm_domain *h;
};

struct hvm_msi {
	pthread_mutex_t lock;
	unsigned nr;
	struct {
		int fd;          /* irqfd of GSI HVM_MSI_GSI + i */
		bool on;
		uint64_t addr;
		uint32_t data;
	} v[HVM_MSI_MAX];
};


/* Where the boot structures of this boot went (the GDT is always the first bytes). */
struct hvm_boot_area {
	uint64_t gdt, info, mods, mmap, cmdline, stack;
};

/*
 * The ACPI profile of a domain (docs/hvm.md): hardware-reduced (a GED power button and the
 * sleep registers at 0x600, as Cloud Hypervisor and Firecracker), or full (PM1 blocks and
 * the PM timer, the SCI on GSI 9, a FACS, S3 and S5, as a PC and QEMU's pc machine).
 */
enum hvm_acpi { HVM_ACPI_REDUCED, HVM_ACPI_FULL };

/* CPUID feature words a model edits. */
enum {
	HVM_CPU_1_ECX, HVM_CPU_1_EDX, HVM_CPU_7_EBX, HVM_CPU_7_ECX, HVM_CPU_7_EDX,
	HVM_CPU_X1_ECX, HVM_CPU_X1_EDX, HVM_CPU_WORDS
};
struct hvm_cpu_model {
	bool set;                     /* a model was given (otherwise the host's, untouched) */
	bool baseline;                /* x86-64 rather than host */
	uint32_t on[HVM_CPU_WORDS], off[HVM_CPU_WORDS];
	char vendor[13];              /* "" keeps the host's */
	unsigned threads;             /* per core */
};
/* "host|x86-64[,+F][,-F][,vendor=V][,threads=N]": 0, or -EINVAL with err. */
int hvm_cpu_model_parse(const char *spec, struct hvm_cpu_model *m, char *err, size_t errlen);
/* Can the host give it (every +F supported, vCPUs in whole cores)? 0, or -EINVAL with err. */
int hvm_cpu_model_check(const struct hvm_cpu_model *m, const struct kvm_cpuid2 *supported,
			unsigned nr_vcpus, char *err, size_t errlen);
/* Edit one vCPU's CPUID entries (after cpuid_adjust). */
void hvm_cpu_model_apply(const struct hvm_cpu_model *m, struct kvm_cpuid_entry2 *e,
			 unsigned n, unsigned id, unsigned nr);

/* How the PC of a domain is made (from its configuration). */
struct hvm_options {
	enum hvm_acpi acpi;
	const char *cpu; /* --cpu, or NULL: the host's CPUID */
	bool virtio_pci; /* virtio devices on PCI (virtio-pci), not virtio-mmio */
};

struct hvm_domain {
	struct vm *vm;
	enum hvm_acpi acpi;
	struct uart uart;
	struct cmos cmos;
	struct ged ged;
	struct acpi_pm pm;
	struct pci_host pci;   /* enabled when the devices are on PCI */
	struct hvm_msi msi;
	struct platform_dev platform[HVM_PLATFORM_DEVICES]; /* the PC: uart, rtc, ... */
	struct hvm_device devices[HVM_MAX_DEVICES];
	unsigned nr_devices;
	struct e820_entry e820[E820_MAX];
	unsigned nr_e820;
	uint64_t rsdp;
	const uint8_t *measurement; /* 32 bytes for the CMSR table, or NULL (measure.h) */
	struct hvm_boot_area boot;
	struct hvm_cpu_model cpu;
};

struct hvm_config {
	const char *kernel;
	const char *initrd;
	int kernel_fd, initrd_fd; /* open descriptors of them, or -1 to open the paths */
	const uint8_t *kernel_image; /* the kernel's bytes, read already, or NULL */
	size_t kernel_size;
	const char *cmdline;
	bool no_pvh; /* boot an ELF kernel at its 64-bit entry even if it has a PVH note */
	const uint8_t *measurement; /* the launch measurement (32 bytes), or NULL */
};

int hvm_domain_init(struct hvm_domain *h, struct vm *vm, const struct hvm_options *opt,
		    FILE *out, int in_fd);
/* "reduced" or "full": 0 and *acpi, or -1. */
int hvm_acpi_parse(const char *name, enum hvm_acpi *acpi);
struct virtio_dev *hvm_add_device(struct hvm_domain *h, const struct virtio_dev_ops *ops,
				  void *priv);
/* Device d's virtio-pci transport, or NULL (it is on virtio-mmio, or not this domain's). */
struct virtio_pci *hvm_virtio_pci(struct hvm_domain *h, const struct virtio_dev *d);
int hvm_domain_build(struct hvm_domain *h, const struct hvm_config *cfg);
int hvm_domain_start(struct hvm_domain *h);
void hvm_domain_destroy(struct hvm_domain *h);
/* Press the ACPI power button (the GED's event and interrupt, or full ACPI's fixed button
 * and the SCI): 0 or a negative errno. */
int hvm_power_button(struct hvm_domain *h);

/* Pieces. */
void hvm_build_e820(struct hvm_domain *h);
/* The GSI of virtio device i (ISA range, edge-triggered, active high; not the full profile's
 * SCI). */
uint32_t hvm_device_gsi(enum hvm_acpi acpi, unsigned i);
int hvm_kernel_load(struct hvm_domain *h, const struct hvm_config *cfg);
/* Give every vCPU the model's CPUID (before they first run): 0 or a negative errno. */
int hvm_cpu_model_load(struct hvm_domain *h);
/* MSI vectors (msi.c): count of them (their first index), route one, raise one. */
int hvm_msi_alloc(struct hvm_domain *h, unsigned count, unsigned *first);
int hvm_msi_route(struct hvm_domain *h, unsigned i, uint64_t addr, uint32_t data, bool on);
void hvm_msi_fire(struct hvm_domain *h, unsigned i);
void hvm_msi_init(struct hvm_domain *h);
void hvm_msi_destroy(struct hvm_domain *h);
/* Choose the boot area of a 32-bit entry: the lowest pages from 4 KiB, below the end of RAM
 * and 4 GiB, that miss every range in avoid[n] ({start, end}) and the firmware area. 0, or
 * -ENOSPC (then the image and initrd leave no room). */
int hvm_place_boot_area(struct hvm_domain *h, const uint64_t (*avoid)[2], unsigned n);
int acpi_build(struct hvm_domain *h);
/* The MP floating pointer and configuration table into area (guest HVM_MPTABLE, cap bytes):
 * their length, or 0 if they do not fit. */
size_t mptable_build(struct hvm_domain *h, uint8_t *area, size_t cap);

enum hvm_entry { HVM_ENTRY_64, HVM_ENTRY_32 };
/* Registers of the boot vCPU: long mode with RSI (64) or flat protected mode with EAX/EBX. */
int hvm_boot_regs(struct hvm_domain *h, enum hvm_entry kind, uint64_t rip, uint32_t eax,
		  uint32_t ebx_or_rsi);

/* A new random VM generation ID in guest memory (at boot): 0 or -EIO. */
int hvm_vmgenid_new(struct hvm_domain *h);
/* A new one, and the GED's notice to the guest (once its vCPUs run a restored state). */
int hvm_vmgenid_renew(struct hvm_domain *h);

#endif
