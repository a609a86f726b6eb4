/* SPDX-License-Identifier: Apache-2.0 */
/* Building a PV domain from an image and running it: the order of the steps is the ABI. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "capsule/loader.h"
#include "capsule/log.h"
#include "capsule/pv.h"

#define MSR_IA32_TSC 0x10
#define MSR_IA32_APICBASE_BSP (1ull << 8)

_Static_assert(PV_INITIAL_STACK == CAP_INITIAL_STACK, "the initial stack of docs/pv-abi.md");

static uint64_t guest_tsc(const struct vcpu *v)
{
	union {
		struct kvm_msrs hdr; /* followed by its entries[] */
		uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} m;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 1;
	m.hdr.entries[0].index = MSR_IA32_TSC;
	return ioctl(v->fd, KVM_GET_MSRS, &m) == 1 ? m.hdr.entries[0].data : 0;
}

static int load_image(struct pv_domain *pv, const struct pv_config *cfg, struct elf_image *img)
{
	const char *path = cfg->image_path;
	char err[LOADER_ERR_MAX];
	uint8_t *read = NULL; /* the image as read here, if the caller had not */
	const uint8_t *file = cfg->image;
	size_t size = cfg->image_size;
	int rc;

	if (!file) {
		rc = file_read_all(path, cfg->image_fd, pv->vm->mem.size, &read, &size, err);
		if (rc) {
			log_err("%s", err);
			return rc;
		}
		file = read;
	}
	/* A domain is always built in freshly created memory, which the memfd zero-fills. */
	rc = elf_load(file, size, &pv->vm->mem, CAP_GPA_IMAGE_MIN, ELF_LOAD_MEM_ZEROED, img,
		      err);
	free(read);
	if (rc) {
		log_err("%s: %s", path, err);
		return rc;
	}
	if (img->pv_abi == 0) {
		log_err("%s: not a Capsule PV image (no Capsule ELF note); build it with the "
			"guest kit (guest/)", path);
		return -EINVAL;
	}
	if (img->pv_abi != CAP_PV_ABI_VERSION) {
		log_err("%s: built for PV ABI v%u, this capsule runs v%u", path, img->pv_abi,
			CAP_PV_ABI_VERSION);
		return -EINVAL;
	}
	if (img->hi > pv->vm->mem.size - PV_INITIAL_STACK) {
		log_err("%s: the image leaves no room for the initial stack; give the domain "
			"more --mem", path);
		return -EINVAL;
	}
	return 0;
}

static void fill_start_info(struct pv_domain *pv, const struct elf_image *img,
			    const char *cmdline, const uint8_t *measurement)
{
	struct cap_start_info *si = pv->start_info;
	struct vm *vm = pv->vm;
	struct timespec now;
	int khz = ioctl(vm->vcpus[0].fd, KVM_GET_TSC_KHZ, 0);

	memset(si, 0, sizeof(*si));
	si->magic = CAP_START_MAGIC;
	si->version = CAP_PV_ABI_VERSION;
	si->mem_bytes = vm->mem.size;
	si->nr_vcpus = vm->nr_vcpus;
	si->tsc_khz = khz > 0 ? (uint64_t)khz : 0;
	si->boot_tsc = guest_tsc(&vm->vcpus[0]);
	clock_gettime(CLOCK_REALTIME, &now);
	si->boot_wallclock_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec -
				vm_time_ns(vm);
	si->shared_info_gpa = CAP_GPA_SHARED_INFO;
	si->console_gpa = CAP_GPA_CONSOLE;
	si->image_start = img->lo;
	si->image_end = img->hi;
	si->free_start = (img->hi + 4095) & ~4095ull;
	si->free_end = vm->mem.size - PV_INITIAL_STACK;
	si->nr_devices = pv->nr_devices;
	si->control_port = pv->control_port;
	si->flags = pv->console_in_port ? CAP_SI_CONSOLE_INPUT : 0;
	for (unsigned i = 0; i < pv->nr_devices; i++)
		si->devices[i] = (struct cap_device_desc){
			.type = pv->devices[i].dev.ops->device_id,
			.evtchn = pv->devices[i].port,
			.mmio_base = pv->devices[i].dev.base,
			.mmio_size = VIRTIO_MMIO_SIZE,
		};
	snprintf(si->cmdline, sizeof(si->cmdline), "%s", cmdline ? cmdline : "");
	if (measurement) {
		memcpy(si->launch_measurement, measurement, sizeof(si->launch_measurement));
		si->flags |= CAP_SI_MEASURED;
	}
}

int pv_domain_request(struct pv_domain *pv, enum cap_host_request req)
{
	if ((req != CAP_REQUEST_POWEROFF && req != CAP_REQUEST_REBOOT) || !pv->control_port)
		return -EINVAL;
	/* The request is in shared_info before the event that tells the guest to look. */
	__atomic_store_n(&pv->shared->host_request, (uint32_t)req, __ATOMIC_RELEASE);
	evtchn_send(pv, pv->control_port);
	return 0;
}

int pv_domain_build(struct pv_domain *pv, const struct pv_config *cfg)
{
	struct vm *vm = pv->vm;
	struct elf_image img;
	int64_t port;
	struct vcpu *v0 = &vm->vcpus[0];
	int rc;

	pv->stamp_first_hypercall = cfg->stamp_first_hypercall;
	rc = load_image(pv, cfg, &img);
	if (rc)
		return rc;
	/* The control port, after the devices': an ordinary port notifying vCPU 0 (R-REQ-1). */
	port = evtchn_alloc(pv, 0, PV_PORT_VCPU);
	if (port <= 0) {
		log_err("no event channel left for the control port");
		return -ENOSPC;
	}
	pv->control_port = (uint32_t)port;
	/* Console input's port after it, so the control port's number does not change. */
	rc = pv_console_in_setup(pv, cfg->console_in_fd);
	if (rc)
		return rc;
	rc = pv_build_cpu_tables(vm);
	if (rc) {
		log_err("cannot build the domain's CPU tables");
		return rc;
	}
	/* KVM's reset state is the same on every vCPU but for the BSP flag of the APIC base:
	 * asked of vCPU 0 only (each vCPU ioctl loads the vCPU, which reads host MSRs: slow
	 * here, 64 of them a visible part of a 64-vCPU launch). */
	if (ioctl(v0->fd, KVM_GET_SREGS, &v0->init_sregs) < 0)
		return -errno;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (i) {
			v->init_sregs = v0->init_sregs;
			v->init_sregs.apic_base &= ~MSR_IA32_APICBASE_BSP;
		}
		pv_vcpu_sregs(vm, i, &v->init_sregs);
	}
	memset(&v0->init_regs, 0, sizeof(v0->init_regs));
	v0->init_regs.rip = img.entry;
	v0->init_regs.rsp = vm->mem.size;
	v0->init_regs.rdi = CAP_GPA_START_INFO;
	v0->init_regs.rsi = 0;
	v0->init_regs.rflags = 0x2;
	fill_start_info(pv, &img, cfg->cmdline, cfg->measurement);
	log_info("PV image %s: [0x%llx, 0x%llx), entry 0x%llx, control port %u", cfg->image_path,
		 (unsigned long long)img.lo, (unsigned long long)img.hi,
		 (unsigned long long)img.entry, pv->control_port);
	return 0;
}

int pv_domain_start(struct pv_domain *pv)
{
	/* vCPU 0 first: the service thread is not on the path to the first guest instruction
	 * (a timer armed before it runs is only a timerfd's state, served once it runs). */
	int rc = vcpu_start(&pv->vm->vcpus[0], NULL);

	if (rc) {
		log_err("cannot start vCPU 0: %s", strerror(-rc));
		return rc;
	}
	rc = pv_service_start(pv);
	if (rc) {
		log_err("cannot start the domain's service thread: %s", strerror(-rc));
		vm_end(pv->vm, VM_END_CRASH, 0);
	}
	return rc;
}

void pv_domain_destroy(struct pv_domain *pv)
{
	if (!pv->vm)
		return;
	vm_join_vcpus(pv->vm); /* nothing may be in a hypercall while this is torn down */
	pv_remove_devices(pv);
	pv_service_stop(pv); /* timers and console input, before the memory they write goes */
	pv_console_drain(pv); /* output the guest wrote but did not flush */
	pthread_mutex_destroy(&pv->console_lock);
	pv->vm->pv = NULL;
	pv->vm = NULL;
}
