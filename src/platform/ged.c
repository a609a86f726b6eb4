/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ACPI Generic Event Device (ACPI0013) of a hardware-reduced platform, as Cloud
 * Hypervisor has it: one 32-bit event register the guest's _EVT method reads (bits of the
 * events since the last read; reading clears them) and an edge-triggered GSI that tells it
 * to look. The host sets bits from any thread; the vCPU that reads takes them all at once,
 * so an event raised meanwhile is either in this read or in the next, never lost.
 */
#include <errno.h>
#include <string.h>

#include "capsule/bus.h"
#include "capsule/log.h"
#include "capsule/platform.h"
#include "capsule/vm.h"

uint32_t ged_read(struct ged *g)
{
	return __atomic_exchange_n(&g->events, 0, __ATOMIC_SEQ_CST);
}

static enum exit_action ged_io(struct vcpu *v, void *opaque, uint64_t addr, uint8_t *data,
			       uint32_t len, bool is_write)
{
	struct ged *g = opaque;
	uint32_t value;

	(void)v;
	if (is_write) /* the register is read-only */
		return EXIT_CONTINUE;
	memset(data, 0, len);
	/* Only a whole-register read at offset 0 clears it: a stray byte read must not eat
	 * an event that _EVT has not seen. */
	if (addr != g->base || len != 4)
		return EXIT_CONTINUE;
	value = ged_read(g);
	memcpy(data, &value, 4);
	return EXIT_CONTINUE;
}

int ged_raise(struct ged *g, uint32_t events)
{
	int rc;

	__atomic_fetch_or(&g->events, events, __ATOMIC_SEQ_CST);
	/* A pulse: the IOAPIC pin is edge-triggered, so the guest sees one interrupt however
	 * many events are pending, and reads them all. */
	rc = vm_irq_line(g->vm, g->gsi, true);
	if (!rc)
		rc = vm_irq_line(g->vm, g->gsi, false);
	if (rc)
		log_err("GED: cannot raise GSI %u: %s", g->gsi, strerror(-rc));
	return rc;
}

void ged_init(struct ged *g, struct vm *vm)
{
	memset(g, 0, sizeof(*g));
	g->vm = vm;
	g->base = GED_MMIO_BASE;
	g->gsi = GED_GSI;
}

/* Events raised and not yet read: the one piece of state (the GSI is an edge). */
static size_t ged_save(void *dev, uint8_t *buf, size_t cap)
{
	uint32_t events = __atomic_load_n(&((struct ged *)dev)->events, __ATOMIC_SEQ_CST);

	if (cap < sizeof(events))
		return 0;
	memcpy(buf, &events, sizeof(events));
	return sizeof(events);
}

static int ged_restore(void *dev, const uint8_t *buf, size_t len, const char **why)
{
	uint32_t events;

	if (len != sizeof(events)) {
		*why = "the GED state has the wrong size";
		return -EINVAL;
	}
	memcpy(&events, buf, sizeof(events));
	if (events & ~(GED_EVENT_POWER_BUTTON | GED_EVENT_VMGENID)) {
		*why = "the GED state has events this device does not have";
		return -EINVAL;
	}
	__atomic_store_n(&((struct ged *)dev)->events, events, __ATOMIC_SEQ_CST);
	return 0;
}

const struct platform_dev_ops ged_ops = {
	.name = "ged",
	.ranges = {{PLATFORM_MMIO, GED_MMIO_BASE, GED_MMIO_SIZE}},
	.io = ged_io,
	.save = ged_save,
	.restore = ged_restore,
};
