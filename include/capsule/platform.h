/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The platform devices of an HVM domain, each a few registers on the port or MMIO bus and a
 * const descriptor (struct platform_dev_ops), as the virtio devices have theirs:
 *   platform.c    the descriptor's plumbing: bus ranges, start/stop, save/restore
 *   uart.c        16550A at 0x3f8, IRQ 4: output to a FILE, input from an fd
 *   i8042.c       keyboard controller: only what reset (0xfe to port 0x64) needs
 *   rtc.c         MC146818 CMOS clock at 0x70/0x71, time from the host, in BCD
 *   debug_exit.c  QEMU's isa-debug-exit at 0xf4: exit status (value << 1) | 1
 *   ged.c         ACPI Generic Event Device (MMIO): the power button of hardware-reduced ACPI
 *   acpi_sleep.c  the sleep control/status registers at 0x600: S5 powers the domain off
 *   acpi_pm.c     full ACPI's PM1a event and control blocks and PM timer at 0xb000, the SCI:
 *                 the fixed power button, S5 off, S3 suspend and resume by the FACS vector
 *   pci.c         PCI bus 0: the host bridge, configuration mechanism #1 (0xcf8/0xcfc) and
 *                 ECAM, BARs assigned in a 32-bit window and decoded by the host
 */
#ifndef CAPSULE_PLATFORM_H
#define CAPSULE_PLATFORM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "capsule/bus.h"
#include "capsule/loop.h"

struct vm;

/* ---- the descriptor ---- */

enum platform_bus { PLATFORM_PIO, PLATFORM_MMIO };
#define PLATFORM_MAX_RANGES 3
#define PLATFORM_STATE_MAX 512 /* bytes of a device's saved state */

struct platform_dev_ops {
	const char *name;
	struct {
		enum platform_bus bus;
		uint64_t base, len; /* len 0: no more ranges */
	} ranges[PLATFORM_MAX_RANGES];
	io_handler_fn io;     /* opaque: the device's state */
	/* Optional: begin and end host I/O (the UART's input); 0 or a negative errno. */
	int (*start)(void *dev);
	void (*stop)(void *dev);
	/* Optional: the device's state as plain data (at most cap bytes); how many. */
	size_t (*save)(void *dev, uint8_t *buf, size_t cap);
	/* Optional: take back what save wrote; it comes from a file: check it all before
	 * changing anything. 0, or -EINVAL with *why. */
	int (*restore)(void *dev, const uint8_t *buf, size_t len, const char **why);
};

/* One platform device of a domain: its descriptor and its state. */
struct platform_dev {
	const struct platform_dev_ops *ops;
	void *dev;
	unsigned on_bus; /* ranges registered */
	bool started;
};

/* Put the device's ranges on vm's buses: 0, or the bus's error (nothing stays registered). */
int platform_add(struct platform_dev *p, struct vm *vm, const struct platform_dev_ops *ops,
		 void *dev);
int platform_start(struct platform_dev *p);
void platform_stop(struct platform_dev *p);
/* Off the buses (stopped first). Only while no vCPU runs. */
void platform_remove(struct platform_dev *p, struct vm *vm);
/* Save into buf (PLATFORM_STATE_MAX): bytes written. Restore: 0 or -EINVAL with *why. */
size_t platform_save(const struct platform_dev *p, uint8_t *buf, size_t cap);
int platform_restore(struct platform_dev *p, const uint8_t *buf, size_t len, const char **why);

extern const struct platform_dev_ops uart_ops, rtc_ops, i8042_ops, debug_exit_ops, ged_ops,
	acpi_sleep_ops, acpi_pm_ops, pci_host_ops;

/* ---- the devices ---- */

#define UART_COM1_BASE 0x3f8
#define UART_COM1_IRQ 4
#define I8042_DATA 0x60
#define I8042_CMD 0x64
#define RTC_PORT 0x70
#define DEBUG_EXIT_PORT 0xf4
#define ACPI_SLEEP_CONTROL 0x600 /* the FADT's SLEEP_CONTROL_REG; SLEEP_STATUS_REG is 0x601 */
#define ACPI_SLEEP_STATUS 0x601
#define ACPI_S5_SLP_TYP 5        /* \_S5's SLP_TYP: soft off */

struct uart {
	struct vm *vm;
	pthread_mutex_t lock;
	FILE *out;
	int in_fd;          /* -1: no input */
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thre_pending;  /* transmitter-empty interrupt not yet acknowledged */
	uint8_t rx[256];
	unsigned rx_head, rx_len;
	bool irq_level;
	struct loop loop;         /* the input thread's, with in_fd as its one source */
	struct loop_source input;
	bool watching, in_eof;    /* under lock: input is on the loop; it ended */
	pthread_t rx_thread;
	bool rx_started;
};

/* State and input loop; uart_ops puts it on the bus and starts its input. */
int uart_init(struct uart *u, struct vm *vm, FILE *out, int in_fd);
void uart_destroy(struct uart *u);
/* The register model without the bus (tests). */
void uart_access(struct uart *u, unsigned reg, uint8_t *val, bool is_write);

struct cmos {
	uint8_t index;
	uint8_t ram[128];
};
void rtc_init(struct cmos *c);
void rtc_access(struct cmos *c, unsigned port, uint8_t *val, bool is_write);
#define RTC_B_AIE 0x20 /* status B: alarm interrupt enable */
/* Is the alarm (registers 1, 3, 5, BCD; 0xc0+ matches any) enabled and matching now? The
 * alarm raises no interrupt here; it wakes the machine from S3 (acpi_pm.c). */
bool rtc_alarm_due(const struct cmos *c);

/* Generic Event Device: a 32-bit event register (read clears it) and an edge GSI. */
#define GED_MMIO_BASE 0xfeb00000ull
#define GED_MMIO_SIZE 0x10u
#define GED_GSI 16u /* above the ISA GSIs the virtio devices take */
#define GED_EVENT_POWER_BUTTON (1u << 0)
#define GED_EVENT_VMGENID (1u << 1) /* the VM generation ID changed (a restore, a clone) */
struct ged {
	struct vm *vm;
	uint64_t base;
	uint32_t gsi;
	uint32_t events; /* pending, atomically: set by the host, taken by a guest read */
};
void ged_init(struct ged *g, struct vm *vm);
/* Set these event bits and pulse the GSI (from any thread): 0 or a negative errno. */
int ged_raise(struct ged *g, uint32_t events);
/* What a guest read of the register returns (and clears). */
uint32_t ged_read(struct ged *g);

/*
 * The PM1a event block (status, enable), PM1a control block and PM timer of full
 * (not hardware-reduced) ACPI, as the FADT gives them, and the SCI on a level GSI.
 */
#define ACPI_PM_BASE 0xb000u
#define ACPI_PM1_EVT (ACPI_PM_BASE + 0) /* PM1_STS (16 bits), then PM1_EN (16 bits) */
#define ACPI_PM1_CNT (ACPI_PM_BASE + 4) /* 16 bits */
#define ACPI_PM_TMR (ACPI_PM_BASE + 8)  /* 32 bits, 3.579545 MHz */
#define ACPI_PM_LEN 12u
#define ACPI_PM_TIMER_HZ 3579545ull
#define ACPI_SCI_GSI 9u
#define ACPI_S3_SLP_TYP 1u /* \_S3's SLP_TYP (\_S5's is ACPI_S5_SLP_TYP) */
#define PM1_TMR_STS (1u << 0)
#define PM1_PWRBTN_STS (1u << 8)
#define PM1_RTC_STS (1u << 10)
#define PM1_WAK_STS (1u << 15)
#define PM1_CNT_SCI_EN (1u << 0)
#define PM1_CNT_SLP_EN (1u << 13)

struct acpi_pm {
	struct vm *vm;
	struct cmos *rtc;       /* its alarm wakes from S3 */
	uint64_t facs;          /* guest address of the FACS (its waking vector), 0: no S3 */
	pthread_mutex_t lock;
	uint16_t sts, en, cnt;  /* under lock */
	int64_t tmr_offset;     /* the timer is (monotonic ticks + offset) mod 2^32 */
	uint32_t tmr_acked;     /* bit 31 of the timer when TMR_STS was last cleared */
	bool sci;               /* the level driven on the SCI's GSI */
	bool suspended;         /* under lock: in S3, waiting for a wake event */
	unsigned suspends;      /* times the machine went to S3 and came back */
};
void acpi_pm_init(struct acpi_pm *pm, struct vm *vm, struct cmos *rtc);
void acpi_pm_destroy(struct acpi_pm *pm);
/* Press the fixed power button: PWRBTN_STS and, if enabled, the SCI; wakes from S3. */
int acpi_pm_power_button(struct acpi_pm *pm);
/* The timer's value now (tests, and the register). */
uint32_t acpi_pm_timer(const struct acpi_pm *pm);
/* The register model without the bus (tests): what a guest access does. */
void acpi_pm_access(struct acpi_pm *pm, uint64_t port, uint8_t *data, uint32_t len,
		    bool is_write);

/*
 * PCI bus 0 (pci.c). The host decodes configuration cycles (mechanism #1 at 0xcf8/0xcfc
 * and ECAM) and every memory BAR in its window, and hands a BAR access to the function's
 * bar_io: BARs move when the guest reprograms them, the buses do not change.
 */
#define PCI_CONFIG_PORT 0xcf8u
#define PCI_ECAM_BASE 0xe0000000ull /* bus 0 only: 1 MiB */
#define PCI_ECAM_SIZE 0x100000ull
#define PCI_MMIO_BASE 0xc0000000ull /* the BAR window, in the 32-bit hole */
#define PCI_MMIO_SIZE 0x10000000ull
#define PCI_MAX_SLOTS 32
#define PCI_INTX_GSI 17u /* slot s, pin p (0 = INTA): GSI 17 + (s + p) % 4, level */
#define PCI_BARS 6

struct pci_function;
struct pci_function_ops {
	/* An access to BAR bar at offset off (within its size), from a vCPU thread. */
	void (*bar_io)(struct pci_function *f, unsigned bar, uint64_t off, uint8_t *data,
		       uint32_t len, bool is_write);
	/* Optional, host lock held: config bytes [off, off + len) were written. */
	void (*config_write)(struct pci_function *f, unsigned off, unsigned len);
	/* Optional, host lock held: BAR bar decodes at addr now (0: nowhere). */
	void (*bar_moved)(struct pci_function *f, unsigned bar, uint64_t addr);
};

struct pci_function {
	const struct pci_function_ops *ops;
	void *opaque;
	uint8_t cfg[256];
	uint8_t wmask[256];          /* bits the guest may write */
	uint64_t bar_size[PCI_BARS]; /* 0: none (a 64-bit BAR's upper half is 0 too) */
	bool bar_64[PCI_BARS];
	uint64_t bar_addr[PCI_BARS]; /* where it decodes now; 0: nowhere */
	unsigned slot;
};

struct pci_host {
	struct vm *vm;
	bool enabled;                /* off: no bus (ports and windows read as all ones) */
	pthread_mutex_t lock;
	uint32_t address;            /* 0xcf8 */
	struct pci_function bridge;  /* 00:00.0 */
	struct pci_function *slot[PCI_MAX_SLOTS];
	uint64_t next_bar;           /* the firmware's BAR assignment */
};

void pci_host_init(struct pci_host *p, struct vm *vm);
void pci_host_destroy(struct pci_host *p);
/* A function's header: IDs, class << 8 | revision, subsystem; interrupt pin INTA. */
void pci_function_init(struct pci_function *f, uint16_t vendor, uint16_t device,
		       uint32_t class_rev, uint16_t subsys_vendor, uint16_t subsys);
/* A memory BAR of size bytes (a power of two, 4 KiB or more), 32- or 64-bit. */
void pci_function_bar(struct pci_function *f, unsigned bar, uint64_t size, bool mem64);
/* Into the first free slot, its BARs assigned and decoding: the slot, or -ENOSPC. */
int pci_add(struct pci_host *p, struct pci_function *f);
/* A saved configuration space back into f (a restore): refused (-EINVAL, *why) if a bit the
 * guest cannot write differs from f's; then its BARs decode where cfg says. */
int pci_function_load(struct pci_host *p, struct pci_function *f, const uint8_t cfg[256],
		      const char **why);
/* Out of its slot (only while no vCPU runs). */
void pci_remove(struct pci_host *p, struct pci_function *f);
/* The slot's INTx GSI (pin INTA). */
uint32_t pci_intx_gsi(unsigned slot);
/* Configuration cycles of bus 0 (the registers without the ports; tests). */
uint32_t pci_config_read(struct pci_host *p, unsigned slot, unsigned fn, unsigned off,
			 unsigned len);
void pci_config_write(struct pci_host *p, unsigned slot, unsigned fn, unsigned off,
		      unsigned len, uint32_t v);

#endif
