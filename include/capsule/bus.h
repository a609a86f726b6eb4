/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One I/O bus type for port I/O and MMIO traps: devices register address ranges on the VM
 * they belong to, with one handler signature.
 */
#ifndef CAPSULE_BUS_H
#define CAPSULE_BUS_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu;

/* What a trap handler asks of the vCPU loop. */
enum exit_action {
	EXIT_CONTINUE,  /* resume the guest */
	EXIT_VCPU_STOP, /* this vCPU goes offline; the domain goes on */
	EXIT_DOMAIN_END /* the domain is ending; vm_end() has recorded why */
};

typedef enum exit_action (*io_handler_fn)(struct vcpu *v, void *opaque, uint64_t addr,
					   uint8_t *data, uint32_t len, bool is_write);

#define IO_BUS_MAX_RANGES 64

struct io_range {
	uint64_t base, len;
	io_handler_fn fn;
	void *opaque;
	const char *name;
};

struct io_bus {
	struct io_range ranges[IO_BUS_MAX_RANGES]; /* sorted by base, non-overlapping */
	unsigned count;
};

void bus_init(struct io_bus *bus);
/* 0, -EINVAL (empty or wrapping range), -EEXIST (overlap) or -ENOSPC. */
int bus_register(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn fn,
		 void *opaque, const char *name);
/*
 * Remove the range that starts at base: 0, or -ENOENT. Only while no vCPU can look the
 * bus up (the domain paused, or its vCPUs joined): lookups take no lock.
 */
int bus_unregister(struct io_bus *bus, uint64_t base);
/* The range holding all of [addr, addr + len), or NULL. */
const struct io_range *bus_find(const struct io_bus *bus, uint64_t addr, uint32_t len);

#endif
