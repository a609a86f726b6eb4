/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Linux bzImage, x86 boot protocol 2.10 or later (Documentation/arch/x86/boot.rst). Only
 * the setup header is read here; src/hvm/linux.c builds the zero page and enters the
 * kernel at its 64-bit entry point (load address + 0x200).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "capsule/loader.h"

#define HDR_SETUP_SECTS 0x1f1
#define HDR_SYSSIZE 0x1f4
#define HDR_BOOT_FLAG 0x1fe
#define HDR_JUMP 0x200
#define HDR_MAGIC 0x202
#define HDR_VERSION 0x206
#define HDR_LOADFLAGS 0x211
#define HDR_INITRD_MAX 0x22c
#define HDR_XLOADFLAGS 0x236
#define HDR_CMDLINE_SIZE 0x238
#define HDR_INIT_SIZE 0x260
#define LOADED_HIGH 0x01
#define XLF_KERNEL_64 0x01

static uint32_t le(const uint8_t *p, int n)
{
	uint32_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#define bad loader_error

int bzimage_parse(const uint8_t *f, size_t size, struct bzimage *bz, char err[LOADER_ERR_MAX])
{
	uint32_t setup_sects;

	memset(bz, 0, sizeof(*bz));
	if (size < HDR_MAGIC + 4 || memcmp(f + HDR_MAGIC, "HdrS", 4) != 0)
		return 0; /* not a bzImage: someone else's format */
	if (size < HDR_INIT_SIZE + 4)
		return bad(err, "bzImage is too short for its setup header (truncated?)");
	if (le(f + HDR_BOOT_FLAG, 2) != 0xaa55)
		return bad(err, "bzImage has no 0xAA55 boot flag");
	bz->version = (uint16_t)le(f + HDR_VERSION, 2);
	if (bz->version < 0x20a)
		return bad(err, "bzImage speaks boot protocol %u.%02u; 2.10 or later is needed",
			   bz->version >> 8, bz->version & 0xff);
	if (!(f[HDR_LOADFLAGS] & LOADED_HIGH))
		return bad(err, "bzImage is not loaded high (an old zImage is not supported)");
	if (!(le(f + HDR_XLOADFLAGS, 2) & XLF_KERNEL_64))
		return bad(err, "bzImage has no 64-bit entry point (XLF_KERNEL_64)");
	setup_sects = f[HDR_SETUP_SECTS] ? f[HDR_SETUP_SECTS] : 4;
	bz->kernel_off = (setup_sects + 1) * 512;
	if (bz->kernel_off >= size)
		return bad(err, "bzImage setup (%u sectors) runs past the end of the file",
			   setup_sects);
	bz->kernel_size = (uint32_t)(size - bz->kernel_off);
	if ((uint64_t)le(f + HDR_SYSSIZE, 4) * 16 > bz->kernel_size)
		return bad(err, "bzImage is shorter than its header says (truncated?)");
	bz->init_size = le(f + HDR_INIT_SIZE, 4);
	bz->initrd_addr_max = le(f + HDR_INITRD_MAX, 4);
	bz->cmdline_size = le(f + HDR_CMDLINE_SIZE, 4);
	/* The header runs from 0x1f1 to 0x202 + the jump's offset byte. */
	bz->header_len = HDR_MAGIC + f[HDR_JUMP + 1] - HDR_SETUP_SECTS;
	if (f[HDR_JUMP] != 0xeb || HDR_SETUP_SECTS + bz->header_len > bz->kernel_off)
		return bad(err, "bzImage setup header has a bad length");
	return 1;
}
