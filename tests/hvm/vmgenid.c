/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM generation ID, as a guest's driver finds it: the DSDT's device with _HID
 * "VMGENCTR" and its ADDR method's package (the ID's guest-physical address, low and high
 * halves; decoded here from the AML, since a test kernel has no interpreter). It prints
 * the ID, says it is waiting and sleeps until the GED interrupts: the VMGENID event (bit 1)
 * must come with a different, nonzero ID (a restored copy); the power button (bit 0, in a
 * domain that was not restored) ends the test as a failure.
 */
#include "hvm.h"

#define GED_EVENTS 0xfeb00000ul
#define GED_GSI 16
#define VEC_GED 0x51
#define GED_VMGENID 2u

static volatile uint32_t events;

static void on_ged(struct isr_frame *f)
{
	(void)f;
	events |= *(volatile uint32_t *)GED_EVENTS; /* the read clears the register */
}

/* An AML integer at p (ZeroOp, OneOp, Byte/Word/DWord/QWordConst): its length, or 0. */
static unsigned aml_int(const uint8_t *p, uint64_t *v)
{
	static const unsigned len[] = {[0x0a] = 1, [0x0b] = 2, [0x0c] = 4, [0x0e] = 8};

	if (p[0] == 0 || p[0] == 1) {
		*v = p[0];
		return 1;
	}
	if (p[0] < 0x0a || p[0] > 0x0e || !len[p[0]])
		return 0;
	*v = acpi_le(p + 1, len[p[0]]);
	return 1 + len[p[0]];
}

/* Method (ADDR) { Return (Package (2) { lo, hi }) } after "VMGENCTR": the address, or 0. */
static uint64_t vmgenid_addr(void)
{
	const uint8_t *dsdt = acpi_table("DSDT"), *end, *p;
	uint64_t lo, hi;
	unsigned n;

	if (!dsdt)
		return 0;
	end = dsdt + acpi_le(dsdt + 4, 4);
	for (p = dsdt + 36; p + 8 < end && memcmp(p, "VMGENCTR", 8); p++)
		;
	for (; p + 4 < end && memcmp(p, "ADDR", 4); p++)
		;
	if (p + 15 > end) /* "ADDR", flags, Return, Package, length, 2, lo (up to 5), hi */
		return 0;
	p += 5; /* the name, the method's flags */
	if (*p++ != 0xa4 || *p++ != 0x12) /* ReturnOp, PackageOp */
		return 0;
	p += (*p >> 6) + 1; /* PkgLength */
	if (*p++ != 2 || !(n = aml_int(p, &lo)) || !aml_int(p + n, &hi))
		return 0;
	return hi << 32 | lo;
}

static void print_id(const char *what, const uint8_t *id)
{
	printf("vmgenid: %s ", what);
	for (unsigned i = 0; i < 16; i++)
		printf("%02x", id[i]);
	printf("\n");
}

int main(void)
{
	uint64_t addr = vmgenid_addr();
	uint8_t first[16], zero[16] = {0};
	const volatile uint8_t *id = (const volatile uint8_t *)(uintptr_t)addr;

	printf("vmgenid: ADDR 0x%llx\n", (unsigned long long)addr);
	TEST_CHECK(addr != 0 && addr % 8 == 0);
	for (unsigned i = 0; i < hvm_boot.nr_mmap; i++) /* not RAM the guest may take */
		TEST_CHECK(!(hvm_boot.mmap[i].type == 1 && addr >= hvm_boot.mmap[i].addr &&
			     addr < hvm_boot.mmap[i].addr + hvm_boot.mmap[i].len));
	for (unsigned i = 0; i < 16; i++)
		first[i] = id[i];
	print_id("id", first);
	TEST_CHECK(memcmp(first, zero, 16) != 0);
	isr_register(VEC_GED, on_ged);
	ioapic_route(GED_GSI, VEC_GED, lapic_id(), false);
	printf("vmgenid: waiting\n");
	while (!events)
		__asm__ volatile("sti; hlt; cli");
	printf("vmgenid: GED events 0x%x\n", events);
	TEST_CHECK(events & GED_VMGENID);
	uint8_t now[16];
	for (unsigned i = 0; i < 16; i++)
		now[i] = id[i];
	print_id("new id", now);
	TEST_CHECK(memcmp(now, first, 16) != 0 && memcmp(now, zero, 16) != 0);
	test_finish(true);
}
