/* SPDX-License-Identifier: Apache-2.0 */
/*
 * QEMU's isa-debug-exit at port 0xf4: writing v ends the domain with exit status
 * (v << 1) | 1, so test kernels written for QEMU report their result unchanged.
 */
#include "capsule/bus.h"
#include "capsule/platform.h"
#include "capsule/vm.h"

static enum exit_action debug_exit_io(struct vcpu *v, void *opaque, uint64_t addr,
				      uint8_t *data, uint32_t len, bool is_write)
{
	uint32_t value = 0;

	(void)opaque, (void)addr;
	if (!is_write) {
		for (uint32_t i = 0; i < len; i++)
			data[i] = 0xff;
		return EXIT_CONTINUE;
	}
	for (uint32_t i = 0; i < len && i < 4; i++)
		value |= (uint32_t)data[i] << (8 * i);
	vm_end(v->vm, VM_END_POWEROFF, (int)((value << 1) | 1));
	return EXIT_DOMAIN_END;
}

const struct platform_dev_ops debug_exit_ops = {
	.name = "debug-exit",
	.ranges = {{PLATFORM_PIO, DEBUG_EXIT_PORT, 4}},
	.io = debug_exit_io,
};
