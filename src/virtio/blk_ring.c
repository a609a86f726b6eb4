/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk's asynchronous engine (the shapes of bhyve's pci_vtblk_done and Firecracker's
 * async io engine): a request the device takes goes into the io_uring submission queue;
 * the device's drain loop submits each batch with the device lock dropped, and every
 * completion is handed back to the driver as soon as it is seen, in the order the I/O
 * finished, by whoever holds the lock next: the drain loop right after a submission, the
 * ring's completion eventfd on the device's event loop, or a reset or stop that waits for
 * the requests in flight (no I/O may touch guest memory after a reset, nor be lost by a
 * save). A completion names its slot and the device's generation, so one from before a
 * reset never reaches the driver's new rings.
 */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "blk.h"
#include "capsule/log.h"
#include "capsule/vm.h"

#define TAG(s, gen, idx) (((uint64_t)(gen) << 16) | (idx))
#define TAG_SLOT(t) ((unsigned)((t) & 0xffff))

/*
 * The ring can do only what a disk does: readv, writev and fsync on our image, with no
 * flag but IO_DRAIN. io_uring runs its requests without seccomp, so an unrestricted ring
 * would let a thread that reaches it open, write or connect anything (the restrictions
 * are set while the ring is disabled, and are final once it is enabled). Completions
 * signal an eventfd, registered before the ring is enabled.
 */
int blk_ring_setup(struct blk_backend *b)
{
	struct io_uring_restriction r[] = {
		{.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READV},
		{.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_WRITEV},
		{.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FSYNC},
		{.opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED, .sqe_flags = IOSQE_IO_DRAIN},
	};
	int rc = io_uring_queue_init(BLK_SLOTS, &b->ring, IORING_SETUP_R_DISABLED);

	if (rc)
		return rc;
	b->cq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	rc = b->cq_fd < 0 ? -errno : io_uring_register_eventfd(&b->ring, b->cq_fd);
	/* The system call itself: Debian's liburing.so does not export these two helpers. */
	if (!rc && syscall(__NR_io_uring_register, b->ring.ring_fd, IORING_REGISTER_RESTRICTIONS,
			   r, sizeof(r) / sizeof(r[0])) < 0)
		rc = -errno;
	if (!rc && syscall(__NR_io_uring_register, b->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS,
			   NULL, 0) < 0)
		rc = -errno;
	if (rc) {
		if (b->cq_fd >= 0)
			close(b->cq_fd);
		b->cq_fd = -1;
		io_uring_queue_exit(&b->ring);
	}
	return rc;
}

void blk_ring_close(struct blk_backend *b)
{
	if (b->have_ring || b->cq_fd >= 0) /* the ring outlives a failure: see ring_broken */
		io_uring_queue_exit(&b->ring);
	if (b->cq_fd >= 0)
		close(b->cq_fd);
	b->cq_fd = -1;
	b->have_ring = false;
}

int blk_ring_try_op(struct blk_backend *b, uint8_t opcode)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int rc;

	if (!b->have_ring || !(sqe = io_uring_get_sqe(&b->ring)))
		return -ENODEV;
	io_uring_prep_nop(sqe);
	sqe->opcode = opcode;
	sqe->fd = -1;
	io_uring_sqe_set_data64(sqe, ~0ull);
	rc = io_uring_submit_and_wait(&b->ring, 1);
	if (rc < 0)
		return rc;
	rc = io_uring_wait_cqe(&b->ring, &cqe);
	if (rc < 0)
		return rc;
	rc = cqe->res;
	io_uring_cqe_seen(&b->ring, cqe);
	return rc;
}

/*
 * The ring failed in a way a guest cannot cause (the kernel refused a submission): new
 * requests go synchronously; the ring itself stays until blk_close, as the kernel may still
 * complete what it holds.
 */
static void ring_broken(struct blk_backend *b, int err)
{
	if (b->have_ring)
		log_warn("virtio-blk: io_uring failed (%s); using synchronous I/O", strerror(-err));
	b->have_ring = false;
}

void blk_ring_queue(struct blk_backend *b, struct blk_slot *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
	off_t off = (off_t)(s->req.sector * VIRTIO_BLK_SECTOR);
	unsigned idx = (unsigned)(s - b->slots);

	if (!sqe) { /* cannot happen: the ring has a submission entry per slot */
		blk_finish(b, NULL, s);
		return;
	}
	if (s->req.type == VIRTIO_BLK_T_IN)
		io_uring_prep_readv(sqe, b->fd, s->iov, s->niov, off);
	else if (s->req.type == VIRTIO_BLK_T_OUT)
		io_uring_prep_writev(sqe, b->fd, s->iov, s->niov, off);
	else
		io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
	if (s->req.type == VIRTIO_BLK_T_FLUSH)
		sqe->flags |= IOSQE_IO_DRAIN; /* after every write submitted before it */
	io_uring_sqe_set_data64(sqe, TAG(s, s->gen, idx));
	b->unsubmitted++;
}

/* Drop the first `n` bytes from an iovec array; returns the new count. */
static unsigned iov_advance(struct iovec *iov, unsigned niov, uint64_t n)
{
	unsigned i = 0;

	while (i < niov && n >= iov[i].iov_len)
		n -= iov[i++].iov_len;
	if (i < niov) {
		iov[i].iov_base = (uint8_t *)iov[i].iov_base + n;
		iov[i].iov_len -= n;
	}
	memmove(iov, iov + i, (niov - i) * sizeof(*iov));
	return niov - i;
}

/*
 * Finish a read or write of which `done` bytes moved, on fd: the kernel may move less than
 * asked (2 GiB at most per call, or a signal), and a request is acknowledged only once all
 * of it is on the image. A call that moves nothing is an error.
 */
static uint8_t finish_rw(struct blk_slot *s, int fd, uint64_t done)
{
	off_t off = (off_t)(s->req.sector * VIRTIO_BLK_SECTOR);
	uint64_t moved = done; /* not yet dropped from the iovecs */

	while (done < s->expect) {
		ssize_t n;

		s->niov = iov_advance(s->iov, s->niov, moved);
		moved = 0;
		if (s->req.type == VIRTIO_BLK_T_IN)
			n = preadv(fd, s->iov, (int)s->niov, off + (off_t)done);
		else
			n = pwritev(fd, s->iov, (int)s->niov, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return VIRTIO_BLK_S_IOERR;
		done += (uint64_t)n;
		moved = (uint64_t)n;
	}
	return VIRTIO_BLK_S_OK;
}

/* A completion of `res` bytes (or -errno) for slot s: its status, and the accounting. */
static void complete_io(struct blk_backend *b, struct blk_slot *s, int64_t res)
{
	if (res == -EINVAL && b->direct && s->req.type != VIRTIO_BLK_T_FLUSH)
		/* O_DIRECT refused the guest's buffers (not aligned as the host's disk wants):
		 * the same request through the page cache. */
		s->status = finish_rw(s, b->buffered_fd, 0);
	else if (res < 0)
		s->status = VIRTIO_BLK_S_IOERR;
	else if (s->req.type == VIRTIO_BLK_T_FLUSH)
		s->status = VIRTIO_BLK_S_OK;
	else
		s->status = finish_rw(s, b->fd, (uint64_t)res);
	if (s->status == VIRTIO_BLK_S_OK && s->req.type == VIRTIO_BLK_T_IN) {
		__atomic_fetch_add(&b->io.rd_bytes, s->expect, __ATOMIC_RELAXED);
		__atomic_fetch_add(&b->io.rd_reqs, 1, __ATOMIC_RELAXED);
	} else if (s->status == VIRTIO_BLK_S_OK && s->req.type == VIRTIO_BLK_T_OUT) {
		__atomic_fetch_add(&b->io.wr_bytes, s->expect, __ATOMIC_RELAXED);
		__atomic_fetch_add(&b->io.wr_reqs, 1, __ATOMIC_RELAXED);
	}
}

uint8_t blk_sync_io(struct blk_backend *b, struct blk_slot *s)
{
	complete_io(b, s, s->req.type == VIRTIO_BLK_T_FLUSH && fdatasync(b->fd) < 0 ? -errno : 0);
	return s->status;
}

/*
 * Every completion the ring holds, to the driver of d (NULL: dropped) in the order they
 * came; then the interrupts, and the queues that waited for room are served again.
 */
static void reap(struct blk_backend *b, struct virtio_dev *d)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0, touched = 0;

	io_uring_for_each_cqe(&b->ring, head, cqe) {
		struct blk_slot *s = &b->slots[TAG_SLOT(cqe->user_data) % BLK_SLOTS];

		seen++;
		if (TAG_SLOT(cqe->user_data) >= BLK_SLOTS || !s->taken ||
		    cqe->user_data != TAG(s, s->gen, (unsigned)(s - b->slots)))
			continue; /* not a request's (blk_ring_try_op's) */
		complete_io(b, s, cqe->res);
		touched |= 1u << s->queue;
		blk_finish(b, d, s);
	}
	io_uring_cq_advance(&b->ring, seen);
	for (unsigned q = 0; d && q < BLK_MAX_QUEUES; q++)
		if (touched & (1u << q) && virtio_queue_usable(d, q))
			virtio_flush_interrupt(d, q);
	for (unsigned q = 0; d && b->starved && b->nfree && q < BLK_MAX_QUEUES; q++)
		if (b->starved & (1u << q)) {
			b->starved &= (uint8_t)~(1u << q);
			virtio_requeue(d, q);
		}
}

void blk_ring_flush(struct virtio_dev *d, unsigned q)
{
	struct blk_backend *b = d->priv;
	unsigned n = b->unsubmitted;
	int rc = 0;

	(void)q;
	if (!n || !b->have_ring)
		goto done; /* completions may still wait (the adaptive poll saw them) */
	b->unsubmitted = 0;
	/* The submission (where the kernel may copy a cached read at once) runs without the
	 * lock: the vCPUs' register accesses and a reset do not wait for it. Only this thread
	 * touches the submission queue; the completion queue is read under the lock. */
	pthread_mutex_unlock(&d->lock);
	while (n) {
		rc = io_uring_submit(&b->ring);
		if (rc == -EINTR || rc == -EAGAIN || rc == -EBUSY)
			continue;
		if (rc <= 0)
			break;
		n -= (unsigned)rc < n ? (unsigned)rc : n;
	}
	pthread_mutex_lock(&d->lock);
	if (n)
		ring_broken(b, rc < 0 ? rc : -EIO);
done:
	if (b->inflight)
		reap(b, d);
}

bool blk_ring_ready(struct virtio_dev *d)
{
	struct blk_backend *b = d->priv;

	return b->have_ring && io_uring_cq_ready(&b->ring);
}

void blk_ring_completed(struct loop *l, struct loop_source *src, uint32_t events)
{
	struct virtio_dev *d = src->opaque;
	struct blk_backend *b = d->priv;
	uint64_t count;

	(void)l, (void)events;
	if (read(src->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&d->lock);
	if (b->inflight)
		reap(b, d);
	pthread_mutex_unlock(&d->lock);
}

void blk_ring_wait_idle(struct blk_backend *b, struct virtio_dev *d, bool deliver)
{
	unsigned quiet = 0;

	while (b->inflight) {
		struct __kernel_timespec ts = {.tv_nsec = 100000000};
		struct io_uring_cqe *cqe;
		int rc = io_uring_wait_cqe_timeout(&b->ring, &cqe, &ts);

		if (rc == 0) {
			reap(b, deliver ? d : NULL);
			quiet = 0;
			continue;
		}
		if (rc == -EINTR)
			continue;
		/* A vCPU's reset while the domain ends: the teardown's reset (the device thread
		 * gone) waits instead, before the guest's memory goes. */
		if (d && !deliver && d->thread_started && vm_ended(d->vm))
			break;
		/* Nothing for 100 ms. Let the device thread in: it may be submitting these. */
		if (d) {
			pthread_mutex_unlock(&d->lock);
			pthread_mutex_lock(&d->lock);
		}
		if (++quiet < 50 || b->have_ring)
			continue;
		/* A broken ring for 5 s: what it held is lost, and failed. */
		for (unsigned i = 0; i < BLK_SLOTS; i++)
			if (b->slots[i].taken) {
				b->slots[i].status = VIRTIO_BLK_S_IOERR;
				blk_finish(b, deliver ? d : NULL, &b->slots[i]);
			}
		b->unsubmitted = 0;
	}
}
