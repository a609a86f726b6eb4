/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PCI without KVM: the host bridge's configuration cycles (mechanism #1 through the port
 * handler, ECAM, absent slots and a disabled bus all ones), BAR sizing, assignment and
 * moving (an access reaches the function's BAR where it decodes now, and nowhere after
 * decoding is turned off), the host's state round trip with hostile states refused, and
 * the ACPI of a domain with PCI: PCI0 with its _CRS and _PRT, and the MCFG (iasl).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capsule/hvm.h"

struct fake {
	struct pci_function fn;
	uint64_t last_off;
	unsigned bar, accesses, moves;
	uint64_t moved_to;
};

static void fake_bar_io(struct pci_function *f, unsigned bar, uint64_t off, uint8_t *data,
			uint32_t len, bool is_write)
{
	struct fake *k = f->opaque;

	k->bar = bar, k->last_off = off, k->accesses++;
	if (!is_write)
		memset(data, 0x5a, len);
}

static void fake_moved(struct pci_function *f, unsigned bar, uint64_t addr)
{
	struct fake *k = f->opaque;

	(void)bar;
	k->moves++, k->moved_to = addr;
}

static const struct pci_function_ops fake_ops = {.bar_io = fake_bar_io, .bar_moved = fake_moved};

static uint32_t io(struct vm *vm, uint64_t addr, uint32_t len, bool is_write, uint32_t v,
		   bool pio)
{
	const struct io_range *r = bus_find(pio ? &vm->pio : &vm->mmio, addr, len);
	uint8_t b[4];

	assert_non_null(r);
	memcpy(b, &v, 4);
	r->fn(NULL, r->opaque, addr, b, len, is_write);
	memcpy(&v, b, 4);
	return v;
}

static uint32_t cf8_read(struct vm *vm, unsigned slot, unsigned off, unsigned len)
{
	io(vm, PCI_CONFIG_PORT, 4, true, 0x80000000u | slot << 11 | (off & 0xfc), true);
	return io(vm, PCI_CONFIG_PORT + 4 + (off & 3), len, false, 0, true) &
	       (len == 4 ? ~0u : (1u << (8 * len)) - 1);
}

static void cf8_write(struct vm *vm, unsigned slot, unsigned off, unsigned len, uint32_t v)
{
	io(vm, PCI_CONFIG_PORT, 4, true, 0x80000000u | slot << 11 | (off & 0xfc), true);
	io(vm, PCI_CONFIG_PORT + 4 + (off & 3), len, true, v, true);
}

static void host_bridge(void **state)
{
	struct vm_config cfg = {.mem_bytes = 16 << 20, .nr_vcpus = 1};
	static struct pci_host p;
	struct platform_dev pd, fresh;
	uint8_t saved[PLATFORM_STATE_MAX], bad[PLATFORM_STATE_MAX];
	const char *why;
	struct fake k = {0};
	struct vm vm;
	size_t n;
	int slot;

	(void)state;
	assert_int_equal(vm_init_nokvm(&vm, &cfg), 0);
	pci_host_init(&p, &vm);
	assert_int_equal(platform_add(&pd, &vm, &pci_host_ops, &p), 0);
	/* disabled: nothing answers */
	assert_int_equal(cf8_read(&vm, 0, 0, 4), 0xffffffffu);
	p.enabled = true;
	assert_int_equal(cf8_read(&vm, 0, 0, 4), 0x00081b36u); /* 1b36:0008 */
	assert_int_equal(cf8_read(&vm, 0, 0x0a, 2), 0x0600);    /* host bridge */
	assert_int_equal(cf8_read(&vm, 5, 0, 4), 0xffffffffu);  /* an empty slot */
	assert_int_equal(cf8_read(&vm, 5, 0, 2), 0xffff);
	/* a function with a 16 KiB 64-bit BAR 4 */
	pci_function_init(&k.fn, 0x1af4, 0x1042, 0x01000001, 0x1af4, 0x1100);
	pci_function_bar(&k.fn, 4, 0x4000, true);
	k.fn.ops = &fake_ops, k.fn.opaque = &k;
	slot = pci_add(&p, &k.fn);
	assert_int_equal(slot, 1);
	assert_int_equal(k.moves, 1);
	assert_int_equal(k.moved_to, PCI_MMIO_BASE);
	assert_int_equal(cf8_read(&vm, 1, 0x10 + 16, 4), (uint32_t)PCI_MMIO_BASE | 4);
	assert_int_equal(cf8_read(&vm, 1, 0x3c, 1), pci_intx_gsi(1));
	assert_int_equal(cf8_read(&vm, 1, 0x3d, 1), 1);
	/* ECAM says the same */
	assert_int_equal(io(&vm, PCI_ECAM_BASE + (1 << 15), 4, false, 0, false), 0x10421af4u);
	assert_int_equal(io(&vm, PCI_ECAM_BASE + (1 << 15) + 0x100, 4, false, 0, false), 0);
	assert_int_equal(io(&vm, PCI_ECAM_BASE + (1 << 15) + (1 << 12), 4, false, 0, false),
			 0xffffffffu); /* function 1: none */
	/* the BAR decodes: an access reaches the function at its offset */
	assert_int_equal(io(&vm, PCI_MMIO_BASE + 0x1004, 4, false, 0, false), 0x5a5a5a5au);
	assert_int_equal(k.bar, 4);
	assert_int_equal(k.last_off, 0x1004);
	/* sizing: all ones, read the mask; read-only type bits stay */
	cf8_write(&vm, 1, 0x04, 2, 0); /* decoding off */
	assert_int_equal(k.moved_to, 0);
	assert_int_equal(io(&vm, PCI_MMIO_BASE + 0x1004, 4, false, 0, false), 0xffffffffu);
	cf8_write(&vm, 1, 0x20, 4, 0xffffffffu);
	cf8_write(&vm, 1, 0x24, 4, 0xffffffffu);
	assert_int_equal(cf8_read(&vm, 1, 0x20, 4), 0xffffc004u);
	assert_int_equal(cf8_read(&vm, 1, 0x24, 4), 0xffffffffu);
	/* moved within the window and decoding again */
	cf8_write(&vm, 1, 0x20, 4, (uint32_t)PCI_MMIO_BASE + 0x100000);
	cf8_write(&vm, 1, 0x24, 4, 0);
	cf8_write(&vm, 1, 0x04, 2, 2);
	assert_int_equal(k.moved_to, PCI_MMIO_BASE + 0x100000);
	k.accesses = 0;
	io(&vm, PCI_MMIO_BASE + 0x1004, 4, false, 0, false);
	assert_int_equal(k.accesses, 0); /* the old place decodes nothing */
	io(&vm, PCI_MMIO_BASE + 0x100008, 4, true, 7, false);
	assert_int_equal(k.accesses, 1);
	assert_int_equal(k.last_off, 8);
	/* read-only registers stay: IDs, the class */
	cf8_write(&vm, 1, 0x00, 4, 0);
	cf8_write(&vm, 1, 0x08, 4, 0);
	assert_int_equal(cf8_read(&vm, 1, 0, 4), 0x10421af4u);
	assert_int_equal(cf8_read(&vm, 1, 0x08, 4), 0x01000001u);
	/* the host's state: the address register round trips into a host whose bus is as
	 * the state's (the functions' own state goes with their devices); a bus that the
	 * domain does not have, or lacks, is refused */
	io(&vm, PCI_CONFIG_PORT, 4, true, 0x80000810u, true);
	n = platform_save(&pd, saved, sizeof(saved));
	assert_int_equal(n, 8);
	static struct pci_host p2;
	pci_host_init(&p2, &vm);
	fresh = (struct platform_dev){.ops = &pci_host_ops, .dev = &p2};
	why = NULL;
	assert_int_equal(platform_restore(&fresh, saved, n, &why), -EINVAL);
	assert_non_null(strstr(why, "this domain has none"));
	assert_int_equal(p2.address, 0);
	p2.enabled = true;
	assert_int_equal(platform_restore(&fresh, saved, n, &why), 0);
	assert_int_equal(p2.address, 0x80000810u);
	p2.address = 0;
	p.enabled = false;
	n = platform_save(&pd, saved, sizeof(saved));
	p.enabled = true;
	assert_int_equal(platform_restore(&fresh, saved, n, &why), -EINVAL);
	assert_non_null(strstr(why, "this domain has one"));
	p2.enabled = false;
	assert_int_equal(platform_restore(&fresh, saved, n, &why), 0);
	assert_int_equal(p2.address, 0x80000810u);
	memcpy(bad, saved, n);
	bad[0] |= 1; /* reserved bits */
	why = NULL;
	assert_int_equal(platform_restore(&fresh, bad, n, &why), -EINVAL);
	assert_non_null(why);
	memcpy(bad, saved, n);
	bad[4] = 2; /* enabled is a boolean */
	assert_int_equal(platform_restore(&fresh, bad, n, &why), -EINVAL);
	assert_int_equal(platform_restore(&fresh, saved, 3, &why), -EINVAL);
	assert_int_equal(p2.address, 0x80000810u);
	pci_remove(&p, &k.fn);
	assert_int_equal(cf8_read(&vm, 1, 0, 4), 0xffffffffu);
	platform_remove(&pd, &vm);
	pci_host_destroy(&p);
	pci_host_destroy(&p2);
	vm_destroy(&vm);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static char *disassemble(const uint8_t *table, const char *name)
{
	char dir[] = "/tmp/capsule-acpi-XXXXXX", path[256], cmd[512];
	static char text[131072];
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
	if (getenv("SHOW_DSL"))
		fputs(text, stderr);
	return text;
}

static void pci_acpi(void **state)
{
	struct vm_config cfg = {.mem_bytes = 64 << 20, .nr_vcpus = 1};
	static struct hvm_domain h;
	uint8_t *rsdp, *xsdt, *fadt, *mcfg, *dsdt;
	struct vm vm;
	char *dsl;

	(void)state;
	assert_int_equal(vm_init_nokvm(&vm, &cfg), 0);
	memset(&h, 0, sizeof(h));
	h.vm = &vm;
	h.pci.enabled = true;
	hvm_build_e820(&h);
	bool reserved = false;
	for (unsigned i = 0; i < h.nr_e820; i++)
		reserved |= h.e820[i].addr == PCI_ECAM_BASE && h.e820[i].size == PCI_ECAM_SIZE &&
			    h.e820[i].type == E820_RESERVED;
	assert_true(reserved); /* Linux uses MCFG only over reserved memory */
	assert_int_equal(acpi_build(&h), 0);
	rsdp = gmem_ptr(&vm.mem, h.rsdp, 36);
	xsdt = gmem_ptr(&vm.mem, le32(rsdp + 24), 60);
	assert_int_equal(le32(xsdt + 4), 36 + 24);
	fadt = gmem_ptr(&vm.mem, le32(xsdt + 36), 276);
	mcfg = gmem_ptr(&vm.mem, le32(xsdt + 52), 60);
	dsdt = gmem_ptr(&vm.mem, le32(fadt + 40), 36);
	assert_memory_equal(mcfg, "MCFG", 4);
	dsl = disassemble(mcfg, "mcfg");
	assert_non_null(strstr(dsl, "Base Address : 00000000E0000000"));
	assert_non_null(strstr(dsl, "Start Bus Number : 00"));
	assert_non_null(strstr(dsl, "End Bus Number : 00"));
	dsl = disassemble(dsdt, "dsdt");
	char *pci = strstr(dsl, "Device (PCI0)");
	assert_non_null(pci);
	assert_non_null(strstr(pci, "Name (_HID, EisaId (\"PNP0A08\")"));
	assert_non_null(strstr(pci, "Name (_CID, EisaId (\"PNP0A03\")"));
	assert_non_null(strstr(pci, "WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,"));
	assert_non_null(strstr(pci, "DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, "
				    "NonCacheable, ReadWrite,"));
	assert_non_null(strstr(pci, "0xC0000000,         // Range Minimum"));
	assert_non_null(strstr(pci, "0xCFFFFFFF,         // Range Maximum"));
	assert_non_null(strstr(pci, "0x0CF8,             // Range Minimum"));
	char *prt = strstr(pci, "Name (_PRT, Package (0x7C)");
	assert_non_null(prt);
	/* slot 1 INTA: GSI 18; slot 3 INTB: GSI 17 (17 + (slot + pin) % 4) */
#define PRT_ENTRY(slot, pin, gsi) slot ", \n                    " pin ", \n                    Zero, \n                    " gsi "\n"
	assert_non_null(strstr(prt, PRT_ENTRY("0x0001FFFF", "Zero", "0x12")));
	assert_non_null(strstr(prt, PRT_ENTRY("0x0003FFFF", "One", "0x11")));
	assert_non_null(strstr(prt, PRT_ENTRY("0x001FFFFF", "0x03", "0x13")));
	assert_null(strstr(dsl, "External ("));
	vm_destroy(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(host_bridge),
		cmocka_unit_test(pci_acpi),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
