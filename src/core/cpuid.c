/* CPUID: what KVM can really run, with each vCPU's own APIC ID. */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "capsule/vm.h"

#define CPUID_MAX_ENTRIES 256

int cpuid_setup(struct vcpu *v)
{
	struct kvm_cpuid2 *c;
	int err = 0;

	c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(v->vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		err = -errno;
		goto out;
	}
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 1) /* initial APIC ID in EBX[31:24] */
			e->ebx = (e->ebx & 0x00ffffffu) | (v->id << 24);
		else if (e->function == 0xb || e->function == 0x1f) /* x2APIC ID */
			e->edx = v->id;
	}
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0)
		err = -errno;
out:
	free(c);
	return err;
}
