/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CPUID: what KVM can really run (KVM_GET_SUPPORTED_CPUID, asked once per process), with
 * each vCPU's APIC ID and a topology of N single-threaded cores in one package.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "capsule/vm.h"

#define CPUID_MAX_ENTRIES 256

static unsigned bits_for(unsigned n)
{
	unsigned b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

void cpuid_adjust(struct kvm_cpuid_entry2 *e, unsigned count, unsigned id, unsigned nr)
{
	unsigned shift = bits_for(nr);

	for (unsigned i = 0; i < count; i++, e++) {
		switch (e->function) {
		case 1: /* initial APIC ID, logical processors per package, HTT */
			e->ebx = (e->ebx & 0x0000ffffu) | (id << 24) | ((nr & 0xff) << 16);
			e->edx = nr > 1 ? e->edx | (1u << 28) : e->edx & ~(1u << 28);
			break;
		case 4: /* cores per package, for the cache leaves */
			e->eax = (e->eax & 0x03ffffffu) | ((nr - 1) << 26);
			break;
		case 0xb:
		case 0x1f: /* extended topology: level 0 threads (1), level 1 cores (nr) */
			e->edx = id;
			if (e->index == 0) {
				e->eax = 0, e->ebx = 1, e->ecx = (1u << 8) | 0;
			} else if (e->index == 1) {
				e->eax = shift, e->ebx = nr, e->ecx = (2u << 8) | 1;
			} else {
				e->eax = 0, e->ebx = 0, e->ecx = e->index;
			}
			break;
		case 0x80000008: /* AMD: number of cores - 1 and the APIC ID size */
			e->ecx = (e->ecx & ~0xf0ffu) | (shift << 12) | (nr - 1);
			break;
		default:
			break;
		}
	}
}

/*
 * What this host's KVM supports does not change while the process runs, and asking costs
 * the host kernel a CPUID instruction per leaf (about 0.6 ms where CPUID traps to a
 * hypervisor below): asked once per process, whatever the VMs and boots. The one piece of
 * file-level state in core/, written once under the lock and never freed.
 */
static pthread_mutex_t supported_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kvm_cpuid2 *supported;

int cpuid_fetch_supported(int kvm_fd, const struct kvm_cpuid2 **out)
{
	size_t size = sizeof(struct kvm_cpuid2) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	int err = 0;

	pthread_mutex_lock(&supported_lock);
	if (!supported) {
		struct kvm_cpuid2 *c = calloc(1, size);

		if (!c) {
			err = -ENOMEM;
		} else {
			c->nent = CPUID_MAX_ENTRIES;
			if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
				err = -errno;
				free(c);
			} else {
				supported = c;
			}
		}
	}
	*out = supported;
	pthread_mutex_unlock(&supported_lock);
	return err;
}

static void *prefetch(void *arg)
{
	const struct kvm_cpuid2 *c;

	cpuid_fetch_supported((int)(intptr_t)arg, &c);
	return NULL;
}

void cpuid_prefetch(int kvm_fd)
{
	pthread_attr_t attr;
	pthread_t t;

	/* Small and detached; if it cannot start, the spawner asks itself. */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64u << 10);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_create(&t, &attr, prefetch, (void *)(intptr_t)kvm_fd);
	pthread_attr_destroy(&attr);
}

int cpuid_setup(struct vcpu *v)
{
	const struct kvm_cpuid2 *sup = v->vm->supported_cpuid;
	/* On the vCPU thread's stack: no allocation in a confined thread. */
	union {
		struct kvm_cpuid2 c;
		uint8_t bytes[sizeof(struct kvm_cpuid2) +
			      CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2)];
	} copy;

	if (sup->nent > CPUID_MAX_ENTRIES)
		return -EINVAL;
	memcpy(&copy, sup, sizeof(*sup) + sup->nent * sizeof(sup->entries[0]));
	cpuid_adjust(copy.c.entries, copy.c.nent, v->id, v->vm->nr_vcpus);
	return ioctl(v->fd, KVM_SET_CPUID2, &copy.c) < 0 ? -errno : 0;
}
