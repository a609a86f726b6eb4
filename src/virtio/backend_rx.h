/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A receive path shared by the console and the network device: a thread reads from a host
 * fd into one pending buffer, then hands it to the device under its lock; when the guest has
 * no buffers, the data waits until the driver kicks the receive queue.
 */
#ifndef CAPSULE_VIRTIO_BACKEND_RX_H
#define CAPSULE_VIRTIO_BACKEND_RX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capsule/virtio.h"

struct rx_pump {
	int fd;       /* host side: stdin, a TAP */
	int stop_fd;
	struct virtio_dev *dev;
	unsigned queue;
	/* Deliver pending data into the queue (d->lock held); true once it is consumed. */
	bool (*deliver)(struct virtio_dev *d, const uint8_t *buf, size_t len);
	uint8_t *buf;
	size_t cap, len; /* len > 0: pending, under dev->lock */
	bool eof;
	pthread_cond_t drained;
	pthread_t thread;
	bool started;
};

int rx_pump_start(struct rx_pump *p, struct virtio_dev *d, unsigned queue, int fd, size_t cap,
		  bool (*deliver)(struct virtio_dev *, const uint8_t *, size_t));
/* The receive queue was kicked (d->lock held): retry pending data. */
void rx_pump_retry(struct rx_pump *p);
void rx_pump_stop(struct rx_pump *p);

#endif
