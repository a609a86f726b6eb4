/* SPDX-License-Identifier: Apache-2.0 */
/* The i8042 keyboard controller, reduced to what a guest uses to reset the machine. */
#include <string.h>

#include "capsule/bus.h"
#include "capsule/log.h"
#include "capsule/platform.h"
#include "capsule/vm.h"

#define I8042_RESET 0xfe

static enum exit_action i8042_io(struct vcpu *v, void *opaque, uint64_t addr, uint8_t *data,
				 uint32_t len, bool is_write)
{
	(void)opaque;
	if (!is_write) {
		/* status: system flag set, buffers empty; data: nothing */
		memset(data, addr == I8042_CMD ? 0x14 : 0x00, len);
		return EXIT_CONTINUE;
	}
	if (addr == I8042_CMD && data[0] == I8042_RESET) {
		log_info("vCPU %u reset the machine through the i8042", v->id);
		vm_end(v->vm, VM_END_REBOOT, 0);
		return EXIT_DOMAIN_END;
	}
	return EXIT_CONTINUE;
}

const struct platform_dev_ops i8042_ops = {
	.name = "i8042",
	.ranges = {{PLATFORM_PIO, I8042_DATA, 1}, {PLATFORM_PIO, I8042_CMD, 1}},
	.io = i8042_io,
};
