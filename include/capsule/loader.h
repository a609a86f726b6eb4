/*
 * Image loaders. Every size and offset read from an image is checked against the file and
 * against guest memory; a bad image is refused with a message that says what is wrong.
 */
#ifndef CAPSULE_LOADER_H
#define CAPSULE_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "capsule/mem.h"

#define LOADER_ERR_MAX 256
#define ELF_MAX_PHDRS 64

struct elf_image {
	uint64_t entry;
	uint64_t lo, hi;    /* lowest loaded address, end of the highest segment */
	uint32_t pv_abi;    /* version from the Capsule ELF note; 0 if there is none */
};

/* elf_load flags */
#define ELF_LOAD_MEM_ZEROED 1u /* guest memory is fresh: skip zeroing .bss (saves page faults) */

/*
 * Load the static ELF64 x86-64 executable in file[0..size) into mem. Every PT_LOAD segment
 * must lie in [min_gpa, mem->size) and not overlap another. 0 or -EINVAL with err filled.
 */
int elf_load(const uint8_t *file, size_t size, struct guest_mem *mem, uint64_t min_gpa,
	     unsigned flags, struct elf_image *out, char err[LOADER_ERR_MAX]);

/* Read a whole file (at most max_size bytes) into a malloc'd buffer. */
int file_read_all(const char *path, uint64_t max_size, uint8_t **buf, size_t *size,
		  char err[LOADER_ERR_MAX]);

#endif
