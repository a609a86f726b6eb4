/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A core dump of a domain (capsule dump-core, vm.dump-core): an ELF64 core file that gdb
 * reads with the guest's image. One PT_NOTE with an NT_PRSTATUS per vCPU (its registers in
 * the layout of x86-64 Linux's user_regs_struct, pr_pid = vCPU + 1) and NT_PRPSINFO, then
 * one PT_LOAD per range of guest RAM at p_paddr = p_vaddr = its guest-physical address:
 * the layout a debugger reads directly for an identity-mapped guest (PV domains; HVM
 * kernels that map themselves 1:1), and that crash(8)-style tools read by physical
 * address. Pages of zeroes are left as holes in a sparse file. The domain is paused while
 * it is written, so memory and registers agree.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/procfs.h>
#include <unistd.h>

#include "capsule/sysfile.h"
#include "capsule/domain.h"
#include "capsule/introspect.h"

#define NOTE_NAME "CORE"
#define NOTE_NAME_SZ 8 /* "CORE\0" padded to 4 */

static size_t note_size(size_t desc)
{
	return sizeof(Elf64_Nhdr) + NOTE_NAME_SZ + ((desc + 3) & ~(size_t)3);
}

static uint8_t *put_note(uint8_t *p, uint32_t type, const void *desc, size_t len)
{
	Elf64_Nhdr h = {.n_namesz = 5, .n_descsz = (Elf64_Word)len, .n_type = type};

	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	memset(p, 0, NOTE_NAME_SZ);
	memcpy(p, NOTE_NAME, 5);
	p += NOTE_NAME_SZ;
	memset(p, 0, (len + 3) & ~(size_t)3);
	memcpy(p, desc, len);
	return p + ((len + 3) & ~(size_t)3);
}

static void prstatus_of(unsigned vcpu, const struct kvm_regs *r, const struct kvm_sregs *s,
			struct elf_prstatus *ps)
{
	/* elf_gregset_t on x86-64: user_regs_struct's order */
	const uint64_t g[] = {
		r->r15, r->r14, r->r13, r->r12, r->rbp, r->rbx, r->r11, r->r10, r->r9, r->r8,
		r->rax, r->rcx, r->rdx, r->rsi, r->rdi, r->rax /* orig_rax */, r->rip,
		s->cs.selector, r->rflags, r->rsp, s->ss.selector, s->fs.base, s->gs.base,
		s->ds.selector, s->es.selector, s->fs.selector, s->gs.selector,
	};
	_Static_assert(sizeof(g) == sizeof(ps->pr_reg), "the register layout");

	memset(ps, 0, sizeof(*ps));
	ps->pr_pid = (int)vcpu + 1;
	memcpy(&ps->pr_reg, g, sizeof(g));
}

struct dump {
	int fd;
	const char *name;
	uint64_t bytes;
	unsigned vcpus;
};

static bool zero_page(const uint8_t *p)
{
	static const uint8_t zero[4096];

	return !memcmp(p, zero, sizeof(zero));
}

/* With every vCPU stopped (inspect_with_stopped). */
static int dump_stopped(struct vm *vm, void *arg)
{
	struct dump *o = arg;
	struct gmem_range ram[2];
	unsigned nr = gmem_ram_ranges(&vm->mem, ram), nph = 1 + nr;
	size_t notes = vm->nr_vcpus * note_size(sizeof(struct elf_prstatus)) +
		       note_size(sizeof(struct elf_prpsinfo));
	size_t head = sizeof(Elf64_Ehdr) + nph * sizeof(Elf64_Phdr);
	uint64_t off = (head + notes + 4095) & ~4095ull, end;
	uint8_t *buf = calloc(1, head + notes), *p;
	Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
	Elf64_Phdr *ph = (Elf64_Phdr *)(buf + sizeof(*eh));
	struct elf_prpsinfo ps = {.pr_state = 0, .pr_sname = 'R'};
	int r;

	if (!buf)
		return -ENOMEM;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_CORE;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = (Elf64_Half)nph;
	ph[0] = (Elf64_Phdr){.p_type = PT_NOTE, .p_offset = head, .p_filesz = notes,
			     .p_align = 4};
	p = buf + head;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct kvm_regs regs = {0};
		struct kvm_sregs sregs = {0};
		struct elf_prstatus st;

		/* a vCPU that never started has its reset state: dumped as it is */
		if (vm->vcpus[i].fd >= 0 && (ioctl(vm->vcpus[i].fd, KVM_GET_REGS, &regs) < 0 ||
					     ioctl(vm->vcpus[i].fd, KVM_GET_SREGS, &sregs) < 0)) {
			r = -errno;
			goto out;
		}
		prstatus_of(i, &regs, &sregs, &st);
		p = put_note(p, NT_PRSTATUS, &st, sizeof(st));
	}
	snprintf(ps.pr_fname, sizeof(ps.pr_fname), "capsule");
	snprintf(ps.pr_psargs, sizeof(ps.pr_psargs), "capsule domain %s", o->name);
	p = put_note(p, NT_PRPSINFO, &ps, sizeof(ps));
	for (unsigned i = 0; i < nr; i++) {
		uint64_t len = ram[i].end - ram[i].start;

		ph[1 + i] = (Elf64_Phdr){.p_type = PT_LOAD, .p_flags = PF_R | PF_W | PF_X,
					 .p_offset = off, .p_vaddr = ram[i].start,
					 .p_paddr = ram[i].start, .p_filesz = len, .p_memsz = len,
					 .p_align = 4096};
		off += len;
	}
	end = off;
	if ((r = pwrite_all(o->fd, buf, head + notes, 0)))
		goto out;
	for (unsigned i = 0; i < nr; i++) {
		uint64_t at = ph[1 + i].p_offset;

		for (gpa_t g = ram[i].start; g < ram[i].end; g += 4096, at += 4096) {
			const uint8_t *page = gmem_vmm_ptr(&vm->mem, g, 4096);

			if (!page) {
				r = -EFAULT;
				goto out;
			}
			if (!zero_page(page) && (r = pwrite_all(o->fd, page, 4096, (off_t)at)))
				goto out;
		}
	}
	if (ftruncate(o->fd, (off_t)end) < 0) { /* the holes at the end too */
		r = -errno;
		goto out;
	}
	o->bytes = end;
	o->vcpus = vm->nr_vcpus;
	r = 0;
out:
	free(buf);
	return r;
}

int core_dump(struct domain *d, int fd, uint64_t *bytes, unsigned *vcpus)
{
	struct dump o = {.fd = fd, .name = d->cfg.name};
	int r = inspect_with_stopped(d, dump_stopped, &o);

	*bytes = o.bytes;
	*vcpus = o.vcpus;
	return r;
}
