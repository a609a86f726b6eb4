/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PV domains: guests built with the guest kit that run at CPL 3 and talk to the VMM through
 * hypercalls, event channels and shared pages (docs/pv-abi.md).
 *
 *   cpu_tables.c  page tables, GDT, IDT, TSS with the I/O bitmap, exception stubs
 *   domain.c      build a domain from an image: load, start_info, vCPU 0, lifecycle
 *   hypercall.c   the hypercall port: argument checks and the dispatch table
 *   event.c       event channels, block and wake-up
 *   service.c     the domain's service thread: one event loop for timers and console input
 *   timer.c       per-vCPU one-shot timers, one timerfd at the earliest deadline
 *   console.c     the console ring
 *   console_in.c  console input: fills the input ring from an fd, as it has room
 *   trap.c        exceptions in the guest, reported as crashes
 *   devices.c     virtio-mmio devices: the window after RAM, event channels as interrupts
 */
#ifndef CAPSULE_PV_H
#define CAPSULE_PV_H

#include <stdbool.h>
#include <stdint.h>

#include "capsule/loop.h"
#include "capsule/pv_abi.h"
#include "capsule/virtio.h"
#include "capsule/vm.h"

/* Port written by the supervisor exception stubs (CPL 0 only: closed in the I/O bitmap). */
#define PV_TRAP_PORT 0x4ffu
#define PV_INITIAL_STACK 0x10000ull /* below the top of RAM, for vCPU 0 */
#define PV_MMIO_WINDOW (2ull << 20) /* right after RAM: virtio-mmio devices, uncached */
#define PV_MAX_MEM ((64ull << 30) - PV_MMIO_WINDOW) /* 64 page directories map RAM + window */
#define PV_MIN_MEM (4ull << 20)

enum pv_port_kind { PV_PORT_FREE = 0, PV_PORT_VCPU, PV_PORT_TIMER };

struct pv_port {
	uint8_t kind;
	uint8_t vcpu; /* the vCPU this port notifies */
};

struct pv_timer {
	uint64_t deadline; /* domain time ns; 0 = not armed */
	int port;          /* bound event channel or -1 */
};

struct pv_domain {
	struct vm *vm;
	struct cap_shared_info *shared;   /* inside guest RAM: the guest writes it too */
	struct cap_console_ring *console; /* inside guest RAM */
	struct cap_start_info *start_info;

	/* Event and timer state, under vm->lock. The VMM's own view is authoritative. */
	struct pv_port ports[CAP_EVTCHN_PORTS];
	uint64_t vcpu_ports[CAP_MAX_VCPUS][CAP_EVTCHN_WORDS]; /* ports notifying vCPU v */
	struct pv_timer timers[CAP_MAX_VCPUS];
	uint64_t timer_armed;          /* the deadline timer_src is armed for (0: none) */

	/* The service thread's loop (service.c): timers, console input. */
	struct loop loop;
	struct loop_source timer_src;  /* a timerfd */
	pthread_t service_thread;
	bool service_started;
	bool service_paused;           /* under vm->lock: the domain is paused, timers wait */

	pthread_mutex_t console_lock;
	uint32_t console_cons; /* the VMM's copy; the ring's cons is only a mirror */

	/* Console input (console_in.c): none unless console_in_port is set. */
	struct cap_console_in *console_in; /* inside guest RAM */
	uint32_t console_in_prod;          /* the VMM's copy; the ring's prod only mirrors it */
	uint32_t console_in_port;
	struct loop_source console_in_src; /* the fd, on the loop while the ring has room */
	struct loop_source console_in_retry; /* a timerfd: is there room yet? */
	pthread_mutex_t console_in_lock;   /* the input's state; held while input is copied */
	bool console_in_watching, console_in_eof, console_in_paused;

	/* virtio devices in the MMIO window, each interrupting through an event channel */
	struct pv_device {
		struct virtio_dev dev;
		struct pv_domain *pv;
		uint32_t port;
	} devices[CAP_MAX_DEVICES];
	unsigned nr_devices;

	uint32_t control_port;      /* host requests (start_info.control_port) */
	/* Being restored (src/snapshot/): guest memory is the snapshot's, so allocating the
	 * devices' ports again leaves their pending and mask bits as the guest last saw them. */
	bool restoring;
	bool stamp_first_hypercall; /* bench: print the time of the first hypercall */
	bool first_hypercall_seen;
	uint64_t hypercalls[CAP_HC_COUNT]; /* statistics */
};

struct pv_config {
	const char *image_path;
	int image_fd; /* an open descriptor of it, or -1 to open the path */
	const uint8_t *image; /* its bytes, read already (image_fd is then not read), or NULL */
	size_t image_size;
	const char *cmdline;
	bool stamp_first_hypercall;
	int console_in_fd; /* console input for the guest, or -1 (docs/pv-abi.md 7.1) */
	const uint8_t *measurement; /* 32 bytes for start_info (R-SI-9), or NULL */
};

/* State, shared pages and the hypercall port on an existing VM (no KVM needed). */
int pv_domain_init(struct pv_domain *pv, struct vm *vm);
/* Load the image, build tables and start_info, prepare vCPU 0. Needs a KVM VM. */
int pv_domain_build(struct pv_domain *pv, const struct pv_config *cfg);
/*
 * Ask the guest to power off or reboot (docs/pv-abi.md 11.1): shared_info.host_request,
 * then the control port. 0, or -EINVAL for a bad request or a domain not yet built.
 */
int pv_domain_request(struct pv_domain *pv, enum cap_host_request req);
/* Start vCPU 0, then the service thread. */
int pv_domain_start(struct pv_domain *pv);
/* Stop threads and flush the console; the VM itself is destroyed by the caller. */
void pv_domain_destroy(struct pv_domain *pv);

/* Pieces, exposed for the unit tests and for each other. */
int pv_build_cpu_tables(struct vm *vm);
/* Is this page the VMM's (supervisor-only, refused to devices)? docs/pv-abi.md */
bool pv_vmm_owned(uint64_t gpa);
/* Tell guest memory which ranges are the VMM's (pv_domain_init does it). */
int pv_reserve_vmm_pages(struct vm *vm);
void pv_vcpu_sregs(const struct vm *vm, unsigned vcpu, struct kvm_sregs *s);
enum exit_action pv_hypercall(struct pv_domain *pv, struct vcpu *v, unsigned nr,
			      struct cap_hcall *args);
enum exit_action pv_trap(struct vcpu *v, void *opaque, uint64_t port, uint8_t *data,
			 uint32_t len, bool is_write);
int64_t pv_console_drain(struct pv_domain *pv);
/* The service loop (at init), its thread (at start, after vCPU 0), its end (at destroy;
 * idempotent). */
int pv_service_init(struct pv_domain *pv);
int pv_service_start(struct pv_domain *pv);
void pv_service_stop(struct pv_domain *pv);
/* The domain is paused (or resumes): timers do not fire and console input is not taken
 * meanwhile, so its memory and event state stand still; returns once that holds. */
void pv_service_pause(struct pv_domain *pv, bool paused);
void pv_console_in_pause(struct pv_domain *pv, bool paused);
/* Console input on the service loop: the ring and its port (at build; fd -1 or one that
 * cannot be waited on gives none). */
int pv_console_in_setup(struct pv_domain *pv, int fd);
/* The same for a restored domain: the ring is in its memory and restored_port (nonzero)
 * in its ports already. */
int pv_console_in_attach(struct pv_domain *pv, int fd, uint32_t restored_port);
/* Arm the timerfd for the deadlines in pv->timers (a restored domain). */
void pv_timer_rearm(struct pv_domain *pv);

int64_t evtchn_alloc(struct pv_domain *pv, uint64_t vcpu, enum pv_port_kind kind);
int64_t evtchn_close(struct pv_domain *pv, uint64_t port);
int64_t evtchn_send(struct pv_domain *pv, uint64_t port);
int64_t evtchn_mask(struct pv_domain *pv, uint64_t port, bool mask);
int64_t evtchn_block(struct pv_domain *pv, struct vcpu *v, uint64_t deadline);
void evtchn_raise_locked(struct pv_domain *pv, unsigned port);

/* Add a virtio device (before pv_domain_build, which lists it in start_info). */
struct virtio_dev *pv_add_device(struct pv_domain *pv, const struct virtio_dev_ops *ops,
				 void *priv);
void pv_remove_devices(struct pv_domain *pv);
uint64_t pv_mmio_base(const struct vm *vm);

int pv_timer_setup(struct pv_domain *pv); /* its timerfd on the service loop */
int64_t pv_timer_set(struct pv_domain *pv, struct vcpu *v, uint64_t deadline);
int64_t pv_timer_bind(struct pv_domain *pv, struct vcpu *v);

#endif
