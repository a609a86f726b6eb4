/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading an HVM kernel, chosen by looking at it: a bzImage (64-bit entry, zero page), an
 * ELF with a PVH note (32-bit entry, hvm_start_info), a multiboot kernel (32-bit entry,
 * multiboot information), or any other x86-64 ELF such as Linux's vmlinux (64-bit entry,
 * zero page, as Firecracker does). The command line gets one virtio_mmio.device= per device.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsule/hvm.h"
#include "capsule/loader.h"
#include "capsule/log.h"

#define PVH_MAGIC 0x336ec578u

/* boot_params offsets (Documentation/arch/x86/zero-page.rst) */
#define BP_ACPI_RSDP 0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_E820_ENTRIES 0x1e8
#define BP_HDR 0x1f1
#define BP_BOOT_FLAG 0x1fe
#define BP_MAGIC 0x202
#define BP_VERSION 0x206
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS 0x211
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_HEAP_END 0x224
#define BP_CMD_LINE_PTR 0x228
#define BP_KERNEL_ALIGN 0x230
#define BP_CMDLINE_SIZE 0x238
#define BP_E820_TABLE 0x2d0

struct loaded {
	const uint8_t *file;
	size_t size;
	uint8_t *initrd;
	size_t initrd_size;
	uint64_t initrd_addr;
	uint64_t kernel_lo, kernel_end; /* what the image took */
};

#define MODS_LEN (HVM_BOOT_AREA_MMAP - HVM_BOOT_AREA_MODS) /* one module and its string */

static void put(uint8_t *p, unsigned off, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

/* The command line the guest gets: a first word if given (multiboot: the kernel's path, as
 * GRUB and QEMU pass it), the user's, then one entry per virtio device. */
static int write_cmdline(struct hvm_domain *h, const char *first, const char *user, uint32_t max)
{
	char *c = gmem_ptr(&h->vm->mem, h->boot.cmdline, HVM_CMDLINE_MAX);
	size_t n;

	if (!c)
		return -EINVAL;
	if (first)
		n = (size_t)snprintf(c, HVM_CMDLINE_MAX, "%s%s%s", first, user && *user ? " " : "",
				     user ? user : "");
	else
		n = (size_t)snprintf(c, HVM_CMDLINE_MAX, "%s", user ? user : "");

	for (unsigned i = 0; i < h->nr_devices && n < HVM_CMDLINE_MAX; i++)
		if (!h->devices[i].pci) /* virtio-pci devices are found on the bus */
			n += (size_t)snprintf(c + n, HVM_CMDLINE_MAX - n, "%svirtio_mmio.device=512@0x%llx:%u",
				      n ? " " : "", (unsigned long long)h->devices[i].dev.base,
				      h->devices[i].gsi);
	if (n >= HVM_CMDLINE_MAX || (max && n > max)) {
		log_err("the kernel command line is too long (%zu bytes, at most %u)", n,
			max ? max : HVM_CMDLINE_MAX - 1);
		return -EINVAL;
	}
	return 0;
}

/* The initrd as high as possible below `limit`, above the kernel. */
static int place_initrd(struct hvm_domain *h, struct loaded *l, uint64_t limit)
{
	uint64_t low = gmem_low_end(&h->vm->mem), top = low < limit ? low : limit;
	uint8_t *dst;

	if (!l->initrd)
		return 0;
	if (l->initrd_size == 0) {
		log_err("the initrd is empty");
		return -EINVAL;
	}
	l->initrd_addr = (top - l->initrd_size) & ~0xfffull;
	if (l->initrd_size > top || l->initrd_addr < l->kernel_end ||
	    !(dst = gmem_ptr(&h->vm->mem, l->initrd_addr, l->initrd_size))) {
		log_err("the initrd (%zu bytes) does not fit above the kernel; give the domain "
			"more --mem", l->initrd_size);
		return -EINVAL;
	}
	memcpy(dst, l->initrd, l->initrd_size);
	return 0;
}

/* The 32-bit entries' boot structures, where the image and the initrd are not. */
static int place_boot_area(struct hvm_domain *h, const struct loaded *l)
{
	const uint64_t avoid[2][2] = {
		{l->kernel_lo, l->kernel_end},
		{l->initrd_addr, l->initrd_addr + l->initrd_size},
	};

	if (hvm_place_boot_area(h, avoid, 2)) {
		log_err("no room for the boot information (%llu KiB) outside the kernel "
			"[0x%llx, 0x%llx) and the initrd; give the domain more --mem",
			(unsigned long long)(HVM_BOOT_AREA_SIZE >> 10),
			(unsigned long long)l->kernel_lo, (unsigned long long)l->kernel_end);
		return -ENOSPC;
	}
	return 0;
}

static int zero_page(struct hvm_domain *h, struct loaded *l, const struct bzimage *bz)
{
	uint8_t *bp = gmem_ptr(&h->vm->mem, HVM_ZERO_PAGE, 4096);
	memset(bp, 0, 4096);
	if (bz) {
		memcpy(bp + BP_HDR, l->file + BP_HDR, bz->header_len);
	} else { /* vmlinux: a header of our own saying what the kernel needs to know */
		put(bp, BP_BOOT_FLAG, 0xaa55, 2);
		put(bp, BP_MAGIC, 0x53726448, 4); /* "HdrS" */
		put(bp, BP_VERSION, 0x020c, 2);
		put(bp, BP_KERNEL_ALIGN, 0x1000000, 4);
	}
	put(bp, BP_TYPE_OF_LOADER, 0xff, 1);
	bp[BP_LOADFLAGS] |= 0x01 | 0x80; /* loaded high, can use heap */
	put(bp, BP_HEAP_END, 0xfe00, 2);
	put(bp, BP_CMD_LINE_PTR, h->boot.cmdline, 4);
	put(bp, BP_RAMDISK_IMAGE, (uint32_t)l->initrd_addr, 4);
	put(bp, BP_RAMDISK_SIZE, (uint32_t)l->initrd_size, 4);
	put(bp, BP_EXT_RAMDISK_IMAGE, l->initrd_addr >> 32, 4);
	put(bp, BP_EXT_RAMDISK_SIZE, (uint64_t)l->initrd_size >> 32, 4);
	put(bp, BP_ACPI_RSDP, h->rsdp, 8);
	put(bp, BP_E820_ENTRIES, h->nr_e820, 1);
	for (unsigned i = 0; i < h->nr_e820; i++)
		memcpy(bp + BP_E820_TABLE + 20 * i, &h->e820[i], 20);
	return 0;
}

static int boot_bzimage(struct hvm_domain *h, const struct hvm_config *cfg, struct loaded *l,
			const struct bzimage *bz)
{
	uint64_t need = bz->kernel_size > bz->init_size ? bz->kernel_size : bz->init_size;
	uint8_t *dst = gmem_ptr(&h->vm->mem, BZ_LOAD_ADDR, need);
	int rc;

	if (!dst) {
		log_err("%s needs %llu MiB of memory to decompress; give the domain more --mem",
			cfg->kernel, (unsigned long long)((BZ_LOAD_ADDR + need) >> 20) + 1);
		return -EINVAL;
	}
	memcpy(dst, l->file + bz->kernel_off, bz->kernel_size);
	l->kernel_end = BZ_LOAD_ADDR + need;
	rc = place_initrd(h, l, bz->initrd_addr_max ? (uint64_t)bz->initrd_addr_max + 1 : HVM_HOLE_START);
	if (!rc)
		rc = zero_page(h, l, bz);
	if (!rc)
		rc = write_cmdline(h, NULL, cfg->cmdline, bz->cmdline_size ? bz->cmdline_size : 255);
	log_info("booting bzImage (boot protocol %u.%02u) at its 64-bit entry",
		 bz->version >> 8, bz->version & 0xff);
	return rc ? rc : hvm_boot_regs(h, HVM_ENTRY_64, BZ_LOAD_ADDR + 0x200, 0, HVM_ZERO_PAGE);
}

static int boot_pvh(struct hvm_domain *h, const struct hvm_config *cfg, struct loaded *l,
		    uint32_t entry)
{
	int rc = place_boot_area(h, l);
	uint8_t *si = gmem_ptr(&h->vm->mem, h->boot.info, 56);
	uint8_t *map = gmem_ptr(&h->vm->mem, h->boot.mmap, 24 * E820_MAX);
	uint8_t *mod = gmem_ptr(&h->vm->mem, h->boot.mods, 32);

	if (!rc)
		rc = write_cmdline(h, NULL, cfg->cmdline, 0);
	if (rc)
		return rc;
	memset(si, 0, 56);
	put(si, 0, PVH_MAGIC, 4);
	put(si, 4, 1, 4); /* version 1: with the memory map */
	put(si, 12, l->initrd ? 1 : 0, 4);
	put(si, 16, h->boot.mods, 8);
	put(si, 24, h->boot.cmdline, 8);
	put(si, 32, h->rsdp, 8);
	put(si, 40, h->boot.mmap, 8);
	put(si, 48, h->nr_e820, 4);
	for (unsigned i = 0; i < h->nr_e820; i++) {
		put(map, 24 * i, h->e820[i].addr, 8);
		put(map, 24 * i + 8, h->e820[i].size, 8);
		put(map, 24 * i + 16, h->e820[i].type, 4);
		put(map, 24 * i + 20, 0, 4);
	}
	memset(mod, 0, 32);
	put(mod, 0, l->initrd_addr, 8);
	put(mod, 8, l->initrd_size, 8);
	log_info("booting through the PVH entry at 0x%x", entry);
	return hvm_boot_regs(h, HVM_ENTRY_32, entry, 0, (uint32_t)h->boot.info);
}

static int boot_multiboot(struct hvm_domain *h, const struct hvm_config *cfg, struct loaded *l,
			  const struct multiboot_image *mb)
{
	int rc = place_boot_area(h, l);
	uint8_t *mbi = gmem_ptr(&h->vm->mem, h->boot.info, 52);
	uint8_t *map = gmem_ptr(&h->vm->mem, h->boot.mmap, 24 * E820_MAX);
	uint8_t *mod = gmem_ptr(&h->vm->mem, h->boot.mods, MODS_LEN);

	if (!rc)
		rc = write_cmdline(h, cfg->kernel, cfg->cmdline, 0);
	if (rc)
		return rc;
	memset(mbi, 0, 52);
	/* mem_lower/upper, cmdline, modules (if any), memory map */
	put(mbi, 0, 0x1 | 0x4 | (l->initrd ? 0x8 : 0) | 0x40, 4);
	put(mbi, 4, HVM_EBDA / 1024, 4);
	put(mbi, 8, (gmem_low_end(&h->vm->mem) - 0x100000) / 1024, 4); /* up to the first hole */
	put(mbi, 16, h->boot.cmdline, 4);
	put(mbi, 20, l->initrd ? 1 : 0, 4);
	put(mbi, 24, h->boot.mods, 4);
	put(mbi, 44, 24 * h->nr_e820, 4);
	put(mbi, 48, h->boot.mmap, 4);
	for (unsigned i = 0; i < h->nr_e820; i++) {
		put(map, 24 * i, 20, 4);
		memcpy(map + 24 * i + 4, &h->e820[i], 20);
	}
	/* The module's string (its path, as GRUB gives it) right after the list. */
	memset(mod, 0, MODS_LEN);
	put(mod, 0, l->initrd_addr, 4);
	put(mod, 4, l->initrd_addr + l->initrd_size, 4);
	put(mod, 8, h->boot.mods + 16, 4);
	snprintf((char *)mod + 16, MODS_LEN - 16, "%s", cfg->initrd ? cfg->initrd : "");
	log_info("booting a multiboot kernel at 0x%llx (%s)", (unsigned long long)mb->entry,
		 mb->elf32 ? "ELF32" : mb->flags & (1u << 16) ? "load addresses" : "ELF64");
	return hvm_boot_regs(h, HVM_ENTRY_32, mb->entry, MULTIBOOT_BOOT_MAGIC,
			     (uint32_t)h->boot.info);
}

static int load_and_boot(struct hvm_domain *h, const struct hvm_config *cfg, struct loaded *l,
			 char err[LOADER_ERR_MAX])
{
	struct multiboot_image mb;
	struct elf_image img;
	struct bzimage bz;
	int rc;

	/* The Linux protocols' fixed places; the 32-bit entries choose their own. */
	h->boot = (struct hvm_boot_area){
		.gdt = HVM_GDT, .cmdline = HVM_CMDLINE, .stack = HVM_BOOT_STACK,
	};
	rc = bzimage_parse(l->file, l->size, &bz, err);
	if (rc < 0)
		return rc;
	if (rc)
		return boot_bzimage(h, cfg, l, &bz);
	/* An ELF with a PVH note boots through it unless told otherwise. */
	if (l->size >= 4 && !memcmp(l->file, "\177ELF", 4)) {
		rc = elf_load(l->file, l->size, &h->vm->mem, LOADER_PC_LOW_MIN,
			      ELF_LOAD_ELF32 | ELF_LOAD_PC_LOW, &img, err);
		if (rc == 0 && img.pvh_entry && !cfg->no_pvh) {
			l->kernel_lo = img.lo;
			l->kernel_end = img.hi;
			rc = place_initrd(h, l, HVM_HOLE_START);
			return rc ? rc : boot_pvh(h, cfg, l, img.pvh_entry);
		}
	}
	rc = multiboot_load(l->file, l->size, &h->vm->mem, &mb, err);
	if (rc < 0)
		return rc;
	if (rc) {
		l->kernel_lo = mb.lo;
		l->kernel_end = mb.hi;
		rc = place_initrd(h, l, HVM_HOLE_START);
		return rc ? rc : boot_multiboot(h, cfg, l, &mb);
	}
	rc = elf_load(l->file, l->size, &h->vm->mem, 0x100000, 0, &img, err);
	if (rc)
		return rc;
	l->kernel_end = img.hi;
	rc = place_initrd(h, l, HVM_HOLE_START);
	if (!rc)
		rc = zero_page(h, l, NULL);
	if (!rc)
		rc = write_cmdline(h, NULL, cfg->cmdline, 0);
	log_info("booting an ELF kernel at its 64-bit entry 0x%llx", (unsigned long long)img.entry);
	return rc ? rc : hvm_boot_regs(h, HVM_ENTRY_64, img.entry, 0, HVM_ZERO_PAGE);
}

int hvm_kernel_load(struct hvm_domain *h, const struct hvm_config *cfg)
{
	char err[LOADER_ERR_MAX] = "";
	struct loaded l = {0};
	uint8_t *read = NULL; /* the kernel as read here, if the domain had not */
	int rc = 0;

	if (cfg->kernel_image) {
		l.file = cfg->kernel_image;
		l.size = cfg->kernel_size;
	} else if (!(rc = file_read_all(cfg->kernel, cfg->kernel_fd, h->vm->mem.size, &read,
					&l.size, err))) {
		l.file = read;
	}
	if (!rc && cfg->initrd)
		rc = file_read_all(cfg->initrd, cfg->initrd_fd, h->vm->mem.size, &l.initrd,
				   &l.initrd_size, err);
	if (!rc)
		rc = load_and_boot(h, cfg, &l, err);
	if (rc && err[0])
		log_err("%s: %s", cfg->kernel, err);
	free(read);
	free(l.initrd);
	return rc;
}
