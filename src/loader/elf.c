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

static int check_header(const Elf64_Ehdr *eh, size_t size, char err[LOADER_ERR_MAX])
{
	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return fail(err, "not an ELF file");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return fail(err, "not a 64-bit little-endian ELF file");
	if (eh->e_machine != EM_X86_64)
		return fail(err, "ELF machine is %u, not x86-64", eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return fail(err, "ELF type is %u, not a static executable (ET_EXEC)", eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return fail(err, "ELF program header size is %u, expected %zu", eh->e_phentsize,
			    sizeof(Elf64_Phdr));
	if (eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHDRS)
		return fail(err, "ELF has %u program headers (1 to %d allowed)", eh->e_phnum,
			    ELF_MAX_PHDRS);
	if (!in_file(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), size))
		return fail(err, "ELF program headers lie beyond the end of the file");
	return 0;
}

/* Scan one PT_NOTE segment for the Capsule ABI note. */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

static int scan_notes(const uint8_t *file, size_t size, const Elf64_Phdr *ph,
		      struct elf_image *out, char err[LOADER_ERR_MAX])
{
	uint64_t off = ph->p_offset, end;

	if (!in_file(ph->p_offset, ph->p_filesz, size))
		return fail(err, "ELF note segment lies beyond the end of the file (truncated?)");
	end = ph->p_offset + ph->p_filesz;
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

static int scan_all_notes(const uint8_t *file, size_t size, const Elf64_Ehdr *eh,
			  struct elf_image *out, char err[LOADER_ERR_MAX])
{
	if ((eh->e_phoff % _Alignof(Elf64_Phdr)) || ((uintptr_t)file % _Alignof(Elf64_Phdr)))
		return fail(err, "ELF program headers are misaligned");
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(file + eh->e_phoff) + i;
		int rc = ph->p_type == PT_NOTE ? scan_notes(file, size, ph, out, err) : 0;

		if (rc)
			return rc;
	}
	return 0;
}

static int check_load(const Elf64_Phdr *ph, unsigned idx, size_t size,
		      const struct guest_mem *mem, uint64_t min_gpa, char err[LOADER_ERR_MAX])
{
	if (ph->p_filesz > ph->p_memsz)
		return fail(err, "segment %u: file size 0x%llx exceeds memory size 0x%llx", idx,
			    (unsigned long long)ph->p_filesz, (unsigned long long)ph->p_memsz);
	if (!in_file(ph->p_offset, ph->p_filesz, size))
		return fail(err, "segment %u: its data lies beyond the end of the file (truncated?)",
			    idx);
	if (ph->p_paddr < min_gpa || ph->p_paddr >= mem->size ||
	    ph->p_memsz > mem->size - ph->p_paddr)
		return fail(err,
			    "segment %u (0x%llx, 0x%llx bytes) lies outside guest memory "
			    "[0x%llx, 0x%llx); link the image higher or give the domain more --mem",
			    idx, (unsigned long long)ph->p_paddr, (unsigned long long)ph->p_memsz,
			    (unsigned long long)min_gpa, (unsigned long long)mem->size);
	return 0;
}

int elf_load(const uint8_t *file, size_t size, struct guest_mem *mem, uint64_t min_gpa,
	     unsigned flags, struct elf_image *out, char err[LOADER_ERR_MAX])
{
	const Elf64_Phdr *load[ELF_MAX_PHDRS];
	Elf64_Ehdr eh;
	unsigned nload = 0;
	int entry_ok = 0, rc;

	memset(out, 0, sizeof(*out));
	err[0] = 0;
	if (size < SELFMAG || memcmp(file, ELFMAG, SELFMAG) != 0)
		return fail(err, "not an ELF file");
	if (size < sizeof(eh))
		return fail(err, "file too short for an ELF header (%zu bytes)", size);
	memcpy(&eh, file, sizeof(eh));
	rc = check_header(&eh, size, err);
	if (rc)
		return rc;
	rc = scan_all_notes(file, size, &eh, out, err);
	if (rc)
		return rc;
	/* Validate everything before writing a byte into the guest. */
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(file + eh.e_phoff) + i;

		if (ph->p_type != PT_LOAD || ph->p_memsz == 0)
			continue;
		rc = check_load(ph, i, size, mem, min_gpa, err);
		if (rc)
			return rc;
		for (unsigned j = 0; j < nload; j++)
			if (ph->p_paddr < load[j]->p_paddr + load[j]->p_memsz &&
			    load[j]->p_paddr < ph->p_paddr + ph->p_memsz)
				return fail(err, "segment %u overlaps another loadable segment", i);
		if ((ph->p_flags & PF_X) && eh.e_entry >= ph->p_paddr &&
		    eh.e_entry - ph->p_paddr < ph->p_memsz)
			entry_ok = 1;
		load[nload++] = ph;
	}
	if (nload == 0)
		return fail(err, "ELF has no loadable segment");
	if (!entry_ok)
		return fail(err, "entry point 0x%llx is not inside an executable segment",
			    (unsigned long long)eh.e_entry);
	out->lo = UINT64_MAX;
	for (unsigned j = 0; j < nload; j++) {
		const Elf64_Phdr *ph = load[j];
		uint8_t *dst = gmem_ptr(mem, ph->p_paddr, ph->p_memsz); /* checked above */

		if (!dst)
			return fail(err, "segment lies outside guest memory");
		memcpy(dst, file + ph->p_offset, ph->p_filesz);
		if (!(flags & ELF_LOAD_MEM_ZEROED))
			memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
		if (ph->p_paddr < out->lo)
			out->lo = ph->p_paddr;
		if (ph->p_paddr + ph->p_memsz > out->hi)
			out->hi = ph->p_paddr + ph->p_memsz;
	}
	out->entry = eh.e_entry;
	return 0;
}

int elf_is_pv(const uint8_t *file, size_t size)
{
	char err[LOADER_ERR_MAX];
	struct elf_image img;
	Elf64_Ehdr eh;

	memset(&img, 0, sizeof(img));
	if (size < sizeof(eh))
		return 0;
	memcpy(&eh, file, sizeof(eh));
	if (check_header(&eh, size, err) || scan_all_notes(file, size, &eh, &img, err))
		return 0;
	return img.pv_abi != 0;
}
