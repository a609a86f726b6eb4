/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtio interrupt: the kernel finds the virtio-rng device from its
 * virtio_mmio.device=SIZE@BASE:GSI command line, routes the GSI through the IOAPIC and
 * sleeps in hlt until the device's completion interrupt arrives.
 */
#include "hvm.h"
#include "virtio.h"

static volatile unsigned irqs;
static struct vdev d;

static void on_irq(struct isr_frame *f)
{
	(void)f;
	irqs++;
	vdev_write(&d, VIRTIO_MMIO_INTERRUPT_ACK, vdev_read(&d, VIRTIO_MMIO_INTERRUPT_STATUS));
}

int main(void)
{
	const char *p = strstr(hvm_boot.cmdline, "virtio_mmio.device=");
	static uint8_t buf[256];
	unsigned long base, gsi;
	struct vq q;
	char *end;

	TEST_CHECK(p != NULL);
	p = strchr(p, '@');
	base = strtoul(p + 1, &end, 0);
	gsi = strtoul(end + 1, NULL, 10);
	printf("virtio_irq: device at 0x%lx, GSI %lu\n", base, gsi);
	TEST_CHECK(vdev_at(&d, base, (int)gsi, VIRTIO_ID_RNG) == 0);
	isr_register(0x50, on_irq);
	ioapic_route((unsigned)gsi, 0x50, lapic_id(), false);
	TEST_CHECK(vdev_begin(&d, 1ull << VIRTIO_F_EVENT_IDX) == 0);
	TEST_CHECK(vq_setup(&d, &q, 0, 8) == 0);
	vdev_ready(&d);
	TEST_CHECK(vrng_read(&q, buf, sizeof(buf)) == sizeof(buf));
	/* The completion interrupt is pending in the APIC: take it (the timer bounds the wait). */
	lapic_timer_periodic(0x40, 1000000);
	for (int i = 0; i < 1000 && !irqs; i++)
		__asm__ volatile("sti; hlt; cli");
	lapic_write(0x320, 1u << 16);
	printf("virtio_irq: %u interrupts, %u random bytes\n", irqs, (unsigned)sizeof(buf));
	TEST_CHECK(irqs >= 1);
	test_finish(true);
}
