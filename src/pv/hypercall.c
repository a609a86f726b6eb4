/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hypercall port. The argument struct is copied out of guest memory once (another
 * vCPU may be rewriting it), every field is checked by the handler that uses it, and the
 * result is written back. Nothing a guest passes here can crash or stall the VMM.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "capsule/log.h"
#include "capsule/pv.h"

static int64_t hc_shutdown(struct pv_domain *pv, struct vcpu *v, const struct cap_hcall *a,
			   enum exit_action *act)
{
	static const enum vm_end_reason reasons[] = {
		[CAP_SHUTDOWN_POWEROFF] = VM_END_POWEROFF,
		[CAP_SHUTDOWN_REBOOT] = VM_END_REBOOT,
		[CAP_SHUTDOWN_CRASH] = VM_END_CRASH,
	};

	if (a->a[0] > CAP_SHUTDOWN_CRASH)
		return CAP_EINVAL;
	/* capsule run's status has 8 bits, and 124 and up are its own (timeout, error, crash,
	 * signal): a code beyond them is refused and the domain goes on (docs/pv-abi.md R-SD-2). */
	if (a->a[0] == CAP_SHUTDOWN_POWEROFF && a->a[1] > CAP_SHUTDOWN_CODE_MAX)
		return CAP_EINVAL;
	pv_console_drain(pv); /* the last words before the end */
	if (a->a[0] == CAP_SHUTDOWN_CRASH)
		*act = vcpu_crash(v, NULL, NULL, "the guest reported a crash (code %lld)",
				  (long long)a->a[1]);
	else
		*act = (vm_end(pv->vm, reasons[a->a[0]], (int)a->a[1]), EXIT_DOMAIN_END);
	return 0;
}

static int64_t hc_vcpu_up(struct pv_domain *pv, const struct cap_hcall *a)
{
	struct vm *vm = pv->vm;
	struct kvm_regs regs;
	int err;

	if (a->a[0] == 0 || a->a[0] >= vm->nr_vcpus)
		return CAP_EINVAL;
	/* Entry and stack must be in the guest's own (user-mapped) RAM. */
	if (a->a[1] < CAP_GPA_IMAGE_MIN || a->a[1] >= vm->mem.size ||
	    a->a[2] <= CAP_GPA_IMAGE_MIN || a->a[2] > vm->mem.size)
		return CAP_EINVAL;
	memset(&regs, 0, sizeof(regs));
	regs.rip = a->a[1];
	regs.rsp = a->a[2];
	regs.rdi = a->a[3];
	regs.rsi = a->a[0];
	regs.rflags = 0x2;
	err = vcpu_start(&vm->vcpus[a->a[0]], &regs);
	return err == -EBUSY ? CAP_EBUSY : err ? CAP_EINVAL : 0;
}

static int64_t hc_time(const struct pv_domain *pv, struct cap_hcall *a)
{
	struct timespec ts;

	a->a[0] = vm_time_ns(pv->vm);
	clock_gettime(CLOCK_REALTIME, &ts);
	a->a[1] = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	return (int64_t)a->a[0];
}

enum exit_action pv_hypercall(struct pv_domain *pv, struct vcpu *v, unsigned nr,
			      struct cap_hcall *a)
{
	enum exit_action act = EXIT_CONTINUE;

	if (nr < CAP_HC_COUNT)
		__atomic_fetch_add(&pv->hypercalls[nr], 1, __ATOMIC_RELAXED);
	switch (nr) {
	case CAP_HC_CONSOLE_WRITE:
		a->ret = pv_console_drain(pv);
		break;
	case CAP_HC_YIELD:
		sched_yield();
		a->ret = 0;
		break;
	case CAP_HC_BLOCK:
		a->ret = evtchn_block(pv, v, a->a[0]);
		break;
	case CAP_HC_SHUTDOWN:
		a->ret = hc_shutdown(pv, v, a, &act);
		break;
	case CAP_HC_SET_TIMER:
		a->ret = pv_timer_set(pv, v, a->a[0]);
		break;
	case CAP_HC_VCPU_UP:
		a->ret = hc_vcpu_up(pv, a);
		break;
	case CAP_HC_VCPU_DOWN:
		a->ret = v->id == 0 ? CAP_EINVAL : 0;
		if (v->id != 0)
			act = EXIT_VCPU_STOP;
		break;
	case CAP_HC_EVTCHN_ALLOC:
		a->ret = evtchn_alloc(pv, a->a[0], PV_PORT_VCPU);
		break;
	case CAP_HC_EVTCHN_BIND_TIMER:
		a->ret = pv_timer_bind(pv, v);
		break;
	case CAP_HC_EVTCHN_SEND:
		a->ret = evtchn_send(pv, a->a[0]);
		break;
	case CAP_HC_EVTCHN_MASK:
	case CAP_HC_EVTCHN_UNMASK:
		a->ret = evtchn_mask(pv, a->a[0], nr == CAP_HC_EVTCHN_MASK);
		break;
	case CAP_HC_EVTCHN_CLOSE:
		a->ret = evtchn_close(pv, a->a[0]);
		break;
	case CAP_HC_TIME:
		a->ret = hc_time(pv, a);
		break;
	default:
		a->ret = CAP_ENOSYS;
		break;
	}
	return act;
}

/* The argument address was unusable: the result goes to RAX instead (docs/pv-abi.md). */
static void set_rax(struct vcpu *v, int64_t value)
{
	struct kvm_regs regs;

	if (v->fd >= 0 && ioctl(v->fd, KVM_GET_REGS, &regs) == 0) {
		regs.rax = (uint64_t)value;
		ioctl(v->fd, KVM_SET_REGS, &regs);
	}
}

static void stamp_first(struct pv_domain *pv)
{
	if (pv->stamp_first_hypercall &&
	    !__atomic_exchange_n(&pv->first_hypercall_seen, true, __ATOMIC_RELAXED)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		fprintf(stderr, "capsule: first hypercall at monotonic %lld.%09ld\n",
			(long long)ts.tv_sec, ts.tv_nsec);
	}
}

static enum exit_action hc_port(struct vcpu *v, void *opaque, uint64_t port, uint8_t *data,
				uint32_t len, bool is_write)
{
	struct pv_domain *pv = opaque;
	struct cap_hcall args;
	enum exit_action act;
	uint32_t gpa;
	void *p;

	stamp_first(pv);
	if (!is_write) { /* KVM writes `data` into RAX when it completes the `in` */
		memset(data, 0xff, len);
		return EXIT_CONTINUE;
	}
	if (len != 4) {
		set_rax(v, CAP_EINVAL);
		return EXIT_CONTINUE;
	}
	memcpy(&gpa, data, 4);
	/* Only the guest's own RAM at or above 1 MiB (gmem_ptr refuses the VMM's pages). */
	p = gpa % 8 || gpa < CAP_GPA_IMAGE_MIN ? NULL : gmem_ptr(&v->vm->mem, gpa, sizeof(args));
	if (!p) {
		log_debug("vCPU %u: hypercall %llu with bad argument address 0x%x", v->id,
			  (unsigned long long)(port - CAP_HC_PORT_BASE), gpa);
		set_rax(v, CAP_EFAULT);
		return EXIT_CONTINUE;
	}
	memcpy(&args, p, sizeof(args));
	act = pv_hypercall(pv, v, (unsigned)(port - CAP_HC_PORT_BASE), &args);
	memcpy(p, &args, sizeof(args));
	return act;
}

int pv_domain_init(struct pv_domain *pv, struct vm *vm)
{
	int err;

	memset(pv, 0, sizeof(*pv));
	pv->loop.epoll_fd = pv->loop.stop_fd = -1; /* not fd 0: pv_service_stop closes them */
	pv->timer_src.fd = pv->console_in_retry.fd = -1;
	pv->vm = vm;
	vm->pv = pv;
	vm->strict_io = true; /* a PV guest has no business on any other port */
	pv->start_info = gmem_ptr(&vm->mem, CAP_GPA_START_INFO, sizeof(*pv->start_info));
	pv->shared = gmem_ptr(&vm->mem, CAP_GPA_SHARED_INFO, sizeof(*pv->shared));
	pv->console = gmem_ptr(&vm->mem, CAP_GPA_CONSOLE, sizeof(*pv->console));
	pv->console_in = gmem_ptr(&vm->mem, CAP_GPA_CONSOLE_IN, sizeof(*pv->console_in));
	if (!pv->start_info || !pv->shared || !pv->console || !pv->console_in ||
	    pv_reserve_vmm_pages(vm))
		return -EINVAL;
	for (unsigned i = 0; i < CAP_MAX_VCPUS; i++)
		pv->timers[i].port = -1;
	pthread_mutex_init(&pv->console_lock, NULL);
	err = pv_service_init(pv);
	if (!err)
		err = bus_register(&vm->pio, CAP_HC_PORT_BASE, CAP_HC_PORT_SPAN, hc_port, pv,
			   "hypercall");
	if (!err)
		err = bus_register(&vm->pio, PV_TRAP_PORT, 1, pv_trap, pv, "trap");
	return err;
}
