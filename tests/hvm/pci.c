/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PCI as a kernel that only probes PCI sees it: configuration mechanism #1 (0xcf8/0xcfc)
 * and ECAM (the MCFG table's window) agree; bus 0 has the host bridge at 00:00.0 and a
 * modern virtio-pci function for each device the command line names ("blk", "rng"), with
 * the right IDs (0x1040 + the device type), revision 1 and a subsystem ID of 0x40 or more, the virtio capabilities, MSI-X, and a 64-bit
 * memory BAR that sizes as a BAR does and lies in the host bridge's window. Then it drives
 * the virtio-blk function as Linux's virtio_pci does, with MSI-X: reads the first sector
 * ("CAPSULE-PCI-DISK"), writes and reads back the second, each completion one MSI-X
 * interrupt; with the vector masked a completion is held in the PBA and delivered when it
 * is unmasked. "sectors=N" on the command line: the disk's capacity. "intx": the same with
 * MSI-X off, on the legacy interrupt the function's interrupt line names (the _PRT's GSI,
 * level-triggered): each completion one interrupt, which reading the ISR ends.
 */
#include "hvm.h"

#define VIRTIO_VENDOR 0x1af4
#define VEC_QUEUE 0x60
#define VEC_CONFIG 0x61
#define VEC_TIMER 0x40
#define QSIZE 8

static volatile unsigned queue_irqs, config_irqs, ticks;

static volatile uint8_t *isr;
static volatile unsigned intx_isr_bits, intx_spurious;

static void on_queue(struct isr_frame *f) { (void)f; queue_irqs++; }
/* INTx is a level: reading the ISR (which clears it) is what lowers it, before the EOI.
 * An interrupt that finds the ISR empty is not the device's (Linux's vp_interrupt answers
 * IRQ_NONE to it): counted apart. */
static void on_intx(struct isr_frame *f)
{
	uint8_t bits = *isr;

	(void)f;
	intx_isr_bits |= bits;
	if (bits)
		queue_irqs++;
	else
		intx_spurious++;
}
static void on_config(struct isr_frame *f) { (void)f; config_irqs++; }
static void on_tick(struct isr_frame *f) { (void)f; ticks++; }

/* "snap": the GED (tests/hvm/powerbutton.c) tells the kernel to go on after a snapshot. */
#define GED_EVENTS 0xfeb00000ul
#define GED_GSI 16
#define VEC_GED 0x51
static volatile uint32_t ged_seen;
static void on_ged(struct isr_frame *f) { (void)f; ged_seen |= *(volatile uint32_t *)GED_EVENTS; }

/* ---- virtio-blk over virtio-pci ---- */

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static struct desc descs[QSIZE] __attribute__((aligned(16)));
static struct { uint16_t flags, idx, ring[QSIZE], event; } avail __attribute__((aligned(2)));
static struct { uint16_t flags, idx; struct { uint32_t id, len; } ring[QSIZE]; uint16_t event; }
	used __attribute__((aligned(4)));
static struct { uint32_t type, reserved; uint64_t sector; } req;
static uint8_t data[512], status;

static volatile uint8_t *common, *notify, *devcfg;
static volatile uint32_t *msix;

static void w64(volatile uint8_t *p, uint64_t v)
{
	*(volatile uint32_t *)p = (uint32_t)v;
	*(volatile uint32_t *)(p + 4) = (uint32_t)(v >> 32);
}

/* One request of 3 descriptors; wait (bounded by the timer) for the used ring to move. */
static bool blk_request(uint32_t type, uint64_t sector, bool expect_irq)
{
	uint16_t want = (uint16_t)(used.idx + 1);
	unsigned irqs = queue_irqs, start = ticks;

	req = (typeof(req)){type, 0, sector};
	status = 0xff;
	descs[0] = (struct desc){(uint64_t)(uintptr_t)&req, sizeof(req), 1, 1};
	descs[1] = (struct desc){(uint64_t)(uintptr_t)data, 512, type == 0 ? 1 | 2 : 1, 2};
	descs[2] = (struct desc){(uint64_t)(uintptr_t)&status, 1, 2, 0};
	avail.ring[avail.idx % QSIZE] = 0;
	__asm__ volatile("" ::: "memory");
	avail.idx++;
	__asm__ volatile("mfence" ::: "memory");
	*(volatile uint16_t *)notify = 0; /* queue 0 */
	while ((expect_irq ? queue_irqs == irqs : *(volatile uint16_t *)&used.idx != want) &&
	       ticks - start < 500)
		__asm__ volatile("sti; hlt; cli");
	return *(volatile uint16_t *)&used.idx == want && status == 0;
}

/* Write a pattern (i * mul + add) to sector, read it back into a cleared buffer, compare. */
static void write_read_back(uint64_t sector, unsigned mul, unsigned add)
{
	for (unsigned i = 0; i < 512; i++)
		data[i] = (uint8_t)(i * mul + add);
	TEST_CHECK(blk_request(1, sector, true));
	memset(data, 0, sizeof(data));
	TEST_CHECK(blk_request(0, sector, true));
	for (unsigned i = 0; i < 512; i++)
		TEST_CHECK(data[i] == (uint8_t)(i * mul + add));
}

static void drive_blk(unsigned slot, const struct vpci_caps *c, uint64_t sectors, bool intx)
{
	uint8_t *bar = (uint8_t *)(uintptr_t)pci_bar_addr(slot, c->common_bar);
	uint32_t table = pci_cfg32(slot, c->msix_cap + 4), pba_at = pci_cfg32(slot, c->msix_cap + 8);
	volatile uint32_t *pba;
	char first[17] = "";
	unsigned apic = lapic_id();
	uint64_t features, capacity;
	uint8_t st;

	TEST_CHECK(c->common_bar == c->notify_bar && c->common_bar == c->device_bar);
	common = bar + c->common;
	notify = (uint8_t *)(uintptr_t)pci_bar_addr(slot, c->notify_bar) + c->notify;
	devcfg = bar + c->device;
	isr = (uint8_t *)(uintptr_t)pci_bar_addr(slot, c->isr_bar) + c->isr;
	msix = (volatile uint32_t *)((uint8_t *)(uintptr_t)pci_bar_addr(slot, table & 7) + (table & ~7u));
	pba = (volatile uint32_t *)((uint8_t *)(uintptr_t)pci_bar_addr(slot, pba_at & 7) + (pba_at & ~7u));
	/* MSI-X: vector 0 the configuration's, 1 the queue's; then on. (INTx: off.) */
	for (unsigned v = 0; v < 2 && !intx; v++) {
		msix[4 * v + 0] = 0xfee00000u | apic << 12;
		msix[4 * v + 1] = 0;
		msix[4 * v + 2] = v ? VEC_QUEUE : VEC_CONFIG;
		msix[4 * v + 3] = 0; /* unmasked */
	}
	if (!intx)
		pci_cfg_write16(slot, c->msix_cap + 2, (uint16_t)(pci_cfg16(slot, c->msix_cap + 2) | 0x8000));
	pci_cfg_write16(slot, 0x04, pci_cfg16(slot, 0x04) | 0x0006); /* memory, bus master */
	common[0x14] = 0;        /* reset */
	TEST_CHECK(common[0x14] == 0);
	common[0x14] = 1 | 2;    /* ACKNOWLEDGE, DRIVER */
	*(volatile uint32_t *)(common + 0x00) = 0;
	features = *(volatile uint32_t *)(common + 0x04);
	*(volatile uint32_t *)(common + 0x00) = 1;
	features |= (uint64_t)*(volatile uint32_t *)(common + 0x04) << 32;
	printf("pci: virtio-blk features 0x%llx, %u queue(s)\n", (unsigned long long)features,
	       *(volatile uint16_t *)(common + 0x12));
	TEST_CHECK(features & (1ull << 32)); /* VERSION_1 */
	*(volatile uint32_t *)(common + 0x08) = 0;
	*(volatile uint32_t *)(common + 0x0c) = 0;
	*(volatile uint32_t *)(common + 0x08) = 1;
	*(volatile uint32_t *)(common + 0x0c) = 1; /* VERSION_1 only */
	common[0x14] = 1 | 2 | 8; /* FEATURES_OK */
	TEST_CHECK(common[0x14] & 8);
	*(volatile uint16_t *)(common + 0x10) = 0; /* config_msix_vector */
	TEST_CHECK(*(volatile uint16_t *)(common + 0x10) == 0);
	*(volatile uint16_t *)(common + 0x16) = 0; /* queue 0 */
	TEST_CHECK(*(volatile uint16_t *)(common + 0x18) >= QSIZE);
	*(volatile uint16_t *)(common + 0x18) = QSIZE;
	*(volatile uint16_t *)(common + 0x1a) = 1; /* queue_msix_vector */
	TEST_CHECK(*(volatile uint16_t *)(common + 0x1a) == 1);
	notify += *(volatile uint16_t *)(common + 0x1e) * c->notify_mult;
	w64(common + 0x20, (uint64_t)(uintptr_t)descs);
	w64(common + 0x28, (uint64_t)(uintptr_t)&avail);
	w64(common + 0x30, (uint64_t)(uintptr_t)&used);
	*(volatile uint16_t *)(common + 0x1c) = 1; /* queue_enable */
	common[0x14] = 1 | 2 | 8 | 4; /* DRIVER_OK */
	st = common[0x14];
	capacity = *(volatile uint32_t *)devcfg | (uint64_t)*(volatile uint32_t *)(devcfg + 4) << 32;
	printf("pci: virtio-blk status 0x%x, capacity %llu sectors\n", st,
	       (unsigned long long)capacity);
	TEST_CHECK(st == 0xf);
	TEST_CHECK(capacity == sectors);

	isr_register(VEC_QUEUE, intx ? on_intx : on_queue);
	isr_register(VEC_CONFIG, on_config);
	if (intx) {
		printf("pci: INTx: pin %u, interrupt line (GSI) %u\n", pci_cfg8(slot, 0x3d), pci_cfg8(slot, 0x3c));
		TEST_CHECK(pci_cfg8(slot, 0x3d) == 1 && pci_cfg8(slot, 0x3c) >= 16);
		ioapic_route(pci_cfg8(slot, 0x3c), VEC_QUEUE, apic, true);
	}
	isr_register(VEC_TIMER, on_tick);
	lapic_timer_periodic(VEC_TIMER, 10000000);
	TEST_CHECK(blk_request(0, 0, true));
	memcpy(first, data, 16);
	printf("pci: sector 0 reads \"%s\" after %u %s interrupt(s)\n", first, queue_irqs,
	       intx ? "INTx" : "MSI-X");
	TEST_CHECK(!memcmp(data, "CAPSULE-PCI-DISK", 16));
	TEST_CHECK(queue_irqs == 1);
	write_read_back(1, 7, 3);
	TEST_CHECK(queue_irqs == 3);
	if (intx) { /* one level interrupt per completion, each ended by its ISR read */
		printf("pci: INTx: %u interrupt(s), ISR bits 0x%x, %u with an empty ISR\n", queue_irqs,
		       intx_isr_bits, intx_spurious);
		TEST_CHECK(intx_isr_bits == 1);
		TEST_CHECK(*isr == 0);
		lapic_write(0x320, 1u << 16);
		return;
	}
	/* Masked: the completion waits in the PBA; unmasking delivers it. */
	msix[4 * 1 + 3] = 1;
	TEST_CHECK(blk_request(0, 0, false));
	for (unsigned t = ticks; ticks - t < 5;)
		__asm__ volatile("sti; hlt; cli");
	printf("pci: masked: %u interrupt(s), PBA 0x%x\n", queue_irqs, pba[0]);
	TEST_CHECK(queue_irqs == 3);
	TEST_CHECK(pba[0] & 2);
	msix[4 * 1 + 3] = 0;
	for (unsigned t = ticks; queue_irqs == 3 && ticks - t < 100;)
		__asm__ volatile("sti; hlt; cli");
	printf("pci: unmasked: %u interrupt(s), PBA 0x%x\n", queue_irqs, pba[0]);
	TEST_CHECK(queue_irqs == 4);
	TEST_CHECK(!(pba[0] & 2));
	if (strstr(hvm_boot.cmdline, "snap")) {
		/* Wait for the power button (a snapshot is taken meanwhile, and this may be the
		 * restored copy), then drive the disk again: the BAR, the queue and the MSI-X
		 * vectors must all have come back. */
		isr_register(VEC_GED, on_ged);
		ioapic_route(GED_GSI, VEC_GED, apic, false);
		printf("pci: waiting for the power button\n");
		while (!(ged_seen & 1))
			__asm__ volatile("sti; hlt; cli");
		printf("pci: GED events 0x%x; BAR at 0x%llx, MSI-X control 0x%x\n", ged_seen,
		       (unsigned long long)pci_bar_addr(slot, c->common_bar),
		       pci_cfg16(slot, c->msix_cap + 2));
		write_read_back(2, 5, 1);
		TEST_CHECK(blk_request(0, 1, true)); /* what was written before the snapshot */
		for (unsigned i = 0; i < 512; i++)
			TEST_CHECK(data[i] == (uint8_t)(i * 7 + 3));
		printf("pci: after the button: %u MSI-X interrupt(s) in all\n", queue_irqs);
		TEST_CHECK(queue_irqs == 7);
	}
	lapic_write(0x320, 1u << 16);
}

int main(void)
{
	const uint8_t *mcfg = acpi_table("MCFG");
	const char *s = strstr(hvm_boot.cmdline, "sectors=");
	bool want_blk = strstr(hvm_boot.cmdline, "blk"), want_rng = strstr(hvm_boot.cmdline, "rng");
	unsigned blk = 0, rng = 0, blk_slot = 0, bridges = 0;
	uint64_t ecam;

	TEST_CHECK(mcfg != NULL);
	ecam = acpi_le(mcfg + 44, 8);
	printf("pci: MCFG: ECAM at 0x%llx, buses %u-%u\n", (unsigned long long)ecam, mcfg[54],
	       mcfg[55]);
	for (unsigned slot = 0; slot < 32; slot++) {
		uint32_t id = pci_cfg32(slot, 0), class = pci_cfg32(slot, 8) >> 8;
		volatile uint32_t *e = (volatile uint32_t *)(uintptr_t)(ecam + (slot << 15));

		TEST_CHECK(e[0] == id && e[2] == pci_cfg32(slot, 8)); /* ECAM agrees */
		if (id == 0xffffffffu)
			continue;
		printf("pci: 00:%02x.0 %04x:%04x class %06x subsystem %04x:%04x\n", slot, id & 0xffff,
		       id >> 16, class, pci_cfg16(slot, 0x2c), pci_cfg16(slot, 0x2e));
		if (class == 0x060000 && slot == 0)
			bridges++;
		if ((id & 0xffff) != VIRTIO_VENDOR)
			continue;
		struct vpci_caps c;
		uint16_t device = (uint16_t)(id >> 16);
		uint64_t size;

		TEST_CHECK(device >= 0x1040 && pci_cfg8(slot, 8) >= 1);  /* modern, revision 1 */
		TEST_CHECK(pci_cfg16(slot, 0x2e) >= 0x40); /* a non-transitional device's subsystem */
		TEST_CHECK(vpci_find_caps(slot, &c));
		TEST_CHECK((pci_cfg32(slot, 0x10 + 4 * c.common_bar) & 7) == 4); /* 64-bit memory */
		size = pci_bar_size64(slot, c.common_bar);
		printf("pci:   BAR%u at 0x%llx, %llu KiB; MSI-X: %u vectors\n", c.common_bar,
		       (unsigned long long)pci_bar_addr(slot, c.common_bar), (unsigned long long)size >> 10,
		       (pci_cfg16(slot, c.msix_cap + 2) & 0x7ff) + 1);
		TEST_CHECK(size >= 0x1000 && !(size & (size - 1)));
		TEST_CHECK(pci_bar_addr(slot, c.common_bar) % size == 0);
		TEST_CHECK(pci_bar_addr(slot, c.common_bar) >= 0x80000000u &&
			   pci_bar_addr(slot, c.common_bar) + size <= 0xfec00000u); /* the 32-bit hole */
		if (device == 0x1042)
			blk++, blk_slot = slot;
		if (device == 0x1044)
			rng++;
	}
	printf("pci: %u host bridge(s), %u virtio-blk, %u virtio-rng\n", bridges, blk, rng);
	TEST_CHECK(bridges == 1);
	TEST_CHECK(blk == (want_blk ? 1u : 0u) && rng == (want_rng ? 1u : 0u));
	if (blk) {
		struct vpci_caps c;

		TEST_CHECK(s != NULL);
		vpci_find_caps(blk_slot, &c);
		drive_blk(blk_slot, &c, strtoul(s + 8, NULL, 10), strstr(hvm_boot.cmdline, "intx"));
	}
	test_finish(true);
}
