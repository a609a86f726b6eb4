/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading HVM kernels without KVM: ELF32 (i386) images as multiboot kernels, images below
 * 1 MiB and the firmware area they must not touch, and where the 32-bit entries' boot
 * structures go (hvm_place_boot_area) around an image and an initrd.
 */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "capsule/hvm.h"
#include "capsule/loader.h"

/* An ELF32 i386 executable: one PT_LOAD at `paddr` (0x100 bytes of file, memsz bytes) with
 * a multiboot header (flags 0: the ELF says where) at its start, entry at paddr + 0x40. */
static size_t make_elf32(uint8_t *f, uint32_t paddr, uint32_t memsz, uint16_t machine)
{
	Elf32_Ehdr eh = {
		.e_ident = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS32, ELFDATA2LSB, EV_CURRENT},
		.e_type = ET_EXEC, .e_machine = machine, .e_version = EV_CURRENT,
		.e_entry = paddr + 0x40, .e_phoff = sizeof(Elf32_Ehdr),
		.e_ehsize = sizeof(Elf32_Ehdr), .e_phentsize = sizeof(Elf32_Phdr), .e_phnum = 1,
	};
	Elf32_Phdr ph = {
		.p_type = PT_LOAD, .p_offset = 0x100, .p_vaddr = paddr, .p_paddr = paddr,
		.p_filesz = 0x100, .p_memsz = memsz, .p_flags = PF_R | PF_X, .p_align = 0x1000,
	};
	uint32_t mb[3] = {MULTIBOOT_MAGIC, 0, -MULTIBOOT_MAGIC};

	memset(f, 0, 0x200);
	memcpy(f, &eh, sizeof(eh));
	memcpy(f + sizeof(eh), &ph, sizeof(ph));
	memcpy(f + 0x100, mb, sizeof(mb));
	memset(f + 0x140, 0x90, 0xc0);
	return 0x200;
}

static void elf32_multiboot(void **state)
{
	static uint8_t f[0x200];
	char err[LOADER_ERR_MAX];
	struct multiboot_image mb;
	struct elf_image img;
	struct guest_mem mem;
	size_t n;

	(void)state;
	assert_int_equal(gmem_init(&mem, 8 << 20), 0);
	/* linked at 0x8000 with a .bss: loaded, the .bss zeroed */
	n = make_elf32(f, 0x8000, 0x2000, EM_386);
	memset(mem.host + 0x8100, 0x77, 0x100);
	assert_int_equal(multiboot_load(f, n, &mem, &mb, err), 1);
	assert_true(mb.elf32);
	assert_int_equal(mb.entry, 0x8040);
	assert_int_equal(mb.lo, 0x8000);
	assert_int_equal(mb.hi, 0xa000);
	assert_memory_equal(mem.host + 0x8000, f + 0x100, 0x100);
	assert_int_equal(mem.host[0x8100], 0);
	/* the PV loader still wants a 64-bit image, and says so */
	assert_int_equal(elf_load(f, n, &mem, 0x100000, 0, &img, err), -EINVAL);
	assert_non_null(strstr(err, "64-bit"));
	/* another machine in a 32-bit file */
	n = make_elf32(f, 0x8000, 0x100, EM_ARM);
	assert_int_equal(multiboot_load(f, n, &mem, &mb, err), -EINVAL);
	assert_non_null(strstr(err, "not i386"));
	/* a real overlap with the firmware area (EBDA to 1 MiB), from either side */
	n = make_elf32(f, 0x9f000, 0x1000, EM_386);
	assert_int_equal(multiboot_load(f, n, &mem, &mb, err), -EINVAL);
	assert_non_null(strstr(err, "firmware area"));
	n = make_elf32(f, 0xff000, 0x2000, EM_386);
	assert_int_equal(multiboot_load(f, n, &mem, &mb, err), -EINVAL);
	/* right below it and right above it are fine */
	n = make_elf32(f, 0x9ec00, 0x1000, EM_386);
	assert_int_equal(multiboot_load(f, n, &mem, &mb, err), 1);
	n = make_elf32(f, 0x100000, 0x1000, EM_386);
	assert_int_equal(multiboot_load(f, n, &mem, &mb, err), 1);
	/* page 0 (the IVT) is the PC's */
	n = make_elf32(f, 0x0, 0x1000, EM_386);
	assert_int_equal(multiboot_load(f, n, &mem, &mb, err), -EINVAL);
	/* a truncated program header table */
	n = make_elf32(f, 0x8000, 0x100, EM_386);
	assert_int_equal(multiboot_load(f, sizeof(Elf32_Ehdr) + 8, &mem, &mb, err), 0);
	assert_int_equal(elf_load(f, sizeof(Elf32_Ehdr) + 8, &mem, 0x1000, ELF_LOAD_ELF32, &img,
				  err), -EINVAL);
	assert_non_null(strstr(err, "beyond the end"));
	gmem_destroy(&mem);
}

static void boot_area(void **state)
{
	struct hvm_domain h;
	struct vm vm;

	(void)state;
	memset(&h, 0, sizeof(h));
	memset(&vm, 0, sizeof(vm));
	vm.mem.size = 64 << 20;
	h.vm = &vm;
	/* nothing low: the first pages from 4 KiB */
	const uint64_t high[1][2] = {{0x100000, 0x200000}};
	assert_int_equal(hvm_place_boot_area(&h, high, 1), 0);
	assert_int_equal(h.boot.gdt, 0x1000);
	assert_int_equal(h.boot.info, 0x1000 + HVM_BOOT_AREA_INFO);
	assert_int_equal(h.boot.cmdline, 0x2000);
	assert_int_equal(h.boot.stack, 0x4000 - 16);
	/* an image at 0x2000: after it */
	const uint64_t at2k[1][2] = {{0x2000, 0x8800}};
	assert_int_equal(hvm_place_boot_area(&h, at2k, 1), 0);
	assert_int_equal(h.boot.gdt, 0x9000);
	/* an image filling low memory: above 1 MiB, past the firmware area */
	const uint64_t low[2][2] = {{0x1000, 0x9f000}, {0x3f00000, 0x4000000}};
	assert_int_equal(hvm_place_boot_area(&h, low, 2), 0);
	assert_int_equal(h.boot.gdt, 0x100000);
	/* image and initrd leave no room at all */
	const uint64_t full[2][2] = {{0x1000, 0x9f000}, {0x100000, 0x4000000}};
	assert_int_equal(hvm_place_boot_area(&h, full, 2), -ENOSPC);
	/* empty ranges (no initrd) take nothing */
	const uint64_t none[2][2] = {{0x100000, 0x180000}, {0, 0}};
	assert_int_equal(hvm_place_boot_area(&h, none, 2), 0);
	assert_int_equal(h.boot.gdt, 0x1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(elf32_multiboot),
		cmocka_unit_test(boot_area),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
