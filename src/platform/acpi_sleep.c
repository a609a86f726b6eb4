/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sleep control and status registers of hardware-reduced ACPI (ACPI 6.5, 4.8.3.7),
 * the FADT's SLEEP_CONTROL_REG and SLEEP_STATUS_REG: how a guest that has shut down turns
 * the machine off. The DSDT's \_S5 says SLP_TYP 5; the guest writes SLP_TYP << 2 | SLP_EN,
 * and the domain powers off with code 0. Other sleep states are not offered (no \_S3):
 * such a write is ignored, as is anything written to the status register.
 */
#include "capsule/log.h"
#include "capsule/platform.h"
#include "capsule/vm.h"

#define SLP_TYP(v) (((v) >> 2) & 7)
#define SLP_EN 0x20

static enum exit_action acpi_sleep_io(struct vcpu *v, void *opaque, uint64_t addr,
				      uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	if (!is_write) {
		for (uint32_t i = 0; i < len; i++)
			data[i] = 0; /* WAK_STS clear: we never come back from a sleep */
		return EXIT_CONTINUE;
	}
	if (addr != ACPI_SLEEP_CONTROL || len != 1 || !(data[0] & SLP_EN))
		return EXIT_CONTINUE;
	if (SLP_TYP(data[0]) != ACPI_S5_SLP_TYP) {
		log_info("vCPU %u asked for sleep type %u, which this machine does not have",
			 v->id, SLP_TYP(data[0]));
		return EXIT_CONTINUE;
	}
	log_info("vCPU %u turned the machine off (ACPI S5)", v->id);
	vm_end(v->vm, VM_END_POWEROFF, 0);
	return EXIT_DOMAIN_END;
}

const struct platform_dev_ops acpi_sleep_ops = {
	.name = "acpi-sleep",
	.ranges = {{PLATFORM_PIO, ACPI_SLEEP_CONTROL, 2}},
	.io = acpi_sleep_io,
};
