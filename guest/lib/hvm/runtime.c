/* SPDX-License-Identifier: Apache-2.0 */
/* HVM kit runtime: boot information, serial console, exit, interrupts. */
#include "hvm.h"
#include "virtio.h"

#define MB_BOOT_MAGIC 0x2badb002u
#define PVH_MAGIC 0x336ec578u
#define COM1 0x3f8

struct hvm_boot hvm_boot;
extern char _end[];
int main(void);
void hvm_main(uint32_t magic, uint32_t info);
void hvm_isr(struct isr_frame *f);

static isr_fn handlers[256];
static uint64_t idt[512] __attribute__((aligned(16)));
extern char isr_stubs[];

void console_write(const char *s, size_t n)
{
	static spinlock_t lock;

	spin_lock(&lock);
	for (size_t i = 0; i < n; i++) {
		while (!(inb(COM1 + 5) & 0x20)) /* transmitter holding register empty */
			;
		outb(COM1, (uint8_t)s[i]);
	}
	spin_unlock(&lock);
}

void console_flush(void)
{
}

noreturn void debug_exit(uint32_t code)
{
	__asm__ volatile("outl %0, %1" : : "a"(code), "Nd"((uint16_t)0xf4));
	for (;;)
		__asm__ volatile("cli; hlt");
}

noreturn void test_finish(bool ok)
{
	printf("Test result: %s\n", ok ? "SUCCESS" : "FAILURE");
	debug_exit(ok ? 0 : 1);
}

void isr_register(unsigned vector, isr_fn fn)
{
	handlers[vector & 0xff] = fn;
}

void hvm_isr(struct isr_frame *f)
{
	if (f->vector < 32) {
		printf("exception %llu at rip=0x%llx error=0x%llx\n", (unsigned long long)f->vector,
		       (unsigned long long)f->rip, (unsigned long long)f->error);
		test_finish(false);
	}
	if (handlers[f->vector])
		handlers[f->vector](f);
	if (f->vector != 0xff)
		lapic_eoi();
}

static void idt_init(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} desc = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};

	for (unsigned v = 0; v < 256; v++) {
		uint64_t off = (uint64_t)(uintptr_t)isr_stubs + 16 * v;

		idt[2 * v] = (off & 0xffff) | (0x10ull << 16) | (0x8eull << 40) | ((off >> 16) << 48);
		idt[2 * v + 1] = off >> 32;
	}
	__asm__ volatile("lidt %0" : : "m"(desc));
}

static void read_boot_info(uint32_t magic, uint32_t info)
{
	const uint32_t *p = (const uint32_t *)(uintptr_t)info;

	if (magic == MB_BOOT_MAGIC) {
		hvm_boot.cmdline = p[0] & 4 ? (const char *)(uintptr_t)p[4] : "";
		/* GRUB and QEMU put the kernel's path first, then the arguments. */
		hvm_boot.progname = hvm_boot.cmdline;
		while (*hvm_boot.cmdline && *hvm_boot.cmdline != ' ')
			hvm_boot.cmdline++;
		hvm_boot.progname_len = (unsigned)(hvm_boot.cmdline - hvm_boot.progname);
		while (*hvm_boot.cmdline == ' ')
			hvm_boot.cmdline++;
		hvm_boot.mem_top = 0x100000 + (uint64_t)p[2] * 1024;
		hvm_boot.nr_mmap = 0;
		/* Entries of size + 4 bytes: size (u32), addr (u64), len (u64), type (u32). */
		for (uint32_t off = 0; p[0] & 0x40 && off + 24 <= p[11] &&
		     hvm_boot.nr_mmap < HVM_MMAP_MAX;) {
			const uint8_t *e = (const uint8_t *)(uintptr_t)(p[12] + off);
			struct hvm_mmap *m = &hvm_boot.mmap[hvm_boot.nr_mmap++];

			memcpy(&m->addr, e + 4, 8);
			memcpy(&m->len, e + 12, 8);
			memcpy(&m->type, e + 20, 4);
			off += *(const uint32_t *)e + 4;
		}
		if (p[0] & 8 && p[5]) {
			const uint32_t *mod = (const uint32_t *)(uintptr_t)p[6];

			hvm_boot.initrd = mod[0];
			hvm_boot.initrd_size = mod[1] - mod[0];
		}
	} else if (p[0] == PVH_MAGIC) {
		const uint64_t *q = (const uint64_t *)(uintptr_t)(info + 16);
		const uint64_t *map = (const uint64_t *)(uintptr_t)q[3];

		hvm_boot.pvh = true;
		hvm_boot.progname = "";
		hvm_boot.cmdline = (const char *)(uintptr_t)q[1];
		hvm_boot.nr_mmap = p[12] < HVM_MMAP_MAX ? p[12] : HVM_MMAP_MAX;
		for (unsigned i = 0; i < hvm_boot.nr_mmap; i++) {
			hvm_boot.mmap[i] = (struct hvm_mmap){map[3 * i], map[3 * i + 1],
							     (uint32_t)map[3 * i + 2]};
			/* RAM above 1 MiB up to the first hole, as multiboot's mem_upper */
			if ((uint32_t)map[3 * i + 2] == 1 && map[3 * i] <= 0x100000 &&
			    map[3 * i] + map[3 * i + 1] > hvm_boot.mem_top)
				hvm_boot.mem_top = map[3 * i] + map[3 * i + 1];
		}
		if (p[3]) {
			const uint64_t *mod = (const uint64_t *)(uintptr_t)q[0];

			hvm_boot.initrd = mod[0];
			hvm_boot.initrd_size = mod[1];
		}
	} else {
		printf("hvm: unknown boot protocol (magic 0x%x)\n", magic);
		test_finish(false);
	}
}

void hvm_main(uint32_t magic, uint32_t info)
{
	uint64_t heap = ((uint64_t)(uintptr_t)_end + 4095) & ~4095ull;

	read_boot_info(magic, info);
	heap_init(heap, hvm_boot.mem_top < (64ull << 20) ? hvm_boot.mem_top : (64ull << 20));
	outb(0x21, 0xff); /* mask the 8259s: interrupts come through the IOAPIC */
	outb(0xa1, 0xff);
	idt_init();
	lapic_write(0xf0, 0x1ff); /* software enable, spurious vector 0xff */
	debug_exit((uint32_t)main());
}

/* virtio: sleep until any interrupt (the device's, through the IOAPIC). */
int vdev_wait(struct vdev *d, uint64_t deadline_ns)
{
	(void)d, (void)deadline_ns;
	__asm__ volatile("sti; hlt; cli");
	return 1;
}

uint8_t cmos_read(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

void cmos_write(uint8_t reg, uint8_t v)
{
	outb(0x70, reg);
	outb(0x71, v);
}

/* No paravirtual clock here: TSC ticks, used only to order deadlines (not calibrated). */
uint64_t time_ns(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}
