/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Virtio device models. Three layers, one file each in src/virtio/:
 *   queue.c  the split virtqueue as the device sees it: every descriptor from the guest is
 *            checked (addresses through gmem_ptr, chains capped, loops detected)
 *   mmio.c   the virtio-mmio (version 2) transport: registers, features, status, queues,
 *            ioeventfd kicks, a device thread, interrupts through an irq sink
 *   <dev>.c  one device each (blk, net, console, rng, balloon): a const virtio_dev_ops
 */
#ifndef CAPSULE_VIRTIO_H
#define CAPSULE_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "capsule/loop.h"
#include "capsule/mem.h"
#include "capsule/platform.h"
#include "capsule/virtio_abi.h"

struct vm;

/* ---- the virtqueue (device side) ---- */

#define VQ_MAX_SIZE 256u   /* largest queue a device offers */
#define VQ_MAX_SEGS 260u   /* segments one chain may have, indirect tables included */
#define VQ_MAX_INDIRECT 256u

struct virtq {
	uint16_t size;
	bool ready;
	bool event_idx;
	bool indirect;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t last_avail;  /* next available entry to take */
	uint16_t used_idx;    /* our copy of used->idx */
	uint16_t signalled;   /* used_idx when the driver was last interrupted */
};

struct vq_seg {
	uint8_t *ptr; /* host pointer, checked: [ptr, ptr + len) is guest RAM */
	uint32_t len;
	bool write;   /* device-writable */
};

struct vq_chain {
	uint16_t head;
	unsigned nseg;
	uint64_t out_bytes, in_bytes; /* device-readable and device-writable totals */
	struct vq_seg seg[VQ_MAX_SEGS];
};

/* Check and map a queue's rings; -EINVAL (with *why) if any part lies outside RAM. */
int vq_init(struct virtq *q, const struct guest_mem *m, uint16_t size, gpa_t desc, gpa_t avail,
	    gpa_t used, bool event_idx, bool indirect, const char **why);
/* 1 and a chain, 0 if the ring is empty, -EINVAL (with *why) if the ring is malformed. */
int vq_pop(struct virtq *q, const struct guest_mem *m, struct vq_chain *c, const char **why);
/* Return a chain to the driver with `len` bytes written into it. */
void vq_push(struct virtq *q, uint16_t head, uint32_t len);
/* After pushes: does the driver want an interrupt (event index / NO_INTERRUPT)? */
bool vq_need_interrupt(struct virtq *q);
/* Ask the driver to notify again once it adds past what we consumed; true if more is there. */
bool vq_enable_notify(struct virtq *q);
bool vq_has_avail(const struct virtq *q);
/* Ask the driver not to notify (the device is about to look by itself); vq_enable_notify
 * undoes it. A driver that read the old setting may still notify once. */
void vq_disable_notify(struct virtq *q);
/* Ask to be notified at the driver's next add, though chains are still available (a
 * backend that needs more than what is there); true if one was added meanwhile. */
bool vq_notify_on_add(struct virtq *q);
/* Give back the last n chains taken (not yet pushed): a backend could not use them now. */
void vq_unpop(struct virtq *q, uint16_t n);

/* iovecs over [off, off + len) of one direction of a chain; how many (at most c->nseg). */
struct iovec;
unsigned vq_iovecs(const struct vq_chain *c, bool write, uint64_t off, uint64_t len,
		   struct iovec *iov);
/* Copy between a chain's segments and a flat buffer, skipping `off` bytes of one direction. */
uint64_t vq_copy_from(const struct vq_chain *c, uint64_t off, void *dst, uint64_t len);
uint64_t vq_copy_to(const struct vq_chain *c, uint64_t off, const void *src, uint64_t len);

/* ---- devices and the mmio transport ---- */

#define VIRTIO_MAX_QUEUES 5 /* virtio-net with two queue pairs and its control queue */
#define VIRTIO_CONFIG_MAX 64

/* How a device interrupts its driver: an event channel (PV) or an irqfd (HVM). */
struct irq_sink {
	void (*raise)(void *opaque);
	void *opaque;
};

struct virtio_dev;

/* A device is this descriptor plus its private state (virtio_dev.priv). */
struct virtio_dev_ops {
	const char *name;
	uint32_t device_id;
	unsigned num_queues;
	uint64_t features; /* device-specific feature bits offered */
	uint32_t config_size;
	/* Device thread, d->lock held: the driver kicked queue q (or a backend asked). */
	void (*queue_notify)(struct virtio_dev *d, unsigned q);
	/* Optional, d->lock held: the driver wrote config bytes [off, off + len). */
	void (*config_write)(struct virtio_dev *d, uint32_t off, uint32_t len);
	/* Optional, d->lock held: the driver reset the device or the device stops. */
	void (*reset)(struct virtio_dev *d);
	/* Optional, d->lock held: the driver set DRIVER_OK. */
	void (*driver_ok)(struct virtio_dev *d);
	/* Optional, without d->lock: begin serving the host side (receive pumps); 0 or -errno. */
	int (*start)(struct virtio_dev *d);
	/* Optional, without d->lock: quiesce the backend, no host I/O until the next start. */
	void (*stop)(struct virtio_dev *d);
	/* Optional, d->lock held: the device's own state beyond the transport's (at most cap
	 * bytes, plain data); how many bytes. */
	size_t (*save)(struct virtio_dev *d, uint8_t *buf, size_t cap);
	/* Optional, d->lock held: take back what save wrote; it comes from a file, so check
	 * all of it before changing anything. 0, or -EINVAL with *why. */
	int (*restore)(struct virtio_dev *d, const uint8_t *buf, size_t len, const char **why);
};

struct virtio_stats {
	uint64_t kicks;      /* queue notifications received (each one a guest exit or less) */
	uint64_t requests;   /* chains completed */
	uint64_t interrupts; /* interrupts raised */
	uint64_t rx_items;   /* receive pumps that pull (backend_rx.c): items moved */
	uint64_t rx_wakeups; /* ... in this many wake-ups that moved any */
	uint64_t rx_batch_max; /* the most one wake-up moved */
	uint64_t polls;      /* adaptive polls of an empty ring (virtio_drain) */
	uint64_t poll_hits;  /* ... that found work, so notifications stayed off */
	uint64_t poll_ns;    /* time spent in them */
	uint64_t expects;    /* spins for an answer after a delivery (virtio_expect) */
	uint64_t expect_hits; /* ... that caught it, so the driver did not kick */
	uint64_t expect_ns;  /* time spent in them */
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *priv;
	uint64_t host_features; /* per-instance feature bits (e.g. a read-only disk) */
	struct vm *vm;
	const struct guest_mem *mem;
	uint64_t base; /* MMIO base */
	struct irq_sink irq;
	pthread_mutex_t lock;

	/* transport state, under lock */
	uint32_t status, dev_features_sel, drv_features_sel, queue_sel, int_status, config_gen;
	uint32_t irq_why;   /* what the interrupt being raised is for, and its queue (VRING) */
	unsigned irq_queue;
	uint64_t driver_features;
	struct {
		uint16_t num;
		uint64_t desc, avail, used;
	} qcfg[VIRTIO_MAX_QUEUES];
	struct virtq vq[VIRTIO_MAX_QUEUES];
	uint8_t config[VIRTIO_CONFIG_MAX];
	bool broken; /* DEVICE_NEEDS_RESET until the driver resets */

	int kick_fd[VIRTIO_MAX_QUEUES]; /* eventfds, wired to QueueNotify by KVM_IOEVENTFD */
	bool ioeventfd;
	bool on_bus;
	struct loop loop;       /* the device thread's: a source per kick eventfd */
	struct loop_source kick_src[VIRTIO_MAX_QUEUES];
	pthread_t thread;
	bool thread_started;
	bool stopped; /* between virtio_dev_stop and virtio_dev_start: kicks wait */
	uint32_t poll_window_ns[VIRTIO_MAX_QUEUES]; /* the adaptive poll's current bound */
	uint32_t expect_ns[VIRTIO_MAX_QUEUES];  /* virtio_expect's bound; 0: resting, or new */
	uint8_t expect_rest[VIRTIO_MAX_QUEUES]; /* deliveries it sits out before trying again */
	struct virtio_stats stats;
};

#define VIRTIO_EXTRA_MAX 64

/*
 * The state of a device as a snapshot needs it: transport registers, each queue's layout
 * and indices, the config space. Plain data: guest addresses, never pointers. A restore
 * rebuilds every live queue through vq_init, so a state from a file is checked as a
 * driver's would be, never trusted (a queue outside the guest's RAM or in the VMM's pages
 * is refused, and nothing is changed).
 */
struct virtio_state {
	uint32_t device_id;
	uint32_t status, dev_features_sel, drv_features_sel, queue_sel, int_status, config_gen;
	uint64_t driver_features;
	struct {
		uint16_t num;
		uint8_t ready;
		uint64_t desc, avail, used;
		uint16_t last_avail, used_idx, signalled;
	} queue[VIRTIO_MAX_QUEUES];
	uint8_t config[VIRTIO_CONFIG_MAX];
	uint8_t broken;
	uint32_t extra_len;                /* the device's own state (ops->save) */
	uint8_t extra[VIRTIO_EXTRA_MAX];
};

/* Under d->lock (or with the device quiet): the state to save. */
void virtio_save(struct virtio_dev *d, struct virtio_state *st);
/* The saved state on a freshly added device of the same kind: 0, or -EINVAL with *why. */
int virtio_restore(struct virtio_dev *d, const struct virtio_state *st, const char **why);

/* Register a device at `base` on vm's MMIO bus, wire its kicks, start its thread. */
int virtio_mmio_add(struct virtio_dev *d, struct vm *vm, const struct virtio_dev_ops *ops,
		    void *priv, uint64_t base, struct irq_sink irq);
/* Stop the thread, unwire the kicks, leave the bus and release the eventfds (the device's
 * own state is the caller's). Only while no vCPU runs. */
void virtio_mmio_remove(struct virtio_dev *d);
/* The register handler (exposed for tests and the fuzzer). */
void virtio_mmio_access(struct virtio_dev *d, uint64_t off, uint8_t *data, uint32_t len,
			bool is_write);
/*
 * The virtio-pci transport (modern, virtio 1.x; pci.c): the same device core behind a PCI
 * function (vendor 0x1af4, device 0x1040 + the device ID) whose BAR 4 holds the common
 * configuration, the ISR, the device configuration, the notification area (one kick
 * eventfd per queue, KVM_IOEVENTFD) and the MSI-X table and PBA; INTx when MSI-X is off.
 * The platform (src/hvm/) says how its interrupts reach the guest.
 */
#define VIRTIO_PCI_BAR 4
#define VIRTIO_PCI_BAR_SIZE 0x4000u
#define VIRTIO_PCI_COMMON 0x0000u
#define VIRTIO_PCI_ISR 0x1000u
#define VIRTIO_PCI_DEVICE 0x2000u
#define VIRTIO_PCI_NOTIFY 0x3000u /* queue q at + 4 q */
#define VIRTIO_PCI_MSIX_TABLE 0x3800u
#define VIRTIO_PCI_MSIX_PBA 0x3c00u
#define VIRTIO_PCI_VECTORS (VIRTIO_MAX_QUEUES + 1)
#define VIRTIO_PCI_NO_VECTOR 0xffffu

struct virtio_pci_irq {
	void *opaque;
	void (*intx)(void *opaque, unsigned slot, bool level);
	/* MSI-X vector v now goes to (addr, data) (on), or nowhere (off). */
	void (*msi_route)(void *opaque, unsigned v, uint64_t addr, uint32_t data, bool on);
	void (*msi_fire)(void *opaque, unsigned v);
};

struct virtio_pci {
	struct virtio_dev *d;
	struct pci_host *host;
	struct pci_function fn;
	struct virtio_pci_irq irq;
	/* under d->lock */
	uint16_t config_vector, queue_vector[VIRTIO_MAX_QUEUES];
	struct {
		uint32_t addr_lo, addr_hi, data, ctrl;
	} msix[VIRTIO_PCI_VECTORS];
	uint32_t pba;
	bool msix_on, msix_masked, intx_level, intx_off;
	uint64_t notify_base; /* where the notification area decodes (its ioeventfds); 0: nowhere */
	bool added;
};

/*
 * virtio-pci's transport state for snapshots: the function's configuration space (BARs,
 * command, MSI-X enable and mask) and the MSI-X vectors, table and pending bits. The device
 * core's state (virtio_state) is saved beside it; INTx's level follows from both.
 */
struct virtio_pci_state {
	uint8_t cfg[256];
	uint32_t slot;
	uint16_t config_vector, queue_vector[VIRTIO_MAX_QUEUES];
	struct {
		uint32_t addr_lo, addr_hi, data, ctrl;
	} msix[VIRTIO_PCI_VECTORS];
	uint32_t pba;
	uint32_t pad;
};
/* With the device stopped (no vCPU runs). */
void virtio_pci_save(struct virtio_pci *vp, struct virtio_pci_state *st);
/*
 * The saved state on the same device freshly added (after virtio_restore): every field is
 * checked first (the slot, the configuration space's read-only bits, vector numbers, the
 * table) and nothing changes unless all pass; then the BARs decode where the state says, the
 * vectors are routed again and INTx is raised if it was. 0, or -EINVAL with *why.
 */
int virtio_pci_restore(struct virtio_pci *vp, const struct virtio_pci_state *st,
		       const char **why);

/* Put device d on the PCI host (a slot, BAR 4 assigned), wire its kicks, start its thread. */
int virtio_pci_add(struct virtio_pci *vp, struct virtio_dev *d, struct vm *vm,
		   struct pci_host *host, const struct virtio_dev_ops *ops, void *priv,
		   struct virtio_pci_irq irq);
/* Stop its thread, unwire, leave the bus. Only while no vCPU runs. */
void virtio_pci_remove(struct virtio_pci *vp);

/* Run queue q's handler now (device thread or a backend thread that has data). */
void virtio_kick(struct virtio_dev *d, unsigned q);
/*
 * The device's lifecycle within a boot (any thread but the device's): stop quiesces it (a
 * kick in progress finishes, later kicks wait, the backend does no host I/O: what a
 * paused or saved domain needs); start serves it again, every queue once over, so no kick
 * that came in between is lost. Devices start running; start is idempotent.
 */
int virtio_dev_start(struct virtio_dev *d);
void virtio_dev_stop(struct virtio_dev *d);

/*
 * A chain handler returns the bytes it wrote into the chain (the chain is then complete),
 * VIRTIO_CHAIN_ASYNC (the device took it and completes it later with virtio_complete and
 * virtio_flush_interrupt), VIRTIO_CHAIN_BUSY (no room now: the chain goes back to the ring
 * and the device calls virtio_requeue once it has room), or another negative value if the
 * chain is malformed (the device then needs a reset). The chain is only valid during the
 * call: an asynchronous device copies what it needs (iovecs, the status pointer).
 */
typedef int64_t (*virtio_chain_fn)(struct virtio_dev *d, unsigned q, const struct vq_chain *c);
#define VIRTIO_CHAIN_ASYNC (-1000000001ll)
#define VIRTIO_CHAIN_BUSY (-1000000002ll)

/*
 * The one drain/notify loop every device's queue goes through (virtio_drain): pop and hand
 * each available chain to `chain`, complete what it finished, call `flush` every `batch`
 * chains and at the end of a pass, tell the driver (interrupt) between passes so it can
 * refill, and before re-enabling notifications optionally busy-poll the ring for a short,
 * adaptive time (`poll`): a driver that refills quickly is served without a kick, one
 * that does not shrinks the window towards VIRTIO_POLL_MIN_NS. The budget and the
 * notification race (a buffer added while notifications are re-enabled) are handled here.
 */
struct virtio_server {
	virtio_chain_fn chain;
	/* Optional, d->lock held: start what `chain` queued (submit I/O) and complete what has
	 * finished. It may drop the lock around a system call; the loop checks the queue again
	 * after it (a reset or a stop may have come in between). */
	void (*flush)(struct virtio_dev *d, unsigned q);
	/* Optional, without d->lock: does `flush` have completions to deliver? (ends a poll) */
	bool (*ready)(struct virtio_dev *d);
	unsigned batch; /* chains between flushes; 0: one flush per pass */
	bool poll;      /* adaptive busy poll of an empty ring before notifications go back on */
};
#define VIRTIO_POLL_MIN_NS 2000u
#define VIRTIO_POLL_MAX_NS 50000u /* an exit costs about 50 us on the hosts we know */
/* d->lock held (it may be dropped and taken again inside: see flush and poll). */
void virtio_drain(struct virtio_dev *d, unsigned q, const struct virtio_server *s);
/*
 * The device just gave the driver something it answers (a received packet): the answer
 * tends to come within tens of microseconds. With the driver's kicks on queue q suppressed,
 * spin (without the lock) until it adds to q or the queue's window passes, then drain q
 * with s, which turns kicks back on. A caught answer costs the guest no exit and the device
 * no wake-up (vhost-net's busy loop, adaptive). The window starts at VIRTIO_POLL_MAX_NS,
 * halves on a miss and doubles on a catch; below VIRTIO_POLL_MIN_NS it rests for
 * VIRTIO_EXPECT_REST deliveries, then tries the largest again. d->lock held (dropped
 * while spinning).
 */
#define VIRTIO_EXPECT_REST 64u
void virtio_expect(struct virtio_dev *d, unsigned q, const struct virtio_server *s);
/* virtio_drain with a synchronous handler and nothing else: console, net transmit, rng. */
void virtio_serve(struct virtio_dev *d, unsigned q, virtio_chain_fn fn);

/*
 * Work one kick may do before the device thread goes back to its loop (where it sees a
 * stop request): a guest that queues much must not hold up the end of its domain.
 */
#define VIRTIO_SERVE_BUDGET VQ_MAX_SIZE
/* After serving `done` chains of a kick: true if the handler must return now (the domain
 * ended, or the budget is spent and the queue was requeued for the loop's next turn). */
bool virtio_should_yield(struct virtio_dev *d, unsigned q, unsigned done);
/* Serve queue q again on the device thread's next turn. */
void virtio_requeue(struct virtio_dev *d, unsigned q);

/* For device handlers (d->lock held). */
bool virtio_queue_usable(const struct virtio_dev *d, unsigned q);
void virtio_complete(struct virtio_dev *d, unsigned q, uint16_t head, uint32_t len);
void virtio_flush_interrupt(struct virtio_dev *d, unsigned q);
void virtio_config_changed(struct virtio_dev *d);
/* The guest broke the protocol: mark DEVICE_NEEDS_RESET, log why, tell the driver. */
void virtio_fail(struct virtio_dev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
