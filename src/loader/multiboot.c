/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Multiboot v1 kernels (the format small test kernels use). The header is in the first
 * 8 KiB, 4-byte aligned; with flag 16 it gives load addresses (the a.out kludge), otherwise
 * the file is an ELF (64-bit, or 32-bit i386 as `objcopy -O elf32-i386` makes it) and is
 * loaded as such, anywhere from 4 KiB up outside the PC's firmware area. Entry is in 32-bit protected mode
 * (src/hvm/boot.c) with EAX = 0x2badb002 and EBX = the multiboot information.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "capsule/loader.h"

#define MB_SEARCH 8192
#define MB_AOUT_KLUDGE (1u << 16)
#define MB_SUPPORTED (1u << 0 | 1u << 1 | MB_AOUT_KLUDGE) /* page-align mods, mem info */

struct mb_header {
	uint32_t magic, flags, checksum;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

static int load_aout(const uint8_t *file, size_t size, size_t hoff, const struct mb_header *h,
		     struct guest_mem *mem, struct multiboot_image *mb, char err[LOADER_ERR_MAX])
{
	uint64_t file_off, load_len, end, bss_end;
	uint8_t *dst;

	if (h->header_addr < h->load_addr || h->header_addr - h->load_addr > hoff)
		goto bad;
	file_off = hoff - (h->header_addr - h->load_addr);
	load_len = h->load_end_addr ? (uint64_t)h->load_end_addr - h->load_addr
				    : size - file_off;
	if (h->load_end_addr && h->load_end_addr < h->load_addr)
		goto bad;
	if (file_off + load_len > size) {
		snprintf(err, LOADER_ERR_MAX, "multiboot kernel is shorter than its header says "
			 "(truncated?)");
		return -EINVAL;
	}
	end = h->load_addr + load_len;
	bss_end = h->bss_end_addr ? h->bss_end_addr : end;
	if (bss_end < end || h->entry_addr < h->load_addr || h->entry_addr >= end)
		goto bad;
	if (h->load_addr < LOADER_PC_LOW_MIN ||
	    !(dst = gmem_ptr(mem, h->load_addr, bss_end - h->load_addr))) {
		snprintf(err, LOADER_ERR_MAX, "multiboot kernel [0x%x, 0x%llx) lies outside guest "
			 "memory [0x%llx, 0x%llx); give the domain more --mem", h->load_addr,
			 (unsigned long long)bss_end, (unsigned long long)LOADER_PC_LOW_MIN,
			 (unsigned long long)mem->size);
		return -EINVAL;
	}
	if (h->load_addr < LOADER_PC_HOLE_END && bss_end > LOADER_PC_HOLE) {
		snprintf(err, LOADER_ERR_MAX, "multiboot kernel [0x%x, 0x%llx) overlaps the PC's "
			 "firmware area [0x%llx, 0x%llx) (EBDA, VGA, BIOS and the ACPI tables)",
			 h->load_addr, (unsigned long long)bss_end,
			 (unsigned long long)LOADER_PC_HOLE, (unsigned long long)LOADER_PC_HOLE_END);
		return -EINVAL;
	}
	memcpy(dst, file + file_off, load_len);
	memset(dst + load_len, 0, bss_end - end);
	mb->entry = h->entry_addr;
	mb->lo = h->load_addr;
	mb->hi = bss_end;
	return 1;
bad:
	snprintf(err, LOADER_ERR_MAX, "multiboot header addresses are inconsistent");
	return -EINVAL;
}

int multiboot_load(const uint8_t *file, size_t size, struct guest_mem *mem,
		   struct multiboot_image *mb, char err[LOADER_ERR_MAX])
{
	memset(mb, 0, sizeof(*mb));
	for (size_t off = 0; off + sizeof(struct mb_header) <= size && off < MB_SEARCH; off += 4) {
		struct mb_header h;

		memcpy(&h, file + off, sizeof(h));
		if (h.magic != MULTIBOOT_MAGIC || h.magic + h.flags + h.checksum != 0)
			continue;
		mb->flags = h.flags;
		if (h.flags & 0xffff & ~MB_SUPPORTED) {
			snprintf(err, LOADER_ERR_MAX, "multiboot kernel asks for features Capsule "
				 "does not offer (flags 0x%x, e.g. a video mode)", h.flags);
			return -EINVAL;
		}
		if (h.flags & MB_AOUT_KLUDGE)
			return load_aout(file, size, off, &h, mem, mb, err);
		/* Otherwise it must be an ELF. */
		struct elf_image img;
		int rc = elf_load(file, size, mem, LOADER_PC_LOW_MIN,
				  ELF_LOAD_ELF32 | ELF_LOAD_PC_LOW, &img, err);

		if (rc)
			return rc;
		mb->elf32 = img.elf32;
		mb->entry = img.entry;
		mb->lo = img.lo;
		mb->hi = img.hi;
		return 1;
	}
	return 0;
}
