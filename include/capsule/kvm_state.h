/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What KVM holds of a domain, as plain data for snapshots (src/core/kvm_state.c): each
 * vCPU's registers and the in-kernel devices of the VM. The structures are KVM's own uapi
 * ones (stable across kernels); docs/snapshot.md lists them. Save with the vCPUs paused
 * (vm_pause: every pending I/O completed); load a vCPU's state from its own thread before
 * its first KVM_RUN, in the order KVM needs.
 */
#ifndef CAPSULE_KVM_STATE_H
#define CAPSULE_KVM_STATE_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

struct vcpu;
struct vm;

#define VCPU_MAX_MSRS 192u

struct vcpu_kvm_state {
	uint32_t id;
	uint32_t running;   /* 0: the vCPU was down (a PV secondary never brought up) */
	uint32_t has_lapic; /* an HVM vCPU: the in-kernel local APIC */
	uint32_t nr_msrs;
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave xsave;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs debugregs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_msr_entry msrs[VCPU_MAX_MSRS];
	uint32_t tsc_khz;   /* the guest's TSC frequency: a restore keeps it (scaled if need be) */
	uint32_t pad;
};

struct vm_kvm_state {
	uint32_t has_irqchip; /* HVM: PIC master, PIC slave, IOAPIC and PIT2 */
	uint32_t has_clock;
	struct kvm_irqchip chip[3];
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
};

/* A paused vCPU's state: 0, or -errno with a message in err. */
int vcpu_kvm_save(struct vcpu *v, struct vcpu_kvm_state *st, char *err, size_t errlen);
/* Load it (the vCPU's own thread, before it runs): CPUID is set already; then MP state,
 * regs, sregs, XSAVE, XCRs, debug registers, LAPIC, MSRs (every one must be accepted, the
 * TSC before the TSC deadline), vCPU events last. 0, or -errno with a message. */
int vcpu_kvm_load(struct vcpu *v, const struct vcpu_kvm_state *st, char *err, size_t errlen);
int vm_kvm_save(struct vm *vm, struct vm_kvm_state *st, char *err, size_t errlen);
int vm_kvm_load(struct vm *vm, const struct vm_kvm_state *st, char *err, size_t errlen);

#endif
