/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk over either transport, the same driver on both (bench/hvm_blk.c compares
 * them): "mmio" (the device at virtio_mmio.device=SIZE@BASE:GSI, its edge interrupt through
 * the IOAPIC, acknowledged in InterruptACK) or "pci" (the first virtio-blk function, MSI-X,
 * kicks at the notification area). "reqs=N depth=D": N reads of 4 KiB, in batches of D
 * requests published together with one notification; the kernel sleeps in hlt until the
 * device interrupts and the batch is used, counting interrupts. It checks every status and that block 0 starts with
 * "CAPSULE-BLKBENCH", prints "blkbench: start" before the first batch and "blkbench: done"
 * after the last, with the counts.
 */
#include "capsule/virtio_abi.h"
#include "hvm.h"

#define QSIZE 64
#define DEPTH_MAX (QSIZE / 3)
#define BS 4096u
#define VEC_QUEUE 0x60

/* The split ring, with virtio_abi.h's layouts: QSIZE descriptors, avail and used rings. */
static struct virtq_desc descs[QSIZE] __attribute__((aligned(16)));
static struct { uint16_t flags, idx, ring[QSIZE], event; } avail __attribute__((aligned(2)));
static struct {
	uint16_t flags, idx;
	struct virtq_used_elem ring[QSIZE];
	uint16_t event;
} used __attribute__((aligned(4)));
static struct { uint32_t type, reserved; uint64_t sector; } hdr[DEPTH_MAX];
static uint8_t bufs[DEPTH_MAX][BS] __attribute__((aligned(4096)));
static volatile uint8_t status[DEPTH_MAX];

static volatile unsigned irqs;
static volatile uint8_t *mmio_base, *notify;

static void on_irq(struct isr_frame *f)
{
	(void)f;
	irqs++;
	if (mmio_base) /* virtio-mmio: the edge is acknowledged in the device */
		*(volatile uint32_t *)(mmio_base + VIRTIO_MMIO_INTERRUPT_ACK) =
			*(volatile uint32_t *)(mmio_base + VIRTIO_MMIO_INTERRUPT_STATUS);
}

static void w32(volatile uint8_t *p, unsigned off, uint32_t v) { *(volatile uint32_t *)(p + off) = v; }
static uint32_t r32(volatile uint8_t *p, unsigned off) { return *(volatile uint32_t *)(p + off); }

/* virtio-mmio: negotiate VERSION_1, queue 0 of QSIZE, DRIVER_OK. */
static void setup_mmio(void)
{
	const char *p = strstr(hvm_boot.cmdline, "virtio_mmio.device=");
	volatile uint8_t *m;
	char *end;
	unsigned long gsi;

	TEST_CHECK(p != NULL);
	p = strchr(p, '@');
	m = (volatile uint8_t *)(uintptr_t)strtoul(p + 1, &end, 0);
	gsi = strtoul(end + 1, NULL, 10);
	TEST_CHECK(r32(m, VIRTIO_MMIO_MAGIC_VALUE) == VIRTIO_MMIO_MAGIC && r32(m, VIRTIO_MMIO_DEVICE_ID) == VIRTIO_ID_BLOCK);
	ioapic_route((unsigned)gsi, VEC_QUEUE, lapic_id(), false);
	w32(m, VIRTIO_MMIO_STATUS, 0);
	w32(m, VIRTIO_MMIO_STATUS, 1 | 2);
	w32(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	w32(m, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	w32(m, VIRTIO_MMIO_STATUS, 1 | 2 | 8);
	TEST_CHECK(r32(m, VIRTIO_MMIO_STATUS) & 8);
	w32(m, VIRTIO_MMIO_QUEUE_SEL, 0);
	TEST_CHECK(r32(m, VIRTIO_MMIO_QUEUE_NUM_MAX) >= QSIZE);
	w32(m, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	w32(m, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)(uintptr_t)descs);
	w32(m, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)(uintptr_t)&avail);
	w32(m, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)(uintptr_t)&used);
	w32(m, VIRTIO_MMIO_QUEUE_READY, 1);
	w32(m, VIRTIO_MMIO_STATUS, 1 | 2 | 8 | 4);
	mmio_base = m;
	notify = m + VIRTIO_MMIO_QUEUE_NOTIFY;
}

/* virtio-pci: the first virtio-blk function, MSI-X vector 0 for queue 0, DRIVER_OK. */
static void setup_pci(void)
{
	unsigned slot = 1;
	struct vpci_caps c;
	volatile uint8_t *common;
	volatile uint32_t *msix;
	uint32_t table;

	while (slot < 32 && pci_cfg32(slot, 0) != (0x1042u << 16 | 0x1af4))
		slot++;
	TEST_CHECK(slot < 32 && vpci_find_caps(slot, &c));
	common = (volatile uint8_t *)(uintptr_t)pci_bar_addr(slot, c.common_bar) + c.common;
	table = pci_cfg32(slot, c.msix_cap + 4);
	msix = (volatile uint32_t *)(uintptr_t)(pci_bar_addr(slot, table & 7) + (table & ~7u));
	msix[0] = 0xfee00000u | lapic_id() << 12, msix[1] = 0, msix[2] = VEC_QUEUE, msix[3] = 0;
	pci_cfg_write16(slot, c.msix_cap + 2, (uint16_t)(pci_cfg16(slot, c.msix_cap + 2) | 0x8000));
	pci_cfg_write16(slot, 0x04, pci_cfg16(slot, 0x04) | 0x0006);
	common[0x14] = 0;
	common[0x14] = 1 | 2;
	w32(common, 0x08, 1);
	w32(common, 0x0c, 1); /* VERSION_1 */
	common[0x14] = 1 | 2 | 8;
	TEST_CHECK(common[0x14] & 8);
	*(volatile uint16_t *)(common + 0x16) = 0;
	TEST_CHECK(*(volatile uint16_t *)(common + 0x18) >= QSIZE);
	*(volatile uint16_t *)(common + 0x18) = QSIZE;
	*(volatile uint16_t *)(common + 0x1a) = 0;
	w32(common, 0x20, (uint32_t)(uintptr_t)descs), w32(common, 0x24, 0);
	w32(common, 0x28, (uint32_t)(uintptr_t)&avail), w32(common, 0x2c, 0);
	w32(common, 0x30, (uint32_t)(uintptr_t)&used), w32(common, 0x34, 0);
	*(volatile uint16_t *)(common + 0x1c) = 1;
	common[0x14] = 1 | 2 | 8 | 4;
	notify = (volatile uint8_t *)(uintptr_t)pci_bar_addr(slot, c.notify_bar) + c.notify +
		 *(volatile uint16_t *)(common + 0x1e) * c.notify_mult;
}

/* Publish n requests (reads of block first + k), one notification, and sleep as a driver
 * does: until the device's interrupt has come and the batch is used. */
static void batch(unsigned n, uint64_t first)
{
	unsigned seen = irqs;

	for (unsigned k = 0; k < n; k++) {
		hdr[k] = (typeof(hdr[k])){VIRTIO_BLK_T_IN, 0, (first + k) * (BS / 512)};
		status[k] = 0xff;
		descs[3 * k] = (struct virtq_desc){(uint64_t)(uintptr_t)&hdr[k], 16, 1, (uint16_t)(3 * k + 1)};
		descs[3 * k + 1] = (struct virtq_desc){(uint64_t)(uintptr_t)bufs[k], BS, 1 | 2, (uint16_t)(3 * k + 2)};
		descs[3 * k + 2] = (struct virtq_desc){(uint64_t)(uintptr_t)&status[k], 1, 2, 0};
		avail.ring[(avail.idx + k) % QSIZE] = (uint16_t)(3 * k);
	}
	__asm__ volatile("" ::: "memory");
	avail.idx = (uint16_t)(avail.idx + n);
	__asm__ volatile("mfence" ::: "memory");
	if (mmio_base) /* QueueNotify is a 32-bit register; virtio-pci's notification 16 bits */
		*(volatile uint32_t *)notify = 0;
	else
		*(volatile uint16_t *)notify = 0;
	while (irqs == seen || *(volatile uint16_t *)&used.idx != avail.idx)
		__asm__ volatile("sti; hlt; cli");
	for (unsigned k = 0; k < n; k++)
		TEST_CHECK(status[k] == 0);
}

int main(void)
{
	const char *r = strstr(hvm_boot.cmdline, "reqs="), *d = strstr(hvm_boot.cmdline, "depth=");
	unsigned long reqs = r ? strtoul(r + 5, NULL, 10) : 256, depth = d ? strtoul(d + 6, NULL, 10) : 8;
	bool pci = strstr(hvm_boot.cmdline, "pci") != NULL;
	unsigned batches = 0;

	TEST_CHECK(depth >= 1 && depth <= DEPTH_MAX && reqs >= 1);
	isr_register(VEC_QUEUE, on_irq);
	if (pci)
		setup_pci();
	else
		setup_mmio();
	batch(1, 0);
	TEST_CHECK(!memcmp(bufs[0], "CAPSULE-BLKBENCH", 16));
	irqs = 0;
	printf("blkbench: start, %s, %lu reads of %u bytes, %lu at a time\n", pci ? "virtio-pci" : "virtio-mmio",
	       reqs, BS, depth);
	for (unsigned long done = 0; done < reqs; batches++) {
		unsigned n = (unsigned)(reqs - done < depth ? reqs - done : depth);

		batch(n, done % 256);
		done += n;
	}
	printf("blkbench: done, %lu requests, %u notifications, %u interrupts\n", reqs, batches, irqs);
	test_finish(true);
}
