/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RAM above 4 GiB: the memory map (multiboot's or PVH's) has RAM from 1 MiB up to low= MiB
 * (or up to 1 MiB less, which a firmware keeps), none in the PCI hole from there to 4 GiB, and high= MiB of RAM from 4 GiB; the test writes
 * a pattern that names each page's address into the first, middle and last pages of the high
 * range (and the last page below the hole), then reads all of them back, so pages that were
 * not RAM or that aliased each other would show. With "hole", a write into the hole must not
 * stick (it is not RAM). The kit maps 4 GiB; the high pages get 2 MiB mappings of their own.
 * With "snap", for a snapshot test: after the first check it says it is waiting and sleeps
 * until the ACPI power button (the GED, hardware-reduced ACPI: capsule control shutdown),
 * checks the pages again, writes a second pattern over the same pages, says so and waits for a second press; then
 * checks the second pattern (in a domain restored from a snapshot taken while it waited).
 * The command line: "low=MIB high=MIB [hole] [snap] [pvh]" (pvh: it must have booted so).
 */
#include "hvm.h"

#define GIB (1ull << 30)
#define MIB (1ull << 20)
#define QWORDS (4096 / 8)

/* The GED's register and GSI where Capsule puts them (tests/hvm/powerbutton.c). */
#define GED_EVENTS 0xfeb00000ul
#define GED_GSI 16
#define VEC_GED 0x51

static volatile unsigned presses;

static void on_ged(struct isr_frame *f)
{
	(void)f;
	(void)*(volatile uint32_t *)GED_EVENTS; /* the read clears the event */
	presses++;
}

static void wait_press(const char *what)
{
	unsigned seen = presses;

	printf("highmem: %s, waiting for the power button\n", what);
	while (presses == seen)
		__asm__ volatile("sti; hlt; cli");
}

static uint64_t pds[4][512] __attribute__((aligned(4096)));
static unsigned nr_pds;

static unsigned long arg(const char *name)
{
	const char *p = strstr(hvm_boot.cmdline, name);

	return p ? strtoul(p + strlen(name), NULL, 0) : 0;
}

/* Identity-map the 2 MiB page around gpa (above 4 GiB, where the kit maps nothing). */
static bool map_high(uint64_t gpa)
{
	uint64_t cr3, *pml4, *pdpt, *pd;

	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	pml4 = (uint64_t *)(uintptr_t)(cr3 & ~0xfffull);
	pdpt = (uint64_t *)(uintptr_t)(pml4[0] & ~0xfffull);
	if (gpa >> 39)
		return false; /* beyond pml4[0]'s 512 GiB: not needed for these sizes */
	if (!(pdpt[gpa >> 30] & 1)) {
		if (nr_pds == 4)
			return false;
		pdpt[gpa >> 30] = (uint64_t)(uintptr_t)pds[nr_pds++] | 3;
	}
	pd = (uint64_t *)(uintptr_t)(pdpt[gpa >> 30] & ~0xfffull);
	pd[(gpa >> 21) & 511] = (gpa & ~(2 * MIB - 1)) | 0x83;
	__asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
	return true;
}

static uint64_t salt = 0x5a5aa5a5c3c33c3cull;

static uint64_t pattern(uint64_t gpa, unsigned i)
{
	return (gpa + 8ull * i) ^ salt;
}

static void fill(uint64_t gpa)
{
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)gpa;

	for (unsigned i = 0; i < QWORDS; i++)
		p[i] = pattern(gpa, i);
}

static bool same(uint64_t gpa)
{
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)gpa;

	for (unsigned i = 0; i < QWORDS; i++)
		if (p[i] != pattern(gpa, i)) {
			printf("highmem: page 0x%llx word %u reads 0x%llx\n", (unsigned long long)gpa,
			       i, (unsigned long long)p[i]);
			return false;
		}
	return true;
}

int main(void)
{
	uint64_t low = arg("low=") * MIB, high = arg("high=") * MIB;
	uint64_t low_end = 0, high_len = 0, pages[4];
	bool hole_ram = false;

	printf("highmem: booted by %s\n", hvm_boot.pvh ? "PVH" : "multiboot");
	TEST_CHECK(hvm_boot.pvh == (strstr(hvm_boot.cmdline, "pvh") != NULL));
	TEST_CHECK(low > 16 * MIB && high >= 4 * MIB);
	for (unsigned i = 0; i < hvm_boot.nr_mmap; i++) {
		const struct hvm_mmap *m = &hvm_boot.mmap[i];

		printf("highmem: map %llx-%llx type %u\n", (unsigned long long)m->addr,
		       (unsigned long long)(m->addr + m->len), m->type);
		if (m->type != 1)
			continue;
		if (m->addr <= MIB && m->addr + m->len > MIB)
			low_end = m->addr + m->len;
		if (m->addr == 4 * GIB)
			high_len = m->len;
		if (m->addr < 4 * GIB && m->addr + m->len > low)
			hole_ram = true;
	}
	printf("highmem: RAM to %llu MiB, then %llu MiB from 4 GiB\n",
	       (unsigned long long)(low_end / MIB), (unsigned long long)(high_len / MIB));
	/* A firmware may keep the last pages below the hole (QEMU's pc: 128 KiB of tables). */
	TEST_CHECK(low_end <= low && low_end > low - MIB);
	TEST_CHECK(!hole_ram);
	TEST_CHECK(high_len == high);
	TEST_CHECK(hvm_boot.mem_top == low_end);

	pages[0] = 4 * GIB;
	pages[1] = (4 * GIB + high / 2) & ~0xfffull;
	pages[2] = 4 * GIB + high - 4096;
	pages[3] = low_end - 4096;
	for (unsigned i = 0; i < 3; i++)
		TEST_CHECK(map_high(pages[i]));
	for (unsigned i = 0; i < 4; i++)
		fill(pages[i]);
	for (unsigned i = 0; i < 4; i++)
		TEST_CHECK(same(pages[i]));
	printf("highmem: patterns at 0x%llx, 0x%llx, 0x%llx and 0x%llx read back\n",
	       (unsigned long long)pages[0], (unsigned long long)pages[1],
	       (unsigned long long)pages[2], (unsigned long long)pages[3]);
	if (strstr(hvm_boot.cmdline, "snap")) {
		isr_register(VEC_GED, on_ged);
		ioapic_route(GED_GSI, VEC_GED, lapic_id(), false);
		wait_press("written");
		for (unsigned i = 0; i < 4; i++) /* still there (in a restored copy too) */
			TEST_CHECK(same(pages[i]));
		salt = 0x0123456789abcdefull;
		for (unsigned i = 0; i < 4; i++)
			fill(pages[i]);
		wait_press("rewritten");
		for (unsigned i = 0; i < 4; i++)
			TEST_CHECK(same(pages[i]));
		printf("highmem: the second patterns read back\n");
	}
	if (strstr(hvm_boot.cmdline, "hole")) {
		volatile uint32_t *h = (volatile uint32_t *)(uintptr_t)(low + 128 * MIB);

		*h = 0x12345678;
		printf("highmem: the hole at 0x%llx reads 0x%x after a write\n",
		       (unsigned long long)(uintptr_t)h, *h);
		TEST_CHECK(*h != 0x12345678);
	}
	test_finish(true);
}
