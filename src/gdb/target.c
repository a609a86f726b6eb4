/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The debugger's view of a real domain: registers through the vCPU fds (only ever while
 * the vCPUs are paused, so no KVM_RUN holds them), memory by guest-virtual address
 * through the vCPU's own page tables and guest_mem's checked doors, and breakpoints:
 * software ones are int3 bytes planted in guest memory, hardware ones DR0-DR3. An HVM
 * domain's debug exits come from KVM_SET_GUEST_DEBUG; a PV domain's come through
 * Capsule's own exception stub (src/pv/trap.c), with TF for a step.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "capsule/walk.h"
#include "stub.h"

#define RFLAGS_TF (1ull << 8)

static struct vcpu *vcpu_of(struct gdb_stub *s, unsigned i)
{
	return s->vm && i < s->vm->nr_vcpus && s->vm->vcpus[i].fd >= 0 ? &s->vm->vcpus[i] : NULL;
}

static unsigned t_nr_vcpus(void *t)
{
	struct gdb_stub *s = t;

	return s->vm ? s->vm->nr_vcpus : 1;
}

static int t_get_regs(void *t, unsigned i, struct gdb_regs *r)
{
	struct vcpu *v = vcpu_of(t, i);
	struct kvm_regs k;
	struct kvm_sregs sr;
	struct kvm_fpu f;
	const uint64_t *g = (const uint64_t *)&k;

	if (!v)
		return -ESRCH;
	if (ioctl(v->fd, KVM_GET_REGS, &k) < 0 || ioctl(v->fd, KVM_GET_SREGS, &sr) < 0 ||
	    ioctl(v->fd, KVM_GET_FPU, &f) < 0)
		return -errno;
	memset(r, 0, sizeof(*r));
	/* struct kvm_regs: rax rbx rcx rdx rsi rdi rsp rbp r8..r15 rip rflags */
	static const unsigned order[16] = {GDB_RAX, GDB_RBX, GDB_RCX, GDB_RDX, GDB_RSI, GDB_RDI,
					   GDB_RSP, GDB_RBP, GDB_R8, GDB_R9, GDB_R10, GDB_R11,
					   GDB_R12, GDB_R13, GDB_R14, GDB_R15};
	for (unsigned n = 0; n < 16; n++)
		gdb_reg_set(r, order[n], g[n]);
	gdb_reg_set(r, GDB_RIP, k.rip);
	gdb_reg_set(r, GDB_EFLAGS, k.rflags);
	gdb_reg_set(r, GDB_CS, sr.cs.selector);
	gdb_reg_set(r, GDB_SS, sr.ss.selector);
	gdb_reg_set(r, GDB_DS, sr.ds.selector);
	gdb_reg_set(r, GDB_ES, sr.es.selector);
	gdb_reg_set(r, GDB_FS, sr.fs.selector);
	gdb_reg_set(r, GDB_GS, sr.gs.selector);
	for (unsigned n = 0; n < 8; n++)
		memcpy(r->raw + gdb_reg_offset(GDB_ST0 + n), f.fpr[n], 10);
	gdb_reg_set(r, GDB_FCTRL, f.fcw);
	gdb_reg_set(r, GDB_FSTAT, f.fsw);
	/* FXSAVE keeps an abridged tag (a bit per register, 1 = in use); gdb wants the full
	 * x87 tag word (two bits per register, 3 = empty). */
	uint32_t tag = 0;
	for (unsigned n = 0; n < 8; n++)
		tag |= (f.ftwx >> n & 1 ? 0u : 3u) << (2 * n);
	gdb_reg_set(r, GDB_FTAG, tag);
	gdb_reg_set(r, GDB_FIOFF, f.last_ip);
	gdb_reg_set(r, GDB_FOOFF, f.last_dp);
	gdb_reg_set(r, GDB_FOP, f.last_opcode);
	for (unsigned n = 0; n < 16; n++)
		memcpy(r->raw + gdb_reg_offset(GDB_XMM0 + n), f.xmm[n], 16);
	gdb_reg_set(r, GDB_MXCSR, f.mxcsr);
	gdb_reg_set(r, GDB_FS_BASE, sr.fs.base);
	gdb_reg_set(r, GDB_GS_BASE, sr.gs.base);
	gdb_reg_set(r, GDB_CR0, sr.cr0);
	gdb_reg_set(r, GDB_CR2, sr.cr2);
	gdb_reg_set(r, GDB_CR3, sr.cr3);
	gdb_reg_set(r, GDB_CR4, sr.cr4);
	gdb_reg_set(r, GDB_EFER, sr.efer);
	return 0;
}

/*
 * The general registers, rip and rflags are written; segment, x87/SSE and control
 * registers are read-only here (a debugger that moved a PV guest to CPL 0 would hand it
 * the VMM's tables): a write that changes one is refused with EPERM.
 */
static int t_set_regs(void *t, unsigned i, const struct gdb_regs *r)
{
	struct gdb_stub *s = t;
	struct vcpu *v = vcpu_of(s, i);
	struct gdb_regs now;
	struct kvm_regs k;
	uint64_t *g = (uint64_t *)&k;
	int err;

	if (!v)
		return -ESRCH;
	if ((err = t_get_regs(t, i, &now)))
		return err;
	unsigned fixed = gdb_reg_offset(GDB_CS);
	if (memcmp(now.raw + fixed, r->raw + fixed, gdb_regs_bytes() - fixed))
		return -EPERM;
	if (ioctl(v->fd, KVM_GET_REGS, &k) < 0)
		return -errno;
	static const unsigned order[16] = {GDB_RAX, GDB_RBX, GDB_RCX, GDB_RDX, GDB_RSI, GDB_RDI,
					   GDB_RSP, GDB_RBP, GDB_R8, GDB_R9, GDB_R10, GDB_R11,
					   GDB_R12, GDB_R13, GDB_R14, GDB_R15};
	for (unsigned n = 0; n < 16; n++)
		g[n] = gdb_reg_get(r, order[n]);
	k.rip = gdb_reg_get(r, GDB_RIP);
	/* bit 1 always set; the host keeps IOPL and the rest as it must */
	k.rflags = (gdb_reg_get(r, GDB_EFLAGS) & 0x3f7fd5ull) | 2;
	return ioctl(v->fd, KVM_SET_REGS, &k) < 0 ? -errno : 0;
}

static int walk_of(struct gdb_stub *s, unsigned i, struct walk_ctx *c)
{
	struct vcpu *v = vcpu_of(s, i);
	struct kvm_sregs sr;

	if (!v)
		return -ESRCH;
	if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
		return -errno;
	*c = (struct walk_ctx){.cr0 = sr.cr0, .cr3 = sr.cr3, .cr4 = sr.cr4, .efer = sr.efer};
	return 0;
}

const struct gdb_sw_bp *gdb_sw_bp_at(const struct gdb_stub *s, uint64_t gva)
{
	for (unsigned n = 0; n < GDB_MAX_SW_BPS; n++)
		if (s->sw[n].used && s->sw[n].gva == gva)
			return &s->sw[n];
	return NULL;
}

bool gdb_sw_bp_gone(struct gdb_stub *s, uint64_t gva, const struct guest_mem *m)
{
	uint8_t byte;

	for (unsigned n = 0; n < GDB_MAX_SW_BPS; n++) {
		struct gdb_sw_bp *b = &s->sw[n];

		if (b->used || b->gva != gva || !__atomic_load_n(&b->removed, __ATOMIC_ACQUIRE))
			continue;
		/* Our byte is back and it is not an int3 itself; one trap takes the record,
		 * so a guest's own `int $3` there (also a #GP at its address) cannot loop. */
		return gmem_read(m, b->gpa, &byte, 1) == 0 && byte == b->orig && byte != 0xcc &&
		       __atomic_exchange_n(&b->removed, false, __ATOMIC_ACQ_REL);
	}
	return false;
}

/* Page by page: bytes done, or -errno if not even the first page is there. */
static long access_mem(struct gdb_stub *s, unsigned i, uint64_t gva, void *buf, size_t len,
		       bool write)
{
	struct walk_ctx c;
	size_t done = 0;
	int err = walk_of(s, i, &c);

	if (err)
		return err;
	while (done < len) {
		uint64_t page, chunk;
		gpa_t gpa;
		const void *p;

		if ((err = gva_to_gpa(&s->vm->mem, &c, gva + done, &gpa, &page)))
			break;
		chunk = page - (gpa & (page - 1));
		if (chunk > len - done)
			chunk = len - done;
		if (write) { /* the guest's door: never into the VMM's own pages */
			if ((err = gmem_write(&s->vm->mem, gpa, (uint8_t *)buf + done, chunk)))
				break;
		} else { /* reading the VMM's pages (a PV domain's tables) is allowed */
			if (!(p = gmem_vmm_ptr(&s->vm->mem, gpa, chunk))) {
				err = -EFAULT;
				break;
			}
			memcpy((uint8_t *)buf + done, p, chunk);
		}
		done += chunk;
	}
	return done ? (long)done : err;
}

static long t_read_mem(void *t, unsigned i, uint64_t gva, void *buf, size_t len)
{
	struct gdb_stub *s = t;
	long n = access_mem(s, i, gva, buf, len, false);

	/* gdb sees the bytes its breakpoints replaced, not the int3s */
	for (unsigned b = 0; n > 0 && b < GDB_MAX_SW_BPS; b++)
		if (s->sw[b].used && s->sw[b].gva - gva < (uint64_t)n)
			((uint8_t *)buf)[s->sw[b].gva - gva] = s->sw[b].orig;
	return n;
}

static long t_write_mem(void *t, unsigned i, uint64_t gva, const void *buf, size_t len)
{
	return access_mem(t, i, gva, (void *)buf, len, true);
}

static int sw_breakpoint(struct gdb_stub *s, unsigned i, uint64_t gva, bool insert, bool hw)
{
	struct gdb_sw_bp *b = (struct gdb_sw_bp *)gdb_sw_bp_at(s, gva);
	struct walk_ctx c;
	uint64_t page;
	uint8_t int3 = 0xcc;
	int err;

	if (!insert) {
		if (!b || b->hw != hw)
			return -ENOENT;
		b->used = false;
		__atomic_store_n(&b->removed, true, __ATOMIC_RELEASE); /* read by vCPUs */
		return gmem_write(&s->vm->mem, b->gpa, &b->orig, 1);
	}
	if (b)
		return b->hw == hw ? 0 : -EEXIST; /* planted already */
	/* A slot never used, or one whose removed breakpoint's record is consumed, first:
	 * a trap still on its way to a removed one finds it (gdb_sw_bp_gone). */
	for (unsigned n = 0; n < GDB_MAX_SW_BPS && !b; n++)
		if (!s->sw[n].used && !s->sw[n].removed)
			b = &s->sw[n];
	for (unsigned n = 0; n < GDB_MAX_SW_BPS && !b; n++)
		if (!s->sw[n].used)
			b = &s->sw[n];
	if (!b)
		return -ENOSPC;
	/* the slot is another breakpoint's from here on */
	__atomic_store_n(&b->removed, false, __ATOMIC_RELEASE);
	if ((err = walk_of(s, i, &c)) || (err = gva_to_gpa(&s->vm->mem, &c, gva, &b->gpa, &page)) ||
	    (err = gmem_read(&s->vm->mem, b->gpa, &b->orig, 1)) ||
	    (err = gmem_write(&s->vm->mem, b->gpa, &int3, 1)))
		return err;
	b->gva = gva;
	b->hw = hw;
	b->used = true;
	return 0;
}

static int hw_breakpoint(struct gdb_stub *s, uint64_t gva, bool insert, bool sw)
{
	for (unsigned n = 0; n < GDB_MAX_HW_BPS; n++) {
		if (insert && !s->hw_used[n]) {
			s->hw[n] = gva;
			s->hw_used[n] = true;
			s->hw_is_sw[n] = sw;
			return 0;
		}
		if (!insert && s->hw_used[n] && s->hw[n] == gva && s->hw_is_sw[n] == sw) {
			s->hw_used[n] = false;
			return 0;
		}
	}
	return insert ? -ENOSPC : -ENOENT;
}

bool gdb_hw_is_sw(const struct gdb_stub *s, unsigned n)
{
	return n < GDB_MAX_HW_BPS && s->hw_used[n] && s->hw_is_sw[n];
}

/*
 * An HVM domain's software breakpoints go into a free debug register first: its kernel
 * code may run in KVM's instruction emulator (hosts without VT-x/AMD-V, and real mode
 * everywhere), which cannot emulate int3 in protected mode but checks code breakpoints
 * before every instruction. With all four taken, int3 is planted.
 *
 * A PV domain's hardware breakpoints are int3s too: its code runs natively at CPL 3, and
 * paravirtual hosts (PVM) do not load debug registers for it, while the VMM owns the
 * exception path an int3 takes (gdb is told "hwbreak" all the same).
 */
static int t_breakpoint(void *t, unsigned i, enum gdb_bp_type type, uint64_t gva, bool insert)
{
	struct gdb_stub *s = t;

	if (!s->vm)
		return -ESRCH;
	if (s->d->kind == DOMAIN_PV) /* see above */
		return sw_breakpoint(s, i, gva, insert, type == GDB_BP_HW);
	if (type == GDB_BP_HW)
		return hw_breakpoint(s, gva, insert, false);
	if (!gdb_sw_bp_at(s, gva) && hw_breakpoint(s, gva, insert, true) == 0)
		return 0;
	return sw_breakpoint(s, i, gva, insert, false);
}

const struct gdb_target_ops gdb_kvm_ops = {
	.nr_vcpus = t_nr_vcpus,
	.get_regs = t_get_regs,
	.set_regs = t_set_regs,
	.read_mem = t_read_mem,
	.write_mem = t_write_mem,
	.breakpoint = t_breakpoint,
};

/* DR7 enabling DR0-DR3 as instruction breakpoints (R/W 00, LEN 00), locally. */
static uint64_t dr7_of(const struct gdb_stub *s)
{
	uint64_t dr7 = 0;

	for (unsigned n = 0; n < GDB_MAX_HW_BPS; n++)
		if (s->hw_used[n])
			dr7 |= 1ull << (2 * n);
	return dr7 ? dr7 | 0x400 : 0;
}

int gdb_arm(struct gdb_stub *s, int step_vcpu)
{
	bool sw = false;

	if (!s->vm)
		return -ESRCH;
	for (unsigned n = 0; n < GDB_MAX_SW_BPS; n++)
		sw |= s->sw[n].used;
	for (unsigned i = 0; i < s->vm->nr_vcpus; i++) {
		struct vcpu *v = vcpu_of(s, i);

		if (!v)
			continue;
		/* Debug registers through KVM for both kinds (a PV guest's own DR7 is not
		 * loaded on every host); an HVM domain's int3s and steps too. */
		struct kvm_guest_debug dbg = {0};
		bool hvm = s->d->kind == DOMAIN_HVM, step = hvm && (int)i == step_vcpu;

		if ((hvm && sw) || dr7_of(s) || step)
			dbg.control = KVM_GUESTDBG_ENABLE |
				      (hvm && sw ? KVM_GUESTDBG_USE_SW_BP : 0) |
				      (dr7_of(s) ? KVM_GUESTDBG_USE_HW_BP : 0) |
				      (step ? KVM_GUESTDBG_SINGLESTEP : 0);
		for (unsigned n = 0; n < GDB_MAX_HW_BPS; n++)
			dbg.arch.debugreg[n] = s->hw_used[n] ? s->hw[n] : 0;
		dbg.arch.debugreg[7] = dr7_of(s);
		if (ioctl(v->fd, KVM_SET_GUEST_DEBUG, &dbg) < 0)
			return -errno;
		if (hvm)
			continue;
		/* PV: a step is TF, and its #DB reaches the trap stub */
		if ((int)i == step_vcpu) {
			struct kvm_regs k;

			if (ioctl(v->fd, KVM_GET_REGS, &k) < 0)
				return -errno;
			k.rflags |= RFLAGS_TF;
			if (ioctl(v->fd, KVM_SET_REGS, &k) < 0)
				return -errno;
		}
	}
	return 0;
}

void gdb_disarm_all(struct gdb_stub *s)
{
	for (unsigned n = 0; n < GDB_MAX_SW_BPS; n++)
		if (s->sw[n].used) {
			s->sw[n].used = false;
			__atomic_store_n(&s->sw[n].removed, true, __ATOMIC_RELEASE);
			if (s->vm)
				gmem_write(&s->vm->mem, s->sw[n].gpa, &s->sw[n].orig, 1);
		}
	memset(s->hw_used, 0, sizeof(s->hw_used));
	memset(s->hw_is_sw, 0, sizeof(s->hw_is_sw));
	if (s->vm)
		gdb_arm(s, -1);
}
