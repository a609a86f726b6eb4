/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The legacy PC devices of an HVM domain, each a few registers on the port bus:
 *   uart.c        16550A at 0x3f8, IRQ 4: output to a FILE, input from an fd
 *   i8042.c       keyboard controller: only what reset (0xfe to port 0x64) needs
 *   rtc.c         MC146818 CMOS clock at 0x70/0x71, time from the host, in BCD
 *   debug_exit.c  QEMU's isa-debug-exit at 0xf4: exit status (value << 1) | 1
 *   ged.c         ACPI Generic Event Device (MMIO): the power button of hardware-reduced ACPI
 */
#ifndef CAPSULE_PLATFORM_H
#define CAPSULE_PLATFORM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "capsule/loop.h"

struct vm;

#define UART_COM1_BASE 0x3f8
#define UART_COM1_IRQ 4
#define I8042_DATA 0x60
#define I8042_CMD 0x64
#define RTC_PORT 0x70
#define DEBUG_EXIT_PORT 0xf4

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
	pthread_t rx_thread;
	bool rx_started;
};

int uart_init(struct uart *u, struct vm *vm, FILE *out, int in_fd);
void uart_destroy(struct uart *u);
/* The register model without the bus (tests). */
void uart_access(struct uart *u, unsigned reg, uint8_t *val, bool is_write);

struct cmos {
	uint8_t index;
	uint8_t ram[128];
};
int rtc_init(struct cmos *c, struct vm *vm);
void rtc_access(struct cmos *c, unsigned port, uint8_t *val, bool is_write);

/* Generic Event Device: a 32-bit event register (read clears it) and an edge GSI. */
#define GED_MMIO_SIZE 0x10u
#define GED_EVENT_POWER_BUTTON (1u << 0)
struct ged {
	struct vm *vm;
	uint64_t base;
	uint32_t gsi;
	uint32_t events; /* pending, atomically: set by the host, taken by a guest read */
};
int ged_init(struct ged *g, struct vm *vm, uint64_t base, uint32_t gsi);
/* Set these event bits and pulse the GSI (from any thread): 0 or a negative errno. */
int ged_raise(struct ged *g, uint32_t events);
/* What a guest read of the register returns (and clears). */
uint32_t ged_read(struct ged *g);

int i8042_init(struct vm *vm);
int debug_exit_init(struct vm *vm);

#endif
