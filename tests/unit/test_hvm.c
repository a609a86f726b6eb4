/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HVM pieces without KVM: ACPI tables (checksums, and iasl must disassemble them), the
 * bzImage and multiboot parsers against hand-made images, the UART, RTC and GED registers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule/bus.h"
#include "capsule/hvm.h"
#include "capsule/loader.h"
#include "capsule/log.h"

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Write one table to a file, run iasl -d on it, return the disassembly (malloc'd). */
static char *disassemble(const uint8_t *table, const char *name)
{
	char dir[] = "/tmp/capsule-acpi-XXXXXX", path[256], cmd[512];
	static char text[65536];
	size_t n;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	f = fopen(path, "wb");
	fwrite(table, 1, le32(table + 4), f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -d %s.dat >iasl.log 2>&1", dir, name);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/%s.dsl", dir, name);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = 0;
	fclose(f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return text;
}

static void acpi_tables(void **state)
{
	struct vm_config cfg = {.mem_bytes = 64 << 20, .nr_vcpus = 3};
	static struct hvm_domain h;
	struct vm vm;
	uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt;
	char *dsl;

	(void)state;
	assert_int_equal(vm_init_nokvm(&vm, &cfg), 0);
	memset(&h, 0, sizeof(h));
	h.vm = &vm;
	for (unsigned i = 0; i < 2; i++) { /* two virtio devices, as hvm_add_device places them */
		h.devices[i].dev.base = HVM_VIRTIO_BASE + i * VIRTIO_MMIO_SIZE;
		h.devices[i].gsi = hvm_device_gsi(HVM_ACPI_REDUCED, i);
	}
	h.nr_devices = 2;
	assert_int_equal(acpi_build(&h), 0);
	rsdp = gmem_ptr(&vm.mem, h.rsdp, 36);
	assert_memory_equal(rsdp, "RSD PTR ", 8);
	assert_int_equal(sum(rsdp, 20), 0);
	assert_int_equal(sum(rsdp, 36), 0);
	xsdt = gmem_ptr(&vm.mem, le32(rsdp + 24), 36);
	assert_memory_equal(xsdt, "XSDT", 4);
	assert_int_equal(sum(xsdt, le32(xsdt + 4)), 0);
	fadt = gmem_ptr(&vm.mem, le32(xsdt + 36), 276);
	madt = gmem_ptr(&vm.mem, le32(xsdt + 44), 36);
	assert_memory_equal(fadt, "FACP", 4);
	assert_memory_equal(madt, "APIC", 4);
	dsdt = gmem_ptr(&vm.mem, le32(fadt + 40), 36);
	assert_memory_equal(dsdt, "DSDT", 4);
	for (uint8_t *t = xsdt; t; t = t == xsdt ? fadt : t == fadt ? madt : t == madt ? dsdt : NULL)
		assert_int_equal(sum(t, le32(t + 4)), 0);

	dsl = disassemble(dsdt, "dsdt");
	assert_non_null(strstr(dsl, "Device (COM1)"));
	assert_non_null(strstr(dsl, "EisaId (\"PNP0501\")"));
	assert_non_null(strstr(dsl, "0x03F8"));
	assert_non_null(strstr(dsl, "EisaId (\"PNP0303\")"));
	assert_non_null(strstr(dsl, "EisaId (\"PNP0B00\")"));
	assert_non_null(strstr(dsl, "Device (VR00)"));
	assert_non_null(strstr(dsl, "Device (VR01)"));
	assert_non_null(strstr(dsl, "\"LNRO0005\""));
	assert_non_null(strstr(dsl, "0xD0000000"));
	assert_non_null(strstr(dsl, "0xD0000200"));
	/* The power button: a GED whose _EVT reads its register and notifies PWRB. */
	assert_non_null(strstr(dsl, "Device (PWRB)"));
	assert_non_null(strstr(dsl, "EisaId (\"PNP0C0C\")"));
	char *ged = strstr(dsl, "Device (GED0)");
	assert_non_null(ged);
	assert_non_null(strstr(ged, "Name (_HID, \"ACPI0013\""));
	assert_non_null(strstr(ged, "Name (_UID, Zero)"));
	assert_non_null(strstr(ged, "Memory32Fixed (ReadWrite,\n"
				    "                    0xFEB00000,         // Address Base\n"
				    "                    0x00000010,         // Address Length"));
	assert_non_null(strstr(ged, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, "
				    ",, )\n                {\n"
				    "                    0x00000010,\n"));
	assert_non_null(strstr(ged, "OperationRegion (GDST, SystemMemory, 0xFEB00000, 0x04)"));
	assert_non_null(strstr(ged, "Field (GDST, DWordAcc, NoLock, Preserve)"));
	assert_non_null(strstr(ged, "GDAT,   32"));
	char *evt = strstr(ged, "Method (_EVT, 1, Serialized)");
	assert_non_null(evt);
	assert_non_null(strstr(evt, "Local0 = GDAT"));
	assert_non_null(strstr(evt, "If (((Local0 & One) == One))"));
	assert_non_null(strstr(evt, "Notify (\\_SB.PWRB, 0x80)"));
	assert_non_null(strstr(evt, "If (((Local0 & 0x02) == 0x02))"));
	assert_non_null(strstr(evt, "Notify (\\_SB.VGEN, 0x80)"));
	/* The VM generation ID: Microsoft's IDs and ADDR, the ID's address in two halves. */
	char *vgen = strstr(dsl, "Device (VGEN)");
	assert_non_null(vgen);
	assert_non_null(strstr(vgen, "Name (_HID, \"VMGENCTR\")"));
	assert_non_null(strstr(vgen, "Name (_CID, \"VM_Gen_Counter\")"));
	char *addr = strstr(vgen, "Method (ADDR, 0, NotSerialized)");
	assert_non_null(addr);
	assert_non_null(strstr(addr, "Return (Package (0x02)"));
	assert_non_null(strstr(addr, "0x000EF000"));
	assert_null(strstr(dsl, "External (")); /* every name the method uses resolved */
	/* Soft off: \_S5 says SLP_TYP 5 for the FADT's sleep control register. */
	char *s5 = strstr(dsl, "Name (_S5, Package (0x02)");
	assert_non_null(s5);
	assert_non_null(strstr(s5, "0x05"));

	dsl = disassemble(madt, "apic");
	assert_non_null(strstr(dsl, "Local Apic Address : FEE00000"));
	int cpus = 0;
	for (char *p = dsl; (p = strstr(p, "Processor Local APIC")); p++)
		cpus++;
	assert_int_equal(cpus, 3);
	assert_non_null(strstr(dsl, "I/O APIC"));
	assert_non_null(strstr(dsl, "Address : FEC00000"));

	dsl = disassemble(fadt, "facp");
	assert_non_null(strstr(dsl, "Hardware Reduced (V5) : 1"));
	assert_non_null(strstr(dsl, "Reset Register Supported (V2) : 1"));
	assert_non_null(strstr(dsl, "Value to cause reset : FE"));
	char *slp = strstr(dsl, "Sleep Control Register");
	assert_non_null(slp);
	assert_non_null(strstr(slp, "Address : 0000000000000600"));
	slp = strstr(dsl, "Sleep Status Register");
	assert_non_null(slp);
	assert_non_null(strstr(slp, "Address : 0000000000000601"));
	vm_destroy(&vm);
}

/* The launch measurement's table (docs/measured-launch.md): listed last in the XSDT only
 * when there is a measurement, checksummed, its digest as given; iasl reads its header. */
static void acpi_cmsr(void **state)
{
	struct vm_config cfg = {.mem_bytes = 64 << 20, .nr_vcpus = 1};
	static struct hvm_domain h;
	uint8_t digest[32], *rsdp, *xsdt, *t;
	struct vm vm;
	char *dsl;

	(void)state;
	for (unsigned i = 0; i < 32; i++)
		digest[i] = (uint8_t)(0xa0 + i);
	assert_int_equal(vm_init_nokvm(&vm, &cfg), 0);
	memset(&h, 0, sizeof(h));
	h.vm = &vm;
	assert_int_equal(acpi_build(&h), 0);
	rsdp = gmem_ptr(&vm.mem, h.rsdp, 36);
	xsdt = gmem_ptr(&vm.mem, le32(rsdp + 24), 36);
	assert_int_equal(le32(xsdt + 4), 36 + 16); /* FADT and MADT: no measurement, no CMSR */
	h.measurement = digest;
	assert_int_equal(acpi_build(&h), 0);
	assert_int_equal(le32(xsdt + 4), 36 + 24);
	assert_int_equal(sum(xsdt, le32(xsdt + 4)), 0);
	t = gmem_ptr(&vm.mem, le32(xsdt + 36 + 16), 76);
	assert_non_null(t);
	assert_memory_equal(t, "CMSR", 4);
	assert_int_equal(le32(t + 4), 76);
	assert_int_equal(sum(t, 76), 0);
	assert_int_equal(le32(t + 36), 1);
	assert_int_equal(le32(t + 40), 32);
	assert_memory_equal(t + 44, digest, 32);
	/* No table overlaps it: the DSDT starts after it. */
	assert_true(le32((uint8_t *)gmem_ptr(&vm.mem, le32(xsdt + 36), 48) + 40) >= le32(xsdt + 52) + 76);
	dsl = disassemble(t, "cmsr");
	assert_non_null(strstr(dsl, "Signature : \"CMSR\""));
	assert_non_null(strstr(dsl, "Table Length : 0000004C"));
	assert_non_null(strstr(dsl, "Oem ID : \"CAPSUL\""));
	assert_non_null(strstr(dsl, "01 00 00 00 20 00 00 00 A0 A1 A2 A3"));
	assert_null(strstr(dsl, "Incorrect checksum"));
	vm_destroy(&vm);
}

/* The GED's register: events accumulate, a whole read takes and clears them. */
static void ged_register(void **state)
{
	struct vm_config cfg = {.mem_bytes = 16 << 20, .nr_vcpus = 1};
	const struct io_range *r;
	struct ged g;
	struct vm vm;
	uint8_t data[4];
	uint32_t v;

	(void)state;
	assert_int_equal(vm_init_nokvm(&vm, &cfg), 0);
	struct platform_dev pd;

	ged_init(&g, &vm);
	assert_int_equal(platform_add(&pd, &vm, &ged_ops, &g), 0);
	r = bus_find(&vm.mmio, HVM_GED, 4);
	assert_non_null(r);
	assert_int_equal(r->fn(NULL, r->opaque, HVM_GED, data, 4, false), EXIT_CONTINUE);
	memcpy(&v, data, 4);
	assert_int_equal(v, 0); /* nothing pressed */
	assert_int_equal(ged_raise(&g, GED_EVENT_POWER_BUTTON), 0);
	assert_int_equal(ged_raise(&g, GED_EVENT_POWER_BUTTON), 0); /* twice: still one bit */
	data[0] = 0x55, r->fn(NULL, r->opaque, HVM_GED, data, 1, false);
	assert_int_equal(data[0], 0); /* a byte read sees nothing and takes nothing */
	memset(data, 0xff, 4), r->fn(NULL, r->opaque, HVM_GED, data, 4, true);
	memset(data, 0, 4), r->fn(NULL, r->opaque, HVM_GED, data, 4, false);
	memcpy(&v, data, 4);
	assert_int_equal(v, GED_EVENT_POWER_BUTTON); /* the write changed nothing */
	r->fn(NULL, r->opaque, HVM_GED, data, 4, false);
	memcpy(&v, data, 4);
	assert_int_equal(v, 0); /* read clears */
	vm_destroy(&vm);
}

/* A minimal bzImage: two setup sectors, the header, a 4 KiB kernel. */
static size_t make_bzimage(uint8_t *f, uint16_t version, uint8_t loadflags, uint16_t xloadflags)
{
	memset(f, 0, 1024 + 4096);
	f[0x1f1] = 1;                          /* setup_sects */
	f[0x1f5] = (4096 / 16) >> 8;           /* syssize: 256 paragraphs */
	f[0x1fe] = 0x55, f[0x1ff] = 0xaa;
	f[0x200] = 0xeb, f[0x201] = 0x66;      /* jump over the header */
	memcpy(f + 0x202, "HdrS", 4);
	f[0x206] = (uint8_t)version, f[0x207] = (uint8_t)(version >> 8);
	f[0x211] = loadflags;
	f[0x236] = (uint8_t)xloadflags;
	f[0x238] = 0xff, f[0x239] = 0x07;      /* cmdline_size 2047 */
	f[0x262] = 0x01;                       /* init_size 64 KiB */
	return 1024 + 4096;
}

static void bzimage_headers(void **state)
{
	static uint8_t f[1024 + 4096];
	char err[LOADER_ERR_MAX];
	struct bzimage bz;
	size_t n;

	(void)state;
	n = make_bzimage(f, 0x20f, 1, 1);
	assert_int_equal(bzimage_parse(f, n, &bz, err), 1);
	assert_int_equal(bz.kernel_off, 1024);
	assert_int_equal(bz.kernel_size, 4096);
	assert_int_equal(bz.init_size, 0x10000);
	assert_int_equal(bz.cmdline_size, 2047);
	assert_int_equal(bz.header_len, 0x202 + 0x66 - 0x1f1);
	/* not a bzImage at all: someone else's */
	assert_int_equal(bzimage_parse((const uint8_t *)"\177ELF", 4, &bz, err), 0);
	/* broken ones: refused with a reason */
	assert_int_equal(bzimage_parse(f, 0x250, &bz, err), -EINVAL);
	assert_non_null(strstr(err, "truncated"));
	assert_int_equal(bzimage_parse(f, 2048, &bz, err), -EINVAL); /* shorter than syssize */
	assert_non_null(strstr(err, "truncated"));
	make_bzimage(f, 0x209, 1, 1);
	assert_int_equal(bzimage_parse(f, n, &bz, err), -EINVAL);
	assert_non_null(strstr(err, "2.10 or later"));
	make_bzimage(f, 0x20f, 0, 1);
	assert_int_equal(bzimage_parse(f, n, &bz, err), -EINVAL);
	make_bzimage(f, 0x20f, 1, 0);
	assert_int_equal(bzimage_parse(f, n, &bz, err), -EINVAL);
	assert_non_null(strstr(err, "64-bit"));
	make_bzimage(f, 0x20f, 1, 1);
	f[0x1f1] = 200; /* setup runs past the end */
	assert_int_equal(bzimage_parse(f, n, &bz, err), -EINVAL);
	make_bzimage(f, 0x20f, 1, 1);
	f[0x1fe] = 0;
	assert_int_equal(bzimage_parse(f, n, &bz, err), -EINVAL);
	assert_non_null(strstr(err, "boot flag"));
}

static size_t make_multiboot(uint8_t *f, uint32_t flags, uint32_t load, uint32_t load_end,
			     uint32_t bss_end, uint32_t entry)
{
	uint32_t h[8] = {MULTIBOOT_MAGIC, flags, -(MULTIBOOT_MAGIC + flags), load + 64, load,
			 load_end, bss_end, entry};

	memset(f, 0x90, 8192);
	memcpy(f + 64, h, sizeof(h));
	return 8192;
}

static void multiboot_images(void **state)
{
	static uint8_t f[8192];
	char err[LOADER_ERR_MAX];
	struct multiboot_image mb;
	struct guest_mem mem;
	const uint32_t L = 0x200000;

	(void)state;
	assert_int_equal(gmem_init(&mem, 8 << 20), 0);
	make_multiboot(f, 0x10003, L, L + 4096, L + 8192, L + 0x100);
	memset(mem.host + L + 4096, 0x77, 4096);
	assert_int_equal(multiboot_load(f, sizeof(f), &mem, &mb, err), 1);
	assert_int_equal(mb.entry, L + 0x100);
	assert_int_equal(mb.hi, L + 8192);
	assert_memory_equal(mem.host + L, f, 4096);
	assert_int_equal(mem.host[L + 4096], 0);  /* bss zeroed */
	assert_int_equal(mem.host[L + 8191], 0);
	/* no header: not multiboot */
	memset(f, 0, sizeof(f));
	assert_int_equal(multiboot_load(f, sizeof(f), &mem, &mb, err), 0);
	/* a bad checksum is no header either */
	make_multiboot(f, 0x10003, L, L + 4096, 0, L);
	f[72]++;
	assert_int_equal(multiboot_load(f, sizeof(f), &mem, &mb, err), 0);
	/* features we cannot give (a video mode) */
	make_multiboot(f, 0x10007, L, L + 4096, 0, L);
	assert_int_equal(multiboot_load(f, sizeof(f), &mem, &mb, err), -EINVAL);
	assert_non_null(strstr(err, "video"));
	/* lying addresses */
	make_multiboot(f, 0x10003, L, L + 0x100000, 0, L); /* longer than the file */
	assert_int_equal(multiboot_load(f, sizeof(f), &mem, &mb, err), -EINVAL);
	assert_non_null(strstr(err, "truncated"));
	make_multiboot(f, 0x10003, L, L + 4096, 0, L + 8192); /* entry outside */
	assert_int_equal(multiboot_load(f, sizeof(f), &mem, &mb, err), -EINVAL);
	make_multiboot(f, 0x10003, L, L + 4096, L + 100, L); /* bss before the end */
	assert_int_equal(multiboot_load(f, sizeof(f), &mem, &mb, err), -EINVAL);
	make_multiboot(f, 0x10003, 0xfff000, 0xfff000 + 4096, 0xffffff00, 0xfff000);
	assert_int_equal(multiboot_load(f, sizeof(f), &mem, &mb, err), -EINVAL);
	assert_non_null(strstr(err, "outside guest memory"));
	make_multiboot(f, 0x10003, 0x8000, 0x9000, 0, 0x8000); /* below 1 MiB: fine */
	assert_int_equal(multiboot_load(f, sizeof(f), &mem, &mb, err), 1);
	assert_int_equal(mb.lo, 0x8000);
	make_multiboot(f, 0x10003, 0x0, 0x1000, 0, 0x0); /* over the IVT and BDA */
	assert_int_equal(multiboot_load(f, sizeof(f), &mem, &mb, err), -EINVAL);
	make_multiboot(f, 0x10003, 0x9f000, 0xa0000, 0, 0x9f000); /* into the EBDA */
	assert_int_equal(multiboot_load(f, sizeof(f), &mem, &mb, err), -EINVAL);
	assert_non_null(strstr(err, "firmware area"));
	gmem_destroy(&mem);
}

static void uart_registers(void **state)
{
	struct uart u;
	uint8_t v;
	char buf[64] = {0};
	FILE *out = fmemopen(buf, sizeof(buf), "w");

	(void)state;
	assert_int_equal(uart_init(&u, NULL, out, -1), 0);
	v = 'h', uart_access(&u, 0, &v, true);
	v = 'i', uart_access(&u, 0, &v, true);
	v = '\n', uart_access(&u, 0, &v, true);
	assert_string_equal(buf, "hi\n");
	uart_access(&u, 5, &v, false);
	assert_int_equal(v & 0x60, 0x60); /* transmitter empty */
	assert_int_equal(v & 0x01, 0);    /* nothing received */
	/* Divisor latch: DLAB redirects registers 0 and 1. */
	v = 0x80, uart_access(&u, 3, &v, true);
	v = 12, uart_access(&u, 0, &v, true);
	v = 0, uart_access(&u, 0, &v, false);
	assert_int_equal(v, 12);
	v = 0x03, uart_access(&u, 3, &v, true);
	/* Loopback: what we send comes back, with the data-ready bit and an interrupt ID. */
	v = 0x10, uart_access(&u, 4, &v, true);
	v = 0x01, uart_access(&u, 1, &v, true); /* receive interrupt on */
	v = 'x', uart_access(&u, 0, &v, true);
	uart_access(&u, 5, &v, false);
	assert_true(v & 0x01);
	uart_access(&u, 2, &v, false);
	assert_int_equal(v & 0x0f, 0x04); /* received data available */
	uart_access(&u, 0, &v, false);
	assert_int_equal(v, 'x');
	uart_access(&u, 2, &v, false);
	assert_int_equal(v & 0x0f, 0x01); /* no interrupt pending */
	uart_destroy(&u);
	fclose(out);
}

static void rtc_registers(void **state)
{
	struct cmos c = {0};
	uint8_t v, year;

	(void)state;
	v = 0x09, rtc_access(&c, RTC_PORT, &v, true);
	rtc_access(&c, RTC_PORT + 1, &year, false);
	assert_true((year >> 4) <= 9 && (year & 15) <= 9); /* BCD */
	v = 0x0b, rtc_access(&c, RTC_PORT, &v, true);
	rtc_access(&c, RTC_PORT + 1, &v, false);
	assert_int_equal(v, 0x02); /* 24-hour, BCD */
	/* CMOS RAM keeps what is written; the clock registers are read-only. */
	v = 0x40, rtc_access(&c, RTC_PORT, &v, true);
	v = 0x5a, rtc_access(&c, RTC_PORT + 1, &v, true);
	v = 0, rtc_access(&c, RTC_PORT + 1, &v, false);
	assert_int_equal(v, 0x5a);
	v = 0x80 | 0x40, rtc_access(&c, RTC_PORT, &v, true); /* NMI-mask bit ignored */
	rtc_access(&c, RTC_PORT + 1, &v, false);
	assert_int_equal(v, 0x5a);
}

static void cpuid_topology(void **state)
{
	struct kvm_cpuid_entry2 e[5] = {
		{.function = 1, .ebx = 0x00000800, .edx = 0x078bfbff},
		{.function = 0xb, .index = 0},
		{.function = 0xb, .index = 1},
		{.function = 0xb, .index = 2},
		{.function = 0x80000008, .ecx = 0x0000f0ff},
	};

	(void)state;
	cpuid_adjust(e, 5, 5, 6);
	assert_int_equal(e[0].ebx >> 24, 5);            /* APIC ID */
	assert_int_equal((e[0].ebx >> 16) & 0xff, 6);   /* logical processors */
	assert_int_equal(e[0].ebx & 0xffff, 0x0800);    /* CLFLUSH size kept */
	assert_true(e[0].edx & (1u << 28));             /* HTT */
	assert_int_equal(e[1].ebx, 1);                  /* one thread per core */
	assert_int_equal(e[1].ecx, 0x100);
	assert_int_equal(e[2].eax, 3);                  /* 6 cores: 3 bits of APIC ID */
	assert_int_equal(e[2].ebx, 6);
	assert_int_equal(e[2].ecx, 0x201);
	assert_int_equal(e[2].edx, 5);                  /* x2APIC ID */
	assert_int_equal(e[3].ecx, 2);                  /* no level beyond */
	assert_int_equal(e[4].ecx & 0xff, 5);           /* AMD: cores - 1 */
	assert_int_equal((e[4].ecx >> 12) & 0xf, 3);
	cpuid_adjust(e, 1, 0, 1);
	assert_false(e[0].edx & (1u << 28));            /* one CPU: no HTT */
}

/* The PC as a table of descriptors: every device's ranges go on the buses and come off
 * again; each device's state survives save and restore onto a fresh one, and a hostile
 * state is refused whole. */
static void platform_devices(void **state)
{
	struct vm_config cfg = {.mem_bytes = 16 << 20, .nr_vcpus = 1};
	static uint8_t saved[PLATFORM_STATE_MAX], bad[PLATFORM_STATE_MAX];
	struct platform_dev pd[5], fresh;
	static struct uart u, u2;
	struct cmos c, c2;
	struct ged g, g2;
	const char *why = NULL;
	struct vm vm;
	size_t n;
	uint8_t v;

	(void)state;
	assert_int_equal(vm_init_nokvm(&vm, &cfg), 0);
	assert_int_equal(uart_init(&u, &vm, NULL, -1), 0);
	rtc_init(&c);
	ged_init(&g, &vm);
	const struct platform_dev_ops *ops[5] = {&uart_ops, &rtc_ops, &i8042_ops, &debug_exit_ops,
						 &ged_ops};
	void *devs[5] = {&u, &c, NULL, NULL, &g};
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(platform_add(&pd[i], &vm, ops[i], devs[i]), 0);
	assert_non_null(bus_find(&vm.pio, UART_COM1_BASE + 5, 1));
	assert_non_null(bus_find(&vm.pio, RTC_PORT + 1, 1));
	assert_non_null(bus_find(&vm.pio, I8042_CMD, 1));
	assert_non_null(bus_find(&vm.pio, DEBUG_EXIT_PORT, 4));
	assert_non_null(bus_find(&vm.mmio, GED_MMIO_BASE, 4));
	/* A second UART at the same ports is refused, and leaves nothing behind. */
	assert_int_equal(platform_add(&fresh, &vm, &uart_ops, &u2), -EEXIST);

	/* UART: registers and the receive FIFO (loopback puts bytes in it). */
	v = 0x10, uart_access(&u, 4, &v, true);
	v = 'a', uart_access(&u, 0, &v, true);
	v = 'b', uart_access(&u, 0, &v, true);
	v = 0x5a, uart_access(&u, 7, &v, true);
	n = platform_save(&pd[0], saved, sizeof(saved));
	assert_true(n > 0);
	assert_int_equal(uart_init(&u2, NULL, NULL, -1), 0);
	fresh = (struct platform_dev){.ops = &uart_ops, .dev = &u2};
	assert_int_equal(platform_restore(&fresh, saved, n - 1, &why), -EINVAL);
	memcpy(bad, saved, n);
	bad[14] = 0xff, bad[15] = 0xff; /* rx_len 65535 */
	assert_int_equal(platform_restore(&fresh, bad, n, &why), -EINVAL);
	assert_non_null(strstr(why, "out of range"));
	uart_access(&u2, 7, &v, false);
	assert_int_equal(v, 0); /* nothing of it taken */
	assert_int_equal(platform_restore(&fresh, saved, n, &why), 0);
	uart_access(&u2, 7, &v, false);
	assert_int_equal(v, 0x5a);
	uart_access(&u2, 0, &v, false);
	assert_int_equal(v, 'a');
	uart_access(&u2, 0, &v, false);
	assert_int_equal(v, 'b');

	/* CMOS RAM and index. */
	v = 0x20, rtc_access(&c, RTC_PORT, &v, true);
	v = 0x77, rtc_access(&c, RTC_PORT + 1, &v, true);
	n = platform_save(&pd[1], saved, sizeof(saved));
	rtc_init(&c2);
	fresh = (struct platform_dev){.ops = &rtc_ops, .dev = &c2};
	memcpy(bad, saved, n);
	bad[0] = 200; /* an index past the RAM */
	assert_int_equal(platform_restore(&fresh, bad, n, &why), -EINVAL);
	assert_int_equal(platform_restore(&fresh, saved, n, &why), 0);
	rtc_access(&c2, RTC_PORT + 1, &v, false);
	assert_int_equal(v, 0x77);

	/* GED: a pending power-button press is state. */
	assert_int_equal(ged_raise(&g, GED_EVENT_POWER_BUTTON), 0);
	n = platform_save(&pd[4], saved, sizeof(saved));
	ged_init(&g2, &vm);
	fresh = (struct platform_dev){.ops = &ged_ops, .dev = &g2};
	memset(bad, 0xff, 4);
	assert_int_equal(platform_restore(&fresh, bad, 4, &why), -EINVAL);
	assert_int_equal(ged_read(&g2), 0);
	assert_int_equal(platform_restore(&fresh, saved, n, &why), 0);
	assert_int_equal(ged_read(&g2), GED_EVENT_POWER_BUTTON);

	/* Devices without state save nothing and refuse a state that has some. */
	assert_int_equal(platform_save(&pd[2], saved, sizeof(saved)), 0);
	assert_int_equal(platform_restore(&pd[2], saved, 0, &why), 0);
	assert_int_equal(platform_restore(&pd[2], saved, 3, &why), -EINVAL);

	for (unsigned i = 0; i < 5; i++)
		platform_remove(&pd[i], &vm);
	assert_null(bus_find(&vm.pio, UART_COM1_BASE, 1));
	assert_null(bus_find(&vm.mmio, GED_MMIO_BASE, 4));
	assert_int_equal(platform_add(&pd[0], &vm, &uart_ops, &u), 0); /* the ports are free */
	platform_remove(&pd[0], &vm);
	uart_destroy(&u);
	uart_destroy(&u2);
	vm_destroy(&vm);
}

/* RAM past 3 GiB: the E820 map has it from 4 GiB, none in the hole; a domain whose RAM
 * would end past the guest-physical width KVM offers is refused. */
static void memory_above_4g(void **state)
{
	const uint64_t G = 1ull << 30;
	struct vm_config cfg = {.mem_bytes = 5 * G + G / 2, .hole_start = HVM_HOLE_START,
				.hole_end = HVM_HOLE_END, .nr_vcpus = 1};
	struct hvm_options opt = {.acpi = HVM_ACPI_REDUCED};
	static struct hvm_domain h;
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + sizeof(c->entries[0]));
	struct vm vm;
	uint64_t ram = 0;
	bool high = false;

	(void)state;
	assert_non_null(c);
	assert_int_equal(vm_init_nokvm(&vm, &cfg), 0);
	h.vm = &vm;
	hvm_build_e820(&h);
	for (unsigned i = 0; i < h.nr_e820; i++) {
		const struct e820_entry *e = &h.e820[i];

		if (e->type != E820_RAM)
			continue;
		ram += e->size;
		assert_false(e->addr < 4 * G && e->addr + e->size > 3 * G); /* nothing in the hole */
		high |= e->addr == 4 * G && e->size == G + G / 2;
	}
	assert_true(high);
	assert_int_equal(ram, HVM_EBDA + (3 * G - 0x100000) + G + G / 2); /* all of --mem 4608 */
	c->nent = 1;
	c->entries[0].function = 0x80000008;
	c->entries[0].eax = 32; /* 4 GiB of addresses: RAM to 5.5 GiB does not fit */
	vm.supported_cpuid = c;
	assert_int_equal(hvm_domain_init(&h, &vm, &opt, stdout, -1), -EINVAL); /* says why */
	vm.supported_cpuid = NULL;
	free(c);
	vm_destroy(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(memory_above_4g),
		cmocka_unit_test(cpuid_topology),
		cmocka_unit_test(acpi_tables),
		cmocka_unit_test(acpi_cmsr),
		cmocka_unit_test(bzimage_headers),
		cmocka_unit_test(multiboot_images),
		cmocka_unit_test(uart_registers),
		cmocka_unit_test(rtc_registers),
		cmocka_unit_test(ged_register),
		cmocka_unit_test(platform_devices),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests_name("hvm", tests, NULL, NULL);
}
