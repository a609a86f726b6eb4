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

struct vcaps {
	uint8_t common_bar, notify_bar, isr_bar, device_bar, msix_cap;
	uint32_t common, notify, isr, device, notify_mult;
};

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

/* ---- configuration space ---- */

static uint32_t cf8(unsigned slot, unsigned off)
{
	return 0x80000000u | slot << 11 | (off & 0xfc);
}

static uint32_t cfg32(unsigned slot, unsigned off)
{
	__asm__ volatile("outl %0, %1" : : "a"(cf8(slot, off)), "Nd"((uint16_t)0xcf8));
	return inl(0xcfc);
}

static uint16_t cfg16(unsigned slot, unsigned off)
{
	return (uint16_t)(cfg32(slot, off) >> (8 * (off & 2)));
}

static uint8_t cfg8(unsigned slot, unsigned off)
{
	return (uint8_t)(cfg32(slot, off) >> (8 * (off & 3)));
}

static void cfg_write32(unsigned slot, unsigned off, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(cf8(slot, off)), "Nd"((uint16_t)0xcf8));
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"((uint16_t)0xcfc));
}

static void cfg_write16(unsigned slot, unsigned off, uint16_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(cf8(slot, off)), "Nd"((uint16_t)0xcf8));
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"((uint16_t)(0xcfc + (off & 2))));
}

static uint64_t bar_addr(unsigned slot, unsigned bar)
{
	uint32_t lo = cfg32(slot, 0x10 + 4 * bar);
	uint64_t a = lo & ~0xfu;

	if ((lo & 6) == 4)
		a |= (uint64_t)cfg32(slot, 0x14 + 4 * bar) << 32;
	return a;
}

/* Size a 64-bit BAR as firmware does: decoding off, all ones, read the mask, put it back. */
static uint64_t bar_size64(unsigned slot, unsigned bar)
{
	uint16_t cmd = cfg16(slot, 0x04);
	uint32_t lo = cfg32(slot, 0x10 + 4 * bar), hi = cfg32(slot, 0x14 + 4 * bar);
	uint64_t mask;

	cfg_write16(slot, 0x04, cmd & ~2);
	cfg_write32(slot, 0x10 + 4 * bar, 0xffffffffu);
	cfg_write32(slot, 0x14 + 4 * bar, 0xffffffffu);
	mask = (uint64_t)cfg32(slot, 0x14 + 4 * bar) << 32 | (cfg32(slot, 0x10 + 4 * bar) & ~0xfu);
	cfg_write32(slot, 0x10 + 4 * bar, lo);
	cfg_write32(slot, 0x14 + 4 * bar, hi);
	cfg_write16(slot, 0x04, cmd);
	return ~mask + 1;
}

static bool find_caps(unsigned slot, struct vcaps *c)
{
	unsigned seen = 0;

	memset(c, 0, sizeof(*c));
	if (!(cfg16(slot, 0x06) & 0x10))
		return false;
	for (unsigned p = cfg8(slot, 0x34) & 0xfc, n = 0; p && n < 48; p = cfg8(slot, p + 1) & 0xfc, n++) {
		uint8_t id = cfg8(slot, p), type = cfg8(slot, p + 3), bar = cfg8(slot, p + 4);
		uint32_t off = cfg32(slot, p + 8);

		if (id == 0x11)
			c->msix_cap = (uint8_t)p;
		if (id != 0x09)
			continue;
		if (type == 1 && !(seen & 2))
			c->common_bar = bar, c->common = off, seen |= 2;
		if (type == 2 && !(seen & 4))
			c->notify_bar = bar, c->notify = off, c->notify_mult = cfg32(slot, p + 16), seen |= 4;
		if (type == 3 && !(seen & 8))
			c->isr_bar = bar, c->isr = off, seen |= 8;
		if (type == 4 && !(seen & 16))
			c->device_bar = bar, c->device = off, seen |= 16;
	}
	return seen == 30 && c->msix_cap;
}

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

static void drive_blk(unsigned slot, const struct vcaps *c, uint64_t sectors, bool intx)
{
	uint8_t *bar = (uint8_t *)(uintptr_t)bar_addr(slot, c->common_bar);
	uint32_t table = cfg32(slot, c->msix_cap + 4), pba_at = cfg32(slot, c->msix_cap + 8);
	volatile uint32_t *pba;
	char first[17] = "";
	unsigned apic = lapic_id();
	uint64_t features, capacity;
	uint8_t st;

	TEST_CHECK(c->common_bar == c->notify_bar && c->common_bar == c->device_bar);
	common = bar + c->common;
	notify = (uint8_t *)(uintptr_t)bar_addr(slot, c->notify_bar) + c->notify;
	devcfg = bar + c->device;
	isr = (uint8_t *)(uintptr_t)bar_addr(slot, c->isr_bar) + c->isr;
	msix = (volatile uint32_t *)((uint8_t *)(uintptr_t)bar_addr(slot, table & 7) + (table & ~7u));
	pba = (volatile uint32_t *)((uint8_t *)(uintptr_t)bar_addr(slot, pba_at & 7) + (pba_at & ~7u));
	/* MSI-X: vector 0 the configuration's, 1 the queue's; then on. (INTx: off.) */
	for (unsigned v = 0; v < 2 && !intx; v++) {
		msix[4 * v + 0] = 0xfee00000u | apic << 12;
		msix[4 * v + 1] = 0;
		msix[4 * v + 2] = v ? VEC_QUEUE : VEC_CONFIG;
		msix[4 * v + 3] = 0; /* unmasked */
	}
	if (!intx)
		cfg_write16(slot, c->msix_cap + 2, (uint16_t)(cfg16(slot, c->msix_cap + 2) | 0x8000));
	cfg_write16(slot, 0x04, cfg16(slot, 0x04) | 0x0006); /* memory, bus master */
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
		printf("pci: INTx: pin %u, interrupt line (GSI) %u\n", cfg8(slot, 0x3d), cfg8(slot, 0x3c));
		TEST_CHECK(cfg8(slot, 0x3d) == 1 && cfg8(slot, 0x3c) >= 16);
		ioapic_route(cfg8(slot, 0x3c), VEC_QUEUE, apic, true);
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
		       (unsigned long long)bar_addr(slot, c->common_bar),
		       cfg16(slot, c->msix_cap + 2));
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
		uint32_t id = cfg32(slot, 0), class = cfg32(slot, 8) >> 8;
		volatile uint32_t *e = (volatile uint32_t *)(uintptr_t)(ecam + (slot << 15));

		TEST_CHECK(e[0] == id && e[2] == cfg32(slot, 8)); /* ECAM agrees */
		if (id == 0xffffffffu)
			continue;
		printf("pci: 00:%02x.0 %04x:%04x class %06x subsystem %04x:%04x\n", slot, id & 0xffff,
		       id >> 16, class, cfg16(slot, 0x2c), cfg16(slot, 0x2e));
		if (class == 0x060000 && slot == 0)
			bridges++;
		if ((id & 0xffff) != VIRTIO_VENDOR)
			continue;
		struct vcaps c;
		uint16_t device = (uint16_t)(id >> 16);
		uint64_t size;

		TEST_CHECK(device >= 0x1040 && cfg8(slot, 8) >= 1);  /* modern, revision 1 */
		TEST_CHECK(cfg16(slot, 0x2e) >= 0x40); /* a non-transitional device's subsystem */
		TEST_CHECK(find_caps(slot, &c));
		TEST_CHECK((cfg32(slot, 0x10 + 4 * c.common_bar) & 7) == 4); /* 64-bit memory */
		size = bar_size64(slot, c.common_bar);
		printf("pci:   BAR%u at 0x%llx, %llu KiB; MSI-X: %u vectors\n", c.common_bar,
		       (unsigned long long)bar_addr(slot, c.common_bar), (unsigned long long)size >> 10,
		       (cfg16(slot, c.msix_cap + 2) & 0x7ff) + 1);
		TEST_CHECK(size >= 0x1000 && !(size & (size - 1)));
		TEST_CHECK(bar_addr(slot, c.common_bar) % size == 0);
		TEST_CHECK(bar_addr(slot, c.common_bar) >= 0x80000000u &&
			   bar_addr(slot, c.common_bar) + size <= 0xfec00000u); /* the 32-bit hole */
		if (device == 0x1042)
			blk++, blk_slot = slot;
		if (device == 0x1044)
			rng++;
	}
	printf("pci: %u host bridge(s), %u virtio-blk, %u virtio-rng\n", bridges, blk, rng);
	TEST_CHECK(bridges == 1);
	TEST_CHECK(blk == (want_blk ? 1u : 0u) && rng == (want_rng ? 1u : 0u));
	if (blk) {
		struct vcaps c;

		TEST_CHECK(s != NULL);
		find_caps(blk_slot, &c);
		drive_blk(blk_slot, &c, strtoul(s + 8, NULL, 10), strstr(hvm_boot.cmdline, "intx"));
	}
	test_finish(true);
}
