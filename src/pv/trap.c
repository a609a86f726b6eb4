/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exceptions in a PV domain. The supervisor stubs built in cpu_tables.c push the vector
 * and error code and `out` to PV_TRAP_PORT; the frame on the trap stack tells us where the
 * guest was. A PV domain has no exception handlers of its own in ABI v1: any exception is a
 * crash, reported with the guest's registers as they were when it faulted.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "capsule/gdb.h"
#include "capsule/pv.h"

static const char *const vector_names[32] = {
	[0] = "#DE (divide error)",       [1] = "#DB (debug)",
	[2] = "NMI",                      [3] = "#BP (breakpoint)",
	[4] = "#OF (overflow)",           [5] = "#BR (bound range)",
	[6] = "#UD (invalid opcode)",     [7] = "#NM (device not available)",
	[8] = "#DF (double fault)",       [10] = "#TS (invalid TSS)",
	[11] = "#NP (segment not present)", [12] = "#SS (stack fault)",
	[13] = "#GP (general protection)", [14] = "#PF (page fault)",
	[16] = "#MF (x87 error)",         [17] = "#AC (alignment check)",
	[18] = "#MC (machine check)",     [19] = "#XM (SIMD error)",
	[20] = "#VE (virtualization)",    [21] = "#CP (control protection)",
};

/* What the common stub left on the trap stack, lowest address first. */
struct trap_frame {
	uint64_t rdx, rax, vector, error, rip, cs, rflags, rsp, ss;
};

enum exit_action pv_trap(struct vcpu *v, void *opaque, uint64_t port, uint8_t *data,
			 uint32_t len, bool is_write)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct trap_frame f;
	const char *name;

	(void)opaque, (void)port, (void)data, (void)len, (void)is_write;
	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0 || ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return vcpu_crash(v, NULL, NULL, "exception, and its registers cannot be read (%s)",
				  strerror(errno));
	/* Only the VMM's stub, at CPL 0 on this vCPU's trap stack, reports here (the port is
	 * closed to CPL 3): anything else is a forged report, and the domain is untrustworthy. */
	uint64_t stack = CAP_GPA_TRAP_STACKS + (uint64_t)v->id * 4096;
	const void *frame = regs.rsp >= stack && regs.rsp + sizeof(f) <= stack + 4096
				    ? gmem_vmm_ptr(&v->vm->mem, regs.rsp, sizeof(f))
				    : NULL;

	if ((sregs.cs.selector & 3) || !frame)
		return vcpu_crash(v, &regs, &sregs, "a trap report that is not from Capsule's "
				  "exception stub");
	memcpy(&f, frame, sizeof(f));
	regs.rip = f.rip;
	regs.rsp = f.rsp;
	regs.rflags = f.rflags;
	regs.rax = f.rax;
	regs.rdx = f.rdx;
	sregs.cs.selector = (uint16_t)f.cs; /* as the guest had them, not the stub */
	sregs.ss.selector = (uint16_t)f.ss;
	/* With a debugger: its breakpoints and steps go to it, and the guest resumes later. */
	if (v->vm->gdb && gdb_pv_trap(v, &regs, &sregs, f.vector, f.error))
		return EXIT_CONTINUE;
	name = f.vector < 32 && vector_names[f.vector] ? vector_names[f.vector] : "exception";
	if (f.vector == 14)
		return vcpu_crash(v, &regs, &sregs, "%s at rip=0x%llx cr2=0x%llx error=0x%llx", name,
				  (unsigned long long)f.rip, sregs.cr2, (unsigned long long)f.error);
	return vcpu_crash(v, &regs, &sregs, "%s at rip=0x%llx error=0x%llx", name,
			  (unsigned long long)f.rip, (unsigned long long)f.error);
}
