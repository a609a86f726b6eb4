/* SPDX-License-Identifier: Apache-2.0 */
/* A domain's KVM state, saved and loaded (include/capsule/kvm_state.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "capsule/kvm_state.h"
#include "capsule/vm.h"

#define MSR_IA32_TSC 0x10u
#define MSR_IA32_TSC_DEADLINE 0x6e0u

static int fail(char *err, size_t errlen, const char *what)
{
	int e = errno ? errno : EIO;

	snprintf(err, errlen, "%s: %s", what, strerror(e));
	return -e;
}

/* The MSRs KVM says a VMM should save, asked of /dev/kvm once per VM. */
static int msr_list(struct vm *vm, struct kvm_msr_list **out)
{
	struct kvm_msr_list probe = {.nmsrs = 0}, *l;

	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return -errno;
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
	if (!l)
		return -ENOMEM;
	l->nmsrs = probe.nmsrs;
	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		free(l);
		return -errno;
	}
	*out = l;
	return 0;
}

/* Read the listed MSRs one batch at a time: KVM stops at the first it cannot read, which
 * is then left out (it has nothing to restore). The TSC comes first, its deadline last. */
static int save_msrs(struct vcpu *v, struct vcpu_kvm_state *st)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[VCPU_MAX_MSRS];
	} m;
	struct kvm_msr_list *l = NULL;
	uint32_t want[VCPU_MAX_MSRS], n = 0, done = 0;
	bool deadline = false;
	int rc = msr_list(v->vm, &l);

	if (rc)
		return rc;
	want[n++] = MSR_IA32_TSC;
	for (uint32_t i = 0; i < l->nmsrs && n < VCPU_MAX_MSRS; i++) {
		if (l->indices[i] == MSR_IA32_TSC)
			continue;
		if (l->indices[i] == MSR_IA32_TSC_DEADLINE) {
			deadline = true;
			continue;
		}
		want[n++] = l->indices[i];
	}
	if (deadline && n < VCPU_MAX_MSRS)
		want[n++] = MSR_IA32_TSC_DEADLINE;
	free(l);
	st->nr_msrs = 0;
	while (done < n) {
		int got;

		memset(&m, 0, sizeof(m));
		m.h.nmsrs = n - done;
		for (uint32_t i = 0; i < m.h.nmsrs; i++)
			m.e[i].index = want[done + i];
		got = ioctl(v->fd, KVM_GET_MSRS, &m);
		if (got < 0)
			return -errno;
		memcpy(&st->msrs[st->nr_msrs], m.e, (size_t)got * sizeof(m.e[0]));
		st->nr_msrs += (uint32_t)got;
		done += (uint32_t)got + 1; /* skip the one it could not read */
	}
	return 0;
}

int vcpu_kvm_save(struct vcpu *v, struct vcpu_kvm_state *st, char *err, size_t errlen)
{
	int n_khz;

	memset(st, 0, sizeof(*st));
	st->id = v->id;
	if (ioctl(v->fd, KVM_GET_MP_STATE, &st->mp) < 0)
		return fail(err, errlen, "KVM_GET_MP_STATE");
	if (ioctl(v->fd, KVM_GET_REGS, &st->regs) < 0)
		return fail(err, errlen, "KVM_GET_REGS");
	if (ioctl(v->fd, KVM_GET_SREGS, &st->sregs) < 0)
		return fail(err, errlen, "KVM_GET_SREGS");
	if (ioctl(v->fd, KVM_GET_XSAVE, &st->xsave) < 0)
		return fail(err, errlen, "KVM_GET_XSAVE");
	if (ioctl(v->fd, KVM_GET_XCRS, &st->xcrs) < 0)
		return fail(err, errlen, "KVM_GET_XCRS");
	if (ioctl(v->fd, KVM_GET_DEBUGREGS, &st->debugregs) < 0)
		return fail(err, errlen, "KVM_GET_DEBUGREGS");
	st->has_lapic = ioctl(v->fd, KVM_GET_LAPIC, &st->lapic) == 0;
	n_khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
	st->tsc_khz = n_khz > 0 ? (uint32_t)n_khz : 0;
	if (save_msrs(v, st) < 0)
		return fail(err, errlen, "KVM_GET_MSRS");
	/* Last: what the instructions above could not change any more. */
	if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &st->events) < 0)
		return fail(err, errlen, "KVM_GET_VCPU_EVENTS");
	return 0;
}

int vcpu_kvm_load(struct vcpu *v, const struct vcpu_kvm_state *st, char *err, size_t errlen)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[VCPU_MAX_MSRS];
	} m;
	struct kvm_vcpu_events ev = st->events;
	int n;

	if (st->nr_msrs > VCPU_MAX_MSRS) {
		snprintf(err, errlen, "vCPU %u: %u MSRs (at most %u)", st->id, st->nr_msrs,
			 VCPU_MAX_MSRS);
		return -EINVAL;
	}
	/* The guest's TSC runs at the frequency it ran at: a host whose TSC differs scales it
	 * (KVM_SET_TSC_KHZ), or the restore stops. First: the TSC MSR is read at this rate. */
	if (st->tsc_khz) {
		int khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);

		if (khz > 0 && (uint32_t)khz != st->tsc_khz &&
		    ioctl(v->fd, KVM_SET_TSC_KHZ, (unsigned long)st->tsc_khz) < 0) {
			snprintf(err, errlen, "vCPU %u: the snapshot's TSC ran at %u kHz, this host's "
				 "at %d kHz, and KVM cannot scale it: %s", st->id, st->tsc_khz, khz,
				 strerror(errno));
			return -EINVAL;
		}
	}
	if (ioctl(v->fd, KVM_SET_MP_STATE, &st->mp) < 0)
		return fail(err, errlen, "KVM_SET_MP_STATE");
	if (ioctl(v->fd, KVM_SET_REGS, &st->regs) < 0)
		return fail(err, errlen, "KVM_SET_REGS");
	if (ioctl(v->fd, KVM_SET_SREGS, &st->sregs) < 0)
		return fail(err, errlen, "KVM_SET_SREGS");
	if (ioctl(v->fd, KVM_SET_XSAVE, &st->xsave) < 0)
		return fail(err, errlen, "KVM_SET_XSAVE");
	if (ioctl(v->fd, KVM_SET_XCRS, &st->xcrs) < 0)
		return fail(err, errlen, "KVM_SET_XCRS");
	if (ioctl(v->fd, KVM_SET_DEBUGREGS, &st->debugregs) < 0)
		return fail(err, errlen, "KVM_SET_DEBUGREGS");
	if (st->has_lapic && ioctl(v->fd, KVM_SET_LAPIC, &st->lapic) < 0)
		return fail(err, errlen, "KVM_SET_LAPIC");
	/* Every MSR must be taken, but for one KVM refuses at its reset value, 0 (paravirtual
	 * MSRs of features this vCPU's CPUID does not offer): nothing is lost by skipping it. */
	for (uint32_t done = 0; done < st->nr_msrs;) {
		memset(&m, 0, sizeof(m));
		m.h.nmsrs = st->nr_msrs - done;
		memcpy(m.e, st->msrs + done, m.h.nmsrs * sizeof(m.e[0]));
		n = ioctl(v->fd, KVM_SET_MSRS, &m);
		if (n < 0)
			return fail(err, errlen, "KVM_SET_MSRS");
		done += (uint32_t)n;
		if (done == st->nr_msrs)
			break;
		if (st->msrs[done].data) {
			snprintf(err, errlen, "vCPU %u: KVM refused MSR 0x%x = 0x%llx", st->id,
				 st->msrs[done].index, (unsigned long long)st->msrs[done].data);
			return -EINVAL;
		}
		done++;
	}
	/* Only what KVM_GET_VCPU_EVENTS filled in is valid to set back. */
	ev.flags &= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |
		    KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM |
		    KVM_VCPUEVENT_VALID_PAYLOAD | KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
	if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return fail(err, errlen, "KVM_SET_VCPU_EVENTS");
	return 0;
}

int vm_kvm_save(struct vm *vm, struct vm_kvm_state *st, char *err, size_t errlen)
{
	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < 3; i++)
		st->chip[i].chip_id = i; /* KVM_IRQCHIP_PIC_MASTER, _SLAVE, _IOAPIC */
	st->has_irqchip = ioctl(vm->fd, KVM_GET_IRQCHIP, &st->chip[0]) == 0;
	if (st->has_irqchip) {
		if (ioctl(vm->fd, KVM_GET_IRQCHIP, &st->chip[1]) < 0 ||
		    ioctl(vm->fd, KVM_GET_IRQCHIP, &st->chip[2]) < 0)
			return fail(err, errlen, "KVM_GET_IRQCHIP");
		if (ioctl(vm->fd, KVM_GET_PIT2, &st->pit) < 0)
			return fail(err, errlen, "KVM_GET_PIT2");
	}
	st->has_clock = ioctl(vm->fd, KVM_GET_CLOCK, &st->clock) == 0;
	return 0;
}

int vm_kvm_load(struct vm *vm, const struct vm_kvm_state *st, char *err, size_t errlen)
{
	if (st->has_irqchip) {
		for (unsigned i = 0; i < 3; i++) {
			struct kvm_irqchip c = st->chip[i];

			if (c.chip_id != i) {
				snprintf(err, errlen, "irqchip %u has id %u", i, c.chip_id);
				return -EINVAL;
			}
			if (ioctl(vm->fd, KVM_SET_IRQCHIP, &c) < 0)
				return fail(err, errlen, "KVM_SET_IRQCHIP");
		}
		if (ioctl(vm->fd, KVM_SET_PIT2, &st->pit) < 0)
			return fail(err, errlen, "KVM_SET_PIT2");
	}
	if (st->has_clock) {
		/* The clock as it was: the domain did not run while saved. Only the value. */
		struct kvm_clock_data c = {.clock = st->clock.clock};

		if (ioctl(vm->fd, KVM_SET_CLOCK, &c) < 0)
			return fail(err, errlen, "KVM_SET_CLOCK");
	}
	return 0;
}
