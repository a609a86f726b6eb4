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
#define PLATFORM_MAX_RANGES 2
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
	acpi_sleep_ops;

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

/* Generic Event Device: a 32-bit event register (read clears it) and an edge GSI. */
#define GED_MMIO_BASE 0xfeb00000ull
#define GED_MMIO_SIZE 0x10u
#define GED_GSI 16u /* above the ISA GSIs the virtio devices take */
#define GED_EVENT_POWER_BUTTON (1u << 0)
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


#endif
