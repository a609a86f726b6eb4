/* CPUID: what KVM can really run, with each vCPU's own APIC ID. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "capsule/vm.h"

#define CPUID_MAX_ENTRIES 256

int cpuid_setup(struct vcpu *v)
{
	size_t size = sizeof(struct kvm_cpuid2) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c;
	int err = 0;

	/* What KVM supports is asked once per VM; each vCPU gets its own copy to adjust. */
	if (!v->vm->supported_cpuid) {
		v->vm->supported_cpuid = calloc(1, size);
		if (!v->vm->supported_cpuid)
			return -ENOMEM;
		v->vm->supported_cpuid->nent = CPUID_MAX_ENTRIES;
		if (ioctl(v->vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, v->vm->supported_cpuid) < 0)
			return -errno;
	}
	c = malloc(size);
	if (!c)
		return -ENOMEM;
	memcpy(c, v->vm->supported_cpuid, size);
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 1) /* initial APIC ID in EBX[31:24] */
			e->ebx = (e->ebx & 0x00ffffffu) | (v->id << 24);
		else if (e->function == 0xb || e->function == 0x1f) /* x2APIC ID */
			e->edx = v->id;
	}
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0)
		err = -errno;
	free(c);
	return err;
}
