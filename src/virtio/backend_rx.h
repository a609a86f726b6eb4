/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A receive path shared by the console and the network device, served by the device's own
 * event loop (no thread of its own): when the host fd (stdin, a TAP) is readable, one read
 * fills the pending buffer and the device delivers it into the receive queue. While data is
 * pending (the guest has no buffers), the fd is not watched: input waits in the host (the
 * pipe, the TAP's queue) until the driver kicks the receive queue and the data is taken.
 * Back-pressure without a drop and without a thread blocked on a condition.
 *
 * A device that can read straight into the guest's buffers (the network: readv into the
 * chains) gives a pull function instead of a deliver function: on each wake-up the pump
 * pulls every ready item, up to RX_PUMP_BATCH, into as many buffers as the driver posted,
 * and raises one interrupt for the batch. No bounce buffer, no copy in the VMM.
 */
#ifndef CAPSULE_VIRTIO_BACKEND_RX_H
#define CAPSULE_VIRTIO_BACKEND_RX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capsule/loop.h"
#include "capsule/virtio.h"

struct rx_pump {
	struct loop_source src; /* fd: the host side; on dev->loop while watched */
	struct virtio_dev *dev;
	unsigned queue;
	/* Deliver pending data into the queue (d->lock held); true once it is consumed. */
	bool (*deliver)(struct virtio_dev *d, const uint8_t *buf, size_t len);
	/* Or move one item from fd into the queue itself (d->lock held): 1 moved, 0 the
	 * driver has no room (pull asked for its kick: the pump waits for it), -EAGAIN fd
	 * has nothing (or try again on the loop's next turn), other -errno: the host side
	 * ended. */
	int (*pull)(struct virtio_dev *d, int fd);
	/* Optional, with pull: a wake-up of the device's thread moved items (fewer than a
	 * batch) and raised their interrupt (d->lock held; it may drop it). The network
	 * waits here for the guest's answer. */
	void (*delivered)(struct virtio_dev *d, unsigned queue);
	uint8_t *buf;      /* cap bytes, from the first start until rx_pump_release */
	size_t cap, len;   /* all under dev->lock; len > 0: pending */
	unsigned moved;    /* what the last pull_batch moved */
	bool running;      /* between start and stop */
	bool watching;     /* src is on the loop */
	bool eof;          /* the host side ended: nothing more will come */
};

/* Begin receiving from fd into queue (any thread; d's loop may be running). 0 or -errno. */
int rx_pump_start(struct rx_pump *p, struct virtio_dev *d, unsigned queue, int fd, size_t cap,
		  bool (*deliver)(struct virtio_dev *, const uint8_t *, size_t));
/* Items one wake-up moves at most before the loop turns (kicks and stop are seen). */
#define RX_PUMP_BATCH 256u
/* The same with a pull function (no buffer of the pump's own). */
int rx_pump_start_pull(struct rx_pump *p, struct virtio_dev *d, unsigned queue, int fd,
		       int (*pull)(struct virtio_dev *, int));
/* The receive queue was kicked (d->lock held): deliver pending data, watch again. */
void rx_pump_retry(struct rx_pump *p);
/* Stop receiving (any thread); pending data stays for the next start. */
void rx_pump_stop(struct rx_pump *p);
/* Free the buffer: only once the device's loop no longer runs. */
void rx_pump_release(struct rx_pump *p);

#endif
