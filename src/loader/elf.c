/* SPDX-License-Identifier: Apache-2.0 */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "capsule/loader.h"
#include "capsule/pv_abi.h"

#define fail loader_error

/* True if [off, off + len) lies inside a buffer of `size` bytes, without wrapping. */
static int in_file(uint64_t off, uint64_t len, size_t size)
{
	return off <= size && len <= size - off;
}

/* A program header of either class, widened. */
struct phdr {
	uint32_t type, flags;
	uint64_t offset, paddr, filesz, memsz;
};

/* The header fields the loader needs, of either class. */
struct ehdr {
	unsigned class; /* ELFCLASS64 or ELFCLASS32 */
	uint64_t entry, phoff;
	unsigned phnum, phentsize;
};

static int read_header(const uint8_t *file, size_t size, unsigned flags, struct ehdr *eh,
		       char err[LOADER_ERR_MAX])
{
	Elf64_Ehdr e64;
	Elf32_Ehdr e32;
	unsigned type, machine, want_phentsize;

	if (size < SELFMAG || memcmp(file, ELFMAG, SELFMAG) != 0)
		return fail(err, "not an ELF file");
	if (size < EI_NIDENT || file[EI_DATA] != ELFDATA2LSB ||
	    (file[EI_CLASS] != ELFCLASS64 &&
	     !(file[EI_CLASS] == ELFCLASS32 && (flags & ELF_LOAD_ELF32))))
		return fail(err, (flags & ELF_LOAD_ELF32)
					 ? "not a little-endian ELF file of 32 or 64 bits"
					 : "not a 64-bit little-endian ELF file");
	eh->class = file[EI_CLASS];
	if (eh->class == ELFCLASS64) {
		if (size < sizeof(e64))
			return fail(err, "file too short for an ELF header (%zu bytes)", size);
		memcpy(&e64, file, sizeof(e64));
		type = e64.e_type, machine = e64.e_machine;
		eh->entry = e64.e_entry, eh->phoff = e64.e_phoff;
		eh->phnum = e64.e_phnum, eh->phentsize = e64.e_phentsize;
		want_phentsize = sizeof(Elf64_Phdr);
		if (machine != EM_X86_64)
			return fail(err, "ELF machine is %u, not x86-64", machine);
	} else {
		if (size < sizeof(e32))
			return fail(err, "file too short for an ELF header (%zu bytes)", size);
		memcpy(&e32, file, sizeof(e32));
		type = e32.e_type, machine = e32.e_machine;
		eh->entry = e32.e_entry, eh->phoff = e32.e_phoff;
		eh->phnum = e32.e_phnum, eh->phentsize = e32.e_phentsize;
		want_phentsize = sizeof(Elf32_Phdr);
		if (machine != EM_386)
			return fail(err, "32-bit ELF machine is %u, not i386", machine);
	}
	if (type != ET_EXEC)
		return fail(err, "ELF type is %u, not a static executable (ET_EXEC)", type);
	if (eh->phentsize != want_phentsize)
		return fail(err, "ELF program header size is %u, expected %u", eh->phentsize,
			    want_phentsize);
	if (eh->phnum == 0 || eh->phnum > ELF_MAX_PHDRS)
		return fail(err, "ELF has %u program headers (1 to %d allowed)", eh->phnum,
			    ELF_MAX_PHDRS);
	if (!in_file(eh->phoff, (uint64_t)eh->phnum * eh->phentsize, size))
		return fail(err, "ELF program headers lie beyond the end of the file");
	/* The ELF specification aligns the table to its entries' largest member; a file that
	 * does not is malformed (docs/pv-abi.md R-IMG-4), even if headers are copied out. */
	if (eh->phoff % (eh->phentsize == sizeof(Elf64_Phdr) ? 8 : 4))
		return fail(err, "ELF program headers are misaligned");
	return 0;
}

static struct phdr phdr_at(const uint8_t *file, const struct ehdr *eh, unsigned i)
{
	const uint8_t *p = file + eh->phoff + (uint64_t)i * eh->phentsize; /* checked */

	if (eh->class == ELFCLASS64) {
		Elf64_Phdr ph;

		memcpy(&ph, p, sizeof(ph));
		return (struct phdr){ph.p_type, ph.p_flags, ph.p_offset, ph.p_paddr, ph.p_filesz,
				     ph.p_memsz};
	}
	Elf32_Phdr ph;

	memcpy(&ph, p, sizeof(ph));
	return (struct phdr){ph.p_type, ph.p_flags, ph.p_offset, ph.p_paddr, ph.p_filesz,
			     ph.p_memsz};
}

/* Scan one PT_NOTE segment for the Capsule ABI note (notes have one layout in both classes). */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

static int scan_notes(const uint8_t *file, size_t size, const struct phdr *ph,
		      struct elf_image *out, char err[LOADER_ERR_MAX])
{
	uint64_t off = ph->offset, end;

	if (!in_file(ph->offset, ph->filesz, size))
		return fail(err, "ELF note segment lies beyond the end of the file (truncated?)");
	end = ph->offset + ph->filesz;
	while (end - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		uint64_t name_len, desc_len;

		memcpy(&nh, file + off, sizeof(nh));
		off += sizeof(nh);
		name_len = ((uint64_t)nh.n_namesz + 3) & ~3ull;
		desc_len = ((uint64_t)nh.n_descsz + 3) & ~3ull;
		if (name_len > end - off || desc_len > end - off - name_len)
			return fail(err, "ELF note runs past its segment");
		if (nh.n_namesz == sizeof(CAP_ELFNOTE_NAME) && nh.n_type == CAP_ELFNOTE_ABI &&
		    nh.n_descsz == 4 &&
		    memcmp(file + off, CAP_ELFNOTE_NAME, sizeof(CAP_ELFNOTE_NAME)) == 0)
			memcpy(&out->pv_abi, file + off + name_len, 4);
		/* Xen's PVH entry note: a 32-bit entry point (4 or 8 bytes). */
		if (nh.n_namesz == 4 && nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY &&
		    (nh.n_descsz == 4 || nh.n_descsz == 8) && memcmp(file + off, "Xen", 4) == 0)
			memcpy(&out->pvh_entry, file + off + name_len, 4);
		off += name_len + desc_len;
	}
	return 0;
}

static int scan_all_notes(const uint8_t *file, size_t size, const struct ehdr *eh,
			  struct elf_image *out, char err[LOADER_ERR_MAX])
{
	for (unsigned i = 0; i < eh->phnum; i++) {
		struct phdr ph = phdr_at(file, eh, i);
		int rc = ph.type == PT_NOTE ? scan_notes(file, size, &ph, out, err) : 0;

		if (rc)
			return rc;
	}
	return 0;
}

static int check_load(const struct phdr *ph, unsigned idx, size_t size,
		      const struct guest_mem *mem, uint64_t min_gpa, unsigned flags,
		      char err[LOADER_ERR_MAX])
{
	if (ph->filesz > ph->memsz)
		return fail(err, "segment %u: file size 0x%llx exceeds memory size 0x%llx", idx,
			    (unsigned long long)ph->filesz, (unsigned long long)ph->memsz);
	if (!in_file(ph->offset, ph->filesz, size))
		return fail(err, "segment %u: its data lies beyond the end of the file (truncated?)",
			    idx);
	if (ph->paddr < min_gpa || ph->paddr >= mem->size || ph->memsz > mem->size - ph->paddr)
		return fail(err,
			    "segment %u (0x%llx, 0x%llx bytes) lies outside guest memory "
			    "[0x%llx, 0x%llx); link the image higher or give the domain more --mem",
			    idx, (unsigned long long)ph->paddr, (unsigned long long)ph->memsz,
			    (unsigned long long)min_gpa, (unsigned long long)mem->size);
	if ((flags & ELF_LOAD_PC_LOW) && ph->paddr < LOADER_PC_HOLE_END &&
	    ph->paddr + ph->memsz > LOADER_PC_HOLE)
		return fail(err,
			    "segment %u (0x%llx, 0x%llx bytes) overlaps the PC's firmware area "
			    "[0x%llx, 0x%llx) (EBDA, VGA, BIOS and the ACPI tables)",
			    idx, (unsigned long long)ph->paddr, (unsigned long long)ph->memsz,
			    (unsigned long long)LOADER_PC_HOLE, (unsigned long long)LOADER_PC_HOLE_END);
	return 0;
}

int elf_load(const uint8_t *file, size_t size, struct guest_mem *mem, uint64_t min_gpa,
	     unsigned flags, struct elf_image *out, char err[LOADER_ERR_MAX])
{
	struct phdr load[ELF_MAX_PHDRS];
	struct ehdr eh;
	unsigned nload = 0;
	int entry_ok = 0, rc;

	memset(out, 0, sizeof(*out));
	err[0] = 0;
	rc = read_header(file, size, flags, &eh, err);
	if (rc)
		return rc;
	rc = scan_all_notes(file, size, &eh, out, err);
	if (rc)
		return rc;
	/* Validate everything before writing a byte into the guest. */
	for (unsigned i = 0; i < eh.phnum; i++) {
		struct phdr ph = phdr_at(file, &eh, i);

		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		rc = check_load(&ph, i, size, mem, min_gpa, flags, err);
		if (rc)
			return rc;
		for (unsigned j = 0; j < nload; j++)
			if (ph.paddr < load[j].paddr + load[j].memsz &&
			    load[j].paddr < ph.paddr + ph.memsz)
				return fail(err, "segment %u overlaps another loadable segment", i);
		if ((ph.flags & PF_X) && eh.entry >= ph.paddr && eh.entry - ph.paddr < ph.memsz)
			entry_ok = 1;
		load[nload++] = ph;
	}
	if (nload == 0)
		return fail(err, "ELF has no loadable segment");
	if (!entry_ok)
		return fail(err, "entry point 0x%llx is not inside an executable segment",
			    (unsigned long long)eh.entry);
	out->lo = UINT64_MAX;
	for (unsigned j = 0; j < nload; j++) {
		const struct phdr *ph = &load[j];
		uint8_t *dst = gmem_ptr(mem, ph->paddr, ph->memsz); /* checked above */

		if (!dst)
			return fail(err, "segment lies outside guest memory");
		memcpy(dst, file + ph->offset, ph->filesz);
		if (!(flags & ELF_LOAD_MEM_ZEROED))
			memset(dst + ph->filesz, 0, ph->memsz - ph->filesz);
		if (ph->paddr < out->lo)
			out->lo = ph->paddr;
		if (ph->paddr + ph->memsz > out->hi)
			out->hi = ph->paddr + ph->memsz;
	}
	out->entry = eh.entry;
	out->elf32 = eh.class == ELFCLASS32;
	return 0;
}

int elf_is_pv(const uint8_t *file, size_t size)
{
	char err[LOADER_ERR_MAX];
	struct elf_image img;
	struct ehdr eh;

	memset(&img, 0, sizeof(img));
	if (read_header(file, size, 0, &eh, err) || scan_all_notes(file, size, &eh, &img, err))
		return 0;
	return img.pv_abi != 0;
}
