/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules: R-IMG-5 R-IMG-7 R-IMG-8 R-IMG-9 R-SI-4
 * An image as the loader placed it: at its p_paddr, with everything between a segment's
 * file data and its memory size zero. The runner boots this image as built, linked at
 * 3 GiB (image_high.elf), and rewritten by images.py (p_vaddr garbage, segments grown);
 * "end=ADDR" on the command line is where the runner says the image now ends.
 */
#include "xtf.h"

const char test_title[] = "image placement, zeroed memory, start_info image fields";

static const uint64_t data_word = 0x0123456789abcdefull; /* .rodata */
static volatile uint64_t data_var = 0xfeedfacecafebeefull; /* .data */
static volatile uint8_t bss[65536]; /* .bss: file size 0, memory size 64 KiB */

void test_main(void)
{
	char buf[32];
	uint64_t end = xtf_arg("end", buf, sizeof(buf)) ? xtf_strtou(buf) : (uintptr_t)_image_end;
	uint64_t nonzero = 0;

	/* Placed at the link address (= p_paddr): code, rodata and data are where linked. */
	CHECK_EQ(data_word, 0x0123456789abcdefull);
	CHECK_EQ(data_var, 0xfeedfacecafebeefull);
	CHECK_EQ(si->image_start, (uintptr_t)_start);
	CHECK_EQ(si->image_end, end);
	CHECK_EQ(si->free_start, (end + 4095) & ~4095ull);
	CHECK_EQ(si->free_end, si->mem_bytes - 0x10000);
	/* .bss, and whatever the runner added beyond the linked end, are zero. */
	for (uint64_t i = 0; i < sizeof(bss); i++)
		nonzero += bss[i] != 0;
	for (uint64_t a = (uintptr_t)_image_end; a < end; a++)
		nonzero += *(volatile uint8_t *)(uintptr_t)a != 0;
	CHECK_EQ(nonzero, 0);
	printf("image: at 0x%llx..0x%llx, %llu bytes of zeroed memory checked\n",
	       (unsigned long long)si->image_start, (unsigned long long)si->image_end,
	       (unsigned long long)(sizeof(bss) + end - (uintptr_t)_image_end));
}
