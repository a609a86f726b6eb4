/* SPDX-License-Identifier: Apache-2.0 */
/* The ELF loader against hand-built images: good ones load, lying ones are refused. */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "capsule/loader.h"
#include "capsule/pv_abi.h"

#define MEM (8u << 20)
#define BASE 0x100000u

struct image {
	uint8_t bytes[0x3000];
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;
};

static struct guest_mem mem;
static struct image img;
static char err[LOADER_ERR_MAX];
static struct elf_image out;

/* A valid PV image: text (RX, 0x100 bytes + 0x100 bss) at BASE, data at BASE+0x10000, note. */
static void build(struct image *im)
{
	static const uint8_t note[] = {8, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 'C', 'a', 'p', 's',
				       'u', 'l', 'e', 0, 1, 0, 0, 0};

	memset(im, 0, sizeof(*im));
	im->eh = (Elf64_Ehdr *)im->bytes;
	im->ph = (Elf64_Phdr *)(im->bytes + sizeof(Elf64_Ehdr));
	memcpy(im->eh->e_ident, ELFMAG, SELFMAG);
	im->eh->e_ident[EI_CLASS] = ELFCLASS64;
	im->eh->e_ident[EI_DATA] = ELFDATA2LSB;
	im->eh->e_ident[EI_VERSION] = EV_CURRENT;
	im->eh->e_type = ET_EXEC;
	im->eh->e_machine = EM_X86_64;
	im->eh->e_entry = BASE + 0x10;
	im->eh->e_phoff = sizeof(Elf64_Ehdr);
	im->eh->e_phentsize = sizeof(Elf64_Phdr);
	im->eh->e_phnum = 3;
	im->ph[0] = (Elf64_Phdr){.p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = 0x1000,
				 .p_vaddr = BASE, .p_paddr = BASE, .p_filesz = 0x100,
				 .p_memsz = 0x200};
	im->ph[1] = (Elf64_Phdr){.p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = 0x2000,
				 .p_vaddr = BASE + 0x10000, .p_paddr = BASE + 0x10000,
				 .p_filesz = 0x10, .p_memsz = 0x10};
	im->ph[2] = (Elf64_Phdr){.p_type = PT_NOTE, .p_offset = 0x2800, .p_filesz = sizeof(note)};
	memset(im->bytes + 0x1000, 0xc3, 0x100);
	memset(im->bytes + 0x2000, 0xd5, 0x10);
	memcpy(im->bytes + 0x2800, note, sizeof(note));
}

static int setup(void **state)
{
	(void)state;
	return gmem_init(&mem, MEM);
}

static int teardown(void **state)
{
	(void)state;
	gmem_destroy(&mem);
	return 0;
}

static int reset(void **state)
{
	(void)state;
	memset(mem.host, 0x77, MEM); /* so that "nothing written" and "zeroed" are visible */
	build(&img);
	return 0;
}

static int load(size_t size)
{
	return elf_load(img.bytes, size, &mem, BASE, 0, &out, err);
}

#define assert_refused(size, text)                                                          \
	do {                                                                                \
		assert_int_equal(load(size), -EINVAL);                                      \
		assert_non_null(strstr(err, text));                                         \
		assert_int_equal(mem.host[BASE], 0x77); /* nothing was loaded */           \
	} while (0)

static void loads_valid_image(void **state)
{
	(void)state;
	assert_int_equal(load(sizeof(img.bytes)), 0);
	assert_int_equal(out.entry, BASE + 0x10);
	assert_int_equal(out.lo, BASE);
	assert_int_equal(out.hi, BASE + 0x10010);
	assert_int_equal(out.pv_abi, CAP_PV_ABI_VERSION);
	assert_int_equal(mem.host[BASE], 0xc3);
	assert_int_equal(mem.host[BASE + 0xff], 0xc3);
	assert_int_equal(mem.host[BASE + 0x100], 0);    /* bss zeroed */
	assert_int_equal(mem.host[BASE + 0x1ff], 0);
	assert_int_equal(mem.host[BASE + 0x200], 0x77); /* nothing past memsz */
	assert_int_equal(mem.host[BASE + 0x10000], 0xd5);
}

static void zeroed_memory_flag(void **state)
{
	(void)state;
	/* With ELF_LOAD_MEM_ZEROED the caller promises zeroes: .bss is not written again. */
	assert_int_equal(elf_load(img.bytes, sizeof(img.bytes), &mem, BASE, ELF_LOAD_MEM_ZEROED,
				  &out, err), 0);
	assert_int_equal(mem.host[BASE + 0xff], 0xc3);
	assert_int_equal(mem.host[BASE + 0x100], 0x77);
}

static void note_absent_or_foreign(void **state)
{
	(void)state;
	img.eh->e_phnum = 2;
	assert_int_equal(load(sizeof(img.bytes)), 0);
	assert_int_equal(out.pv_abi, 0);
	build(&img);
	img.bytes[0x2800 + 12] = 'X'; /* "Xapsule" */
	assert_int_equal(load(sizeof(img.bytes)), 0);
	assert_int_equal(out.pv_abi, 0);
}

static void bad_headers(void **state)
{
	(void)state;
	assert_refused(3, "not an ELF file");
	assert_refused(40, "too short");
	img.eh->e_ident[EI_CLASS] = ELFCLASS32;
	assert_refused(sizeof(img.bytes), "64-bit");
	build(&img);
	img.eh->e_machine = EM_AARCH64;
	assert_refused(sizeof(img.bytes), "not x86-64");
	build(&img);
	img.eh->e_type = ET_DYN;
	assert_refused(sizeof(img.bytes), "static executable");
	build(&img);
	img.eh->e_phentsize = 40;
	assert_refused(sizeof(img.bytes), "program header size");
	build(&img);
	img.eh->e_phnum = 0;
	assert_refused(sizeof(img.bytes), "program headers (1 to");
	img.eh->e_phnum = 65;
	assert_refused(sizeof(img.bytes), "program headers (1 to");
	build(&img);
	img.eh->e_phoff = UINT64_MAX - 8;
	assert_refused(sizeof(img.bytes), "beyond the end");
}

static void truncated(void **state)
{
	(void)state;
	assert_refused(sizeof(Elf64_Ehdr) + 10, "beyond the end"); /* phdrs cut */
	assert_refused(0x1080, "truncated");                        /* text cut */
	assert_refused(0x2008, "truncated");                        /* data cut */
	assert_refused(0x2810, "note");                             /* note cut */
}

static void out_of_range_segments(void **state)
{
	(void)state;
	img.ph[1].p_paddr = MEM - 8; /* runs past the end of RAM */
	assert_refused(sizeof(img.bytes), "outside guest memory");
	img.ph[1].p_paddr = UINT64_MAX - 4; /* wraps */
	assert_refused(sizeof(img.bytes), "outside guest memory");
	img.ph[1].p_paddr = 0x1000; /* below the image area: VMM tables live there */
	assert_refused(sizeof(img.bytes), "outside guest memory");
	build(&img);
	img.ph[1].p_memsz = UINT64_MAX;
	img.ph[1].p_filesz = 0x10;
	assert_refused(sizeof(img.bytes), "outside guest memory");
	build(&img);
	img.ph[1].p_filesz = 0x20; /* more file than memory */
	assert_refused(sizeof(img.bytes), "exceeds memory size");
	build(&img);
	img.ph[1].p_offset = UINT64_MAX - 1;
	assert_refused(sizeof(img.bytes), "truncated");
}

static void overlapping_segments(void **state)
{
	(void)state;
	img.ph[1].p_paddr = BASE + 0x1f0; /* inside text's bss */
	assert_refused(sizeof(img.bytes), "overlaps");
	img.ph[1].p_paddr = BASE - 0x8;
	img.ph[1].p_memsz = 0x10;
	img.ph[1].p_filesz = 0x10;
	assert_refused(sizeof(img.bytes), "");
}

static void bad_entry(void **state)
{
	(void)state;
	img.eh->e_entry = BASE + 0x10000; /* in the data segment: not executable */
	assert_refused(sizeof(img.bytes), "entry point");
	img.eh->e_entry = BASE + 0x200; /* just past text */
	assert_refused(sizeof(img.bytes), "entry point");
	img.eh->e_entry = 0;
	assert_refused(sizeof(img.bytes), "entry point");
}

static void no_loadable(void **state)
{
	(void)state;
	img.ph[0].p_type = PT_NULL;
	img.ph[1].p_type = PT_NULL;
	assert_refused(sizeof(img.bytes), "no loadable segment");
}

static void bad_notes(void **state)
{
	(void)state;
	img.bytes[0x2800] = 0xff; /* namesz 255: runs past the segment */
	assert_refused(sizeof(img.bytes), "note runs past");
	build(&img);
	img.ph[2].p_offset = sizeof(img.bytes) - 4;
	assert_refused(sizeof(img.bytes), "note segment");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(loads_valid_image, reset),
		cmocka_unit_test_setup(zeroed_memory_flag, reset),
		cmocka_unit_test_setup(note_absent_or_foreign, reset),
		cmocka_unit_test_setup(bad_headers, reset),
		cmocka_unit_test_setup(truncated, reset),
		cmocka_unit_test_setup(out_of_range_segments, reset),
		cmocka_unit_test_setup(overlapping_segments, reset),
		cmocka_unit_test_setup(bad_entry, reset),
		cmocka_unit_test_setup(no_loadable, reset),
		cmocka_unit_test_setup(bad_notes, reset),
	};

	return cmocka_run_group_tests_name("elf loader", tests, setup, teardown);
}
