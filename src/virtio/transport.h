/* SPDX-License-Identifier: Apache-2.0 */
/* Between the device core (device.c) and a transport (mmio.c, pci.c): nothing else uses these. */
#ifndef CAPSULE_VIRTIO_TRANSPORT_H
#define CAPSULE_VIRTIO_TRANSPORT_H

#include "capsule/virtio.h"

/* Transport and device feature bits offered to the driver. */
uint64_t virtio_offered(const struct virtio_dev *d);
/* Set an InterruptStatus bit and raise the device's interrupt. */
void virtio_raise(struct virtio_dev *d, uint32_t why);
/* The driver wrote the device status (0: reset; FEATURES_OK checked; DRIVER_OK). */
void virtio_set_status(struct virtio_dev *d, uint32_t v);
/* The driver wrote 0 to the status: back to the state after creation. */
void virtio_reset(struct virtio_dev *d);
/* QueueReady: map and check the queue's rings (or the device needs a reset). */
void virtio_queue_ready(struct virtio_dev *d, unsigned q, bool ready);
/* The device's event loop with a source per queue's kick eventfd (d->kick_fd set). */
int virtio_loop_setup(struct virtio_dev *d);
/* The thread that runs it. */
void *virtio_device_thread(void *arg);

#endif
