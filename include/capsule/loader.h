/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image loaders. Every size and offset read from an image is checked against the file and
 * against guest memory; a bad image is refused with a message that says what is wrong.
 */
#ifndef CAPSULE_LOADER_H
#define CAPSULE_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capsule/mem.h"

#define LOADER_ERR_MAX 256
#define ELF_MAX_PHDRS 64

struct elf_image {
	uint64_t entry;
	uint64_t lo, hi;    /* lowest loaded address, end of the highest segment */
	uint32_t pv_abi;    /* version from the Capsule ELF note; 0 if there is none */
	uint32_t pvh_entry; /* XEN_ELFNOTE_PHYS32_ENTRY (PVH boot); 0 if there is none */
	bool elf32;         /* an ELFCLASS32 i386 file (only with ELF_LOAD_ELF32) */
};

/* elf_load flags */
#define ELF_LOAD_MEM_ZEROED 1u /* guest memory is fresh: skip zeroing .bss (saves page faults) */
#define ELF_LOAD_ELF32 2u      /* also take ELFCLASS32 i386 files (kernels booted by multiboot) */
#define ELF_LOAD_PC_LOW 4u     /* a PC's low memory: refuse segments in the firmware area */

/* The PC's firmware area below 1 MiB (EBDA, VGA, option ROMs, BIOS: where Capsule keeps the
 * ACPI and MP tables), which no image may overlap; and the lowest address an image may use. */
#define LOADER_PC_HOLE 0x9fc00ull
#define LOADER_PC_HOLE_END 0x100000ull
#define LOADER_PC_LOW_MIN 0x1000ull /* the real-mode IVT and BDA stay the PC's */

/*
 * Load the static ELF64 x86-64 executable (or, with ELF_LOAD_ELF32, ELF32 i386) in
 * file[0..size) into mem. Every PT_LOAD segment must lie in [min_gpa, mem->size) and not
 * overlap another (nor, with ELF_LOAD_PC_LOW, the PC's firmware area). 0 or -EINVAL with err.
 */
int elf_load(const uint8_t *file, size_t size, struct guest_mem *mem, uint64_t min_gpa,
	     unsigned flags, struct elf_image *out, char err[LOADER_ERR_MAX]);

/* Fill err with a message and return -EINVAL: how every loader refuses an image. */
int loader_error(char err[LOADER_ERR_MAX], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Does this file look like an ELF carrying the Capsule note (a PV image)? */
int elf_is_pv(const uint8_t *file, size_t size);

/* ---- kernels for HVM domains ---- */

/* Linux x86 boot protocol: the bzImage's setup header, checked. */
struct bzimage {
	uint16_t version;
	uint32_t kernel_off, kernel_size; /* the protected-mode kernel in the file */
	uint32_t init_size;               /* memory it needs to decompress */
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;            /* longest command line it accepts */
	uint32_t header_len;              /* setup header bytes from 0x1f1, to copy */
};
#define BZ_LOAD_ADDR 0x100000ull
/* 1 if file is a bzImage, 0 if not; -EINVAL with err if it claims to be and is broken. */
int bzimage_parse(const uint8_t *file, size_t size, struct bzimage *bz,
		  char err[LOADER_ERR_MAX]);

/* Multiboot v1: the header and what loading it gives. */
struct multiboot_image {
	uint32_t flags;
	bool elf32; /* loaded from an ELF32 file */
	uint64_t entry, lo, hi;
};
#define MULTIBOOT_MAGIC 0x1badb002u
#define MULTIBOOT_BOOT_MAGIC 0x2badb002u
/* Load a multiboot kernel (a.out-kludge addresses, or ELF): 1 loaded, 0 not multiboot. */
int multiboot_load(const uint8_t *file, size_t size, struct guest_mem *mem,
		   struct multiboot_image *mb, char err[LOADER_ERR_MAX]);

/*
 * Read a whole file (at most max_size bytes) into a malloc'd buffer: from open_fd (an open
 * descriptor of path, read from offset 0 and left open) or, if it is -1, by opening path.
 * Keeping descriptors lets a domain be rebuilt on reboot with no privilege to open files.
 */
int file_read_all(const char *path, int open_fd, uint64_t max_size, uint8_t **buf,
		  size_t *size, char err[LOADER_ERR_MAX]);
/* Open a file for reading: the descriptor, or a negative errno with err filled. */
int file_open(const char *path, char err[LOADER_ERR_MAX]);

#endif
