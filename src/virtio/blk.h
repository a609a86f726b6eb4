/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Between the virtio-blk device (blk.c: requests, options, config space) and its
 * asynchronous engine (blk_ring.c: io_uring, completions as they finish). Nothing else
 * uses these.
 */
#ifndef CAPSULE_VIRTIO_BLK_H
#define CAPSULE_VIRTIO_BLK_H

#include <liburing.h>
#include <sys/uio.h>

#include "capsule/devices.h"

/*
 * What one request may carry, told to the driver in the config space (seg_max, size_max):
 * a request over it fails with IOERR. Segments may overlap, so without these one request
 * could ask for terabytes of I/O and hold the device (and the end of the domain) for hours.
 */
#define BLK_SEG_MAX 126u
#define BLK_SIZE_MAX (128u << 10)
#define BLK_MAX_REQUEST ((uint64_t)BLK_SEG_MAX * BLK_SIZE_MAX)
/* Requests in flight per disk, all queues together, and the bytes they may move: a queue
 * that finds no room waits (VIRTIO_CHAIN_BUSY) until a completion frees some. */
#define BLK_SLOTS 128u
#define BLK_INFLIGHT_BYTES (64ull << 20)
#define BLK_MAX_QUEUES VIRTIO_BLK_MAX_QUEUES

/* One request the device took: what its completion needs, copied out of the chain. */
struct blk_slot {
	struct blk_request req;
	struct iovec iov[BLK_SEG_MAX + 2];
	unsigned niov;
	uint64_t expect;  /* bytes the I/O must move */
	uint32_t gen;     /* the device's generation when taken (a reset ends one) */
	uint16_t head, queue;
	uint8_t status;
	bool queued;      /* its I/O goes to io_uring (or, without one, runs synchronously) */
	bool taken;       /* off the free list */
};

struct blk_backend {
	int fd;           /* the image; O_DIRECT with direct=on */
	int buffered_fd;  /* the image through the page cache: fd, or for direct=on a second
			   * descriptor for what O_DIRECT refuses (misaligned guest buffers) */
	bool readonly, direct;
	unsigned queues;  /* num_queues offered */
	uint64_t size;
	char serial[VIRTIO_BLK_ID_BYTES];
	struct io_uring ring;
	bool have_ring;
	int cq_fd;                  /* the ring signals completions here ... */
	struct loop_source cq_src;  /* ... watched on the device's event loop */
	/* under the device's lock */
	uint32_t gen;
	unsigned inflight;          /* slots taken, completions not yet seen */
	unsigned unsubmitted;       /* of them, prepared but not yet given to the kernel */
	uint64_t inflight_bytes;
	uint8_t starved;            /* queues that found no room: served again on a completion */
	uint16_t nfree, free[BLK_SLOTS];
	struct blk_slot slots[BLK_SLOTS];
	struct dev_io io;           /* written by the device, read by the API: atomics */
};

/* blk_ring.c: set up the restricted ring and its completion eventfd; 0 or -errno. */
int blk_ring_setup(struct blk_backend *b);
void blk_ring_close(struct blk_backend *b);
/* d->lock held: start slot s's I/O (queued for the next blk_ring_flush). */
void blk_ring_queue(struct blk_backend *b, struct blk_slot *s);
/* d->lock held (dropped around the submission): submit what is queued, complete what has
 * finished. The virtio_server flush hook. */
void blk_ring_flush(struct virtio_dev *d, unsigned q);
/* Without the lock: completions are waiting (the adaptive poll's other exit). */
bool blk_ring_ready(struct virtio_dev *d);
/* d->lock held: complete everything in flight, waiting for it; to the driver of d (a stop,
 * a save: deliver), or dropped (a reset, the end: nobody waits for them any more). d is
 * NULL only once the device is gone (blk_close). */
void blk_ring_wait_idle(struct blk_backend *b, struct virtio_dev *d, bool deliver);
/* The completion eventfd's handler on the device's loop. */
void blk_ring_completed(struct loop *l, struct loop_source *src, uint32_t events);
/* Without io_uring: the same I/O, synchronously; the slot's status. */
uint8_t blk_sync_io(struct blk_backend *b, struct blk_slot *s);
/* blk.c: a finished slot (status set) to d's driver (none if d is NULL or the slot is from
 * before a reset), and the slot back to the pool. */
void blk_finish(struct blk_backend *b, struct virtio_dev *d, struct blk_slot *s);

#endif
