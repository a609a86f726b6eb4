/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk on a raw image file. All requests available at a kick are parsed, checked
 * against the disk size, and submitted to io_uring together; a flush is queued with
 * IOSQE_IO_DRAIN so that it starts after every write before it and completes only once
 * fdatasync has returned: an acknowledged flush survives the VMM being killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "capsule/devices.h"
#include "capsule/log.h"

#define BLK_BATCH 32
#define BLK_MAX_RANGES 16
#define BLK_MAX_RANGE_SECTORS (1u << 22)
/*
 * What one request may carry, told to the driver in the config space (seg_max, size_max):
 * a request over it fails with IOERR. Segments may overlap, so without these one request
 * could ask for terabytes of I/O and hold the device (and the end of the domain) for hours.
 */
#define BLK_SEG_MAX 126u
#define BLK_SIZE_MAX (128u << 10)
#define BLK_MAX_REQUEST ((uint64_t)BLK_SEG_MAX * BLK_SIZE_MAX)
/* A batch closes early once its requests move this much. */
#define BLK_BATCH_BYTES (64ull << 20)

struct blk_slot {
	struct vq_chain chain;
	struct blk_request req;
	struct iovec iov[VQ_MAX_SEGS];
	unsigned niov;
	uint64_t expect;  /* bytes the I/O must move */
	uint8_t status;
	bool queued;      /* its I/O goes to io_uring */
	bool in_flight;   /* submitted, its own completion not yet seen */
};

struct blk_backend {
	int fd;
	bool readonly;
	uint64_t size;
	char serial[VIRTIO_BLK_ID_BYTES];
	struct io_uring ring;
	bool have_ring;
	uint64_t batch;   /* tags completions, so a stray one is never taken for another */
	struct blk_slot slots[BLK_BATCH];
	struct dev_io io; /* written by the device thread, read by the API: atomics */
};

int blk_parse(const struct vq_chain *c, struct blk_request *r)
{
	struct virtio_blk_req_hdr h;

	memset(r, 0, sizeof(*r));
	if (c->out_bytes < sizeof(h) || c->in_bytes < 1)
		return -EINVAL;
	vq_copy_from(c, 0, &h, sizeof(h)); /* copied once: the guest may change it */
	r->type = h.type;
	r->sector = h.sector;
	for (unsigned i = c->nseg; i-- > 0;)
		if (c->seg[i].write && c->seg[i].len) {
			r->status = c->seg[i].ptr + c->seg[i].len - 1;
			break;
		}
	if (h.type == VIRTIO_BLK_T_IN || h.type == VIRTIO_BLK_T_GET_ID) {
		r->data_off = 0;
		r->data_len = c->in_bytes - 1;
	} else {
		r->data_off = sizeof(h);
		r->data_len = c->out_bytes - sizeof(h);
	}
	return r->status ? 0 : -EINVAL;
}

static bool in_disk(const struct blk_backend *b, uint64_t sector, uint64_t bytes)
{
	uint64_t sectors = b->size / VIRTIO_BLK_SECTOR;

	return sector <= sectors && bytes / VIRTIO_BLK_SECTOR <= sectors - sector &&
	       (sector + bytes / VIRTIO_BLK_SECTOR) * VIRTIO_BLK_SECTOR + bytes % VIRTIO_BLK_SECTOR
		       <= b->size;
}

/* Discard and write-zeroes: a list of ranges in the readable data. */
static uint8_t do_ranges(struct blk_backend *b, struct blk_slot *s)
{
	struct virtio_blk_discard_write_zeroes r;
	unsigned n = (unsigned)(s->req.data_len / sizeof(r));
	int mode = s->req.type == VIRTIO_BLK_T_DISCARD
			   ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
			   : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;

	if (b->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (n == 0 || n > BLK_MAX_RANGES || s->req.data_len % sizeof(r))
		return VIRTIO_BLK_S_UNSUPP;
	for (unsigned i = 0; i < n; i++) {
		vq_copy_from(&s->chain, s->req.data_off + i * sizeof(r), &r, sizeof(r));
		if (r.flags & ~1u || r.num_sectors > BLK_MAX_RANGE_SECTORS ||
		    !in_disk(b, r.sector, (uint64_t)r.num_sectors * VIRTIO_BLK_SECTOR))
			return VIRTIO_BLK_S_IOERR;
		if (fallocate(b->fd, mode, (off_t)(r.sector * VIRTIO_BLK_SECTOR),
			      (off_t)r.num_sectors * VIRTIO_BLK_SECTOR) < 0 &&
		    (mode & FALLOC_FL_ZERO_RANGE) &&
		    fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)(r.sector * VIRTIO_BLK_SECTOR),
			      (off_t)r.num_sectors * VIRTIO_BLK_SECTOR) < 0)
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/* Every data segment within size_max, and no more of them than seg_max. */
static bool segments_fit(const struct vq_chain *c)
{
	for (unsigned i = 0; i < c->nseg; i++)
		if (c->seg[i].len > BLK_SIZE_MAX)
			return false;
	return c->nseg <= BLK_SEG_MAX + 2;
}

/* Decide a request: finish it now (status set), or prepare its I/O (queued). */
static void prepare(struct blk_backend *b, struct blk_slot *s)
{
	struct blk_request *r = &s->req;
	bool rw = r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT;

	s->queued = false;
	s->status = VIRTIO_BLK_S_OK;
	if (rw && (r->data_len % VIRTIO_BLK_SECTOR || r->data_len > BLK_MAX_REQUEST ||
		   !in_disk(b, r->sector, r->data_len) || !segments_fit(&s->chain))) {
		s->status = VIRTIO_BLK_S_IOERR;
		return;
	}
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (r->type == VIRTIO_BLK_T_OUT && b->readonly) {
			s->status = VIRTIO_BLK_S_IOERR;
			return;
		}
		s->niov = vq_iovecs(&s->chain, r->type == VIRTIO_BLK_T_IN, r->data_off,
				    r->data_len, s->iov);
		s->expect = r->data_len;
		s->queued = true;
		break;
	case VIRTIO_BLK_T_FLUSH:
		s->expect = 0;
		s->queued = !b->readonly;
		break;
	case VIRTIO_BLK_T_GET_ID:
		vq_copy_to(&s->chain, 0, b->serial,
			   r->data_len < VIRTIO_BLK_ID_BYTES ? r->data_len : VIRTIO_BLK_ID_BYTES);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		s->status = do_ranges(b, s);
		break;
	default:
		s->status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
}

static void submit_one(struct blk_backend *b, struct blk_slot *s, unsigned idx)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
	off_t off = (off_t)(s->req.sector * VIRTIO_BLK_SECTOR);

	if (s->req.type == VIRTIO_BLK_T_IN)
		io_uring_prep_readv(sqe, b->fd, s->iov, s->niov, off);
	else if (s->req.type == VIRTIO_BLK_T_OUT)
		io_uring_prep_writev(sqe, b->fd, s->iov, s->niov, off);
	else
		io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
	if (s->req.type == VIRTIO_BLK_T_FLUSH)
		sqe->flags |= IOSQE_IO_DRAIN; /* after every write submitted before it */
	io_uring_sqe_set_data64(sqe, b->batch * BLK_BATCH + idx);
}

/*
 * The ring can do only what a disk does: readv, writev and fsync on our image, with no
 * flag but IO_DRAIN. io_uring runs its requests without seccomp, so an unrestricted ring
 * would let a thread that reaches it open, write or connect anything (the restrictions
 * are set while the ring is disabled, and are final once it is enabled).
 */
static int ring_setup(struct blk_backend *b)
{
	struct io_uring_restriction r[] = {
		{.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READV},
		{.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_WRITEV},
		{.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FSYNC},
		{.opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED, .sqe_flags = IOSQE_IO_DRAIN},
	};
	int rc = io_uring_queue_init(BLK_BATCH * 2, &b->ring, IORING_SETUP_R_DISABLED);

	if (rc)
		return rc;
	/* The system call itself: Debian's liburing.so does not export these two helpers. */
	rc = (int)syscall(__NR_io_uring_register, b->ring.ring_fd, IORING_REGISTER_RESTRICTIONS,
			  r, sizeof(r) / sizeof(r[0]));
	if (!rc)
		rc = (int)syscall(__NR_io_uring_register, b->ring.ring_fd,
				  IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	rc = rc < 0 ? -errno : 0;
	if (rc)
		io_uring_queue_exit(&b->ring);
	return rc;
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
 * Finish a read or write of which `done` bytes moved: the kernel may move less than asked
 * (2 GiB at most per call, or a signal), and a request is acknowledged only once all of it
 * is on the image. A call that moves nothing is an error.
 */
static uint8_t finish_rw(struct blk_backend *b, struct blk_slot *s, uint64_t done)
{
	off_t off = (off_t)(s->req.sector * VIRTIO_BLK_SECTOR);
	uint64_t moved = done; /* not yet dropped from the iovecs */

	while (done < s->expect) {
		ssize_t n;

		s->niov = iov_advance(s->iov, s->niov, moved);
		moved = 0;
		if (s->req.type == VIRTIO_BLK_T_IN)
			n = preadv(b->fd, s->iov, (int)s->niov, off + (off_t)done);
		else
			n = pwritev(b->fd, s->iov, (int)s->niov, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return VIRTIO_BLK_S_IOERR;
		done += (uint64_t)n;
		moved = (uint64_t)n;
	}
	return VIRTIO_BLK_S_OK;
}

/* A completion of `res` bytes (or -errno) for slot s. */
static void complete_io(struct blk_backend *b, struct blk_slot *s, int64_t res)
{
	if (res < 0)
		s->status = VIRTIO_BLK_S_IOERR;
	else if (s->req.type == VIRTIO_BLK_T_FLUSH)
		s->status = VIRTIO_BLK_S_OK;
	else
		s->status = finish_rw(b, s, (uint64_t)res);
	if (s->status == VIRTIO_BLK_S_OK && s->req.type == VIRTIO_BLK_T_IN) {
		__atomic_fetch_add(&b->io.rd_bytes, s->expect, __ATOMIC_RELAXED);
		__atomic_fetch_add(&b->io.rd_reqs, 1, __ATOMIC_RELAXED);
	} else if (s->status == VIRTIO_BLK_S_OK && s->req.type == VIRTIO_BLK_T_OUT) {
		__atomic_fetch_add(&b->io.wr_bytes, s->expect, __ATOMIC_RELAXED);
		__atomic_fetch_add(&b->io.wr_reqs, 1, __ATOMIC_RELAXED);
	}
}

void blk_io(const struct blk_backend *b, struct dev_io *out)
{
	out->rd_bytes = __atomic_load_n(&b->io.rd_bytes, __ATOMIC_RELAXED);
	out->wr_bytes = __atomic_load_n(&b->io.wr_bytes, __ATOMIC_RELAXED);
	out->rd_reqs = __atomic_load_n(&b->io.rd_reqs, __ATOMIC_RELAXED);
	out->wr_reqs = __atomic_load_n(&b->io.wr_reqs, __ATOMIC_RELAXED);
}

/* Without io_uring (or if it fails): the same I/O, synchronously. */
static void do_sync(struct blk_backend *b, struct blk_slot *s)
{
	if (s->req.type == VIRTIO_BLK_T_FLUSH)
		complete_io(b, s, fdatasync(b->fd) < 0 ? -errno : 0);
	else
		complete_io(b, s, 0);
}

/* The ring is in an unknown state: tearing it down waits for everything in flight. */
static void ring_reset(struct blk_backend *b, const char *why)
{
	log_warn("virtio-blk: io_uring %s; starting a new ring", why);
	io_uring_queue_exit(&b->ring);
	b->have_ring = ring_setup(b) == 0;
}

/*
 * Submit the batch and wait for exactly its completions. A signal (a shell's SIGSTOP and
 * SIGCONT, a debugger) interrupts the waits with -EINTR: they are simply retried. Each
 * completion names its batch and slot; one from another batch is dropped, and a slot
 * counts as done only with its own completion, so nothing is acknowledged early.
 */
static void run_batch(struct blk_backend *b, unsigned n)
{
	unsigned queued = 0, submitted = 0;
	int rc;

	b->batch++;
	for (unsigned i = 0; i < n; i++)
		if (b->slots[i].queued) {
			if (b->have_ring) {
				submit_one(b, &b->slots[i], i);
				b->slots[i].in_flight = true;
			} else {
				do_sync(b, &b->slots[i]);
			}
			queued++;
		}
	if (!b->have_ring || !queued)
		return;
	while (submitted < queued) {
		rc = io_uring_submit(&b->ring);
		if (rc == -EINTR || rc == -EAGAIN)
			continue;
		if (rc <= 0) {
			ring_reset(b, "submit failed");
			break;
		}
		submitted += (unsigned)rc;
	}
	while (queued) {
		struct io_uring_cqe *cqe;
		uint64_t tag;
		struct blk_slot *s;
		int64_t res;

		rc = io_uring_wait_cqe(&b->ring, &cqe);
		if (rc == -EINTR)
			continue;
		if (rc < 0) {
			ring_reset(b, "wait failed");
			break;
		}
		tag = io_uring_cqe_get_data64(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&b->ring, cqe);
		s = &b->slots[tag % BLK_BATCH];
		if (tag / BLK_BATCH != b->batch || !s->in_flight)
			continue; /* not this batch's: a leftover of one that was reset */
		s->in_flight = false;
		complete_io(b, s, res);
		queued--;
	}
	for (unsigned i = 0; i < n; i++) /* lost with a reset ring: failed, not done */
		if (b->slots[i].in_flight) {
			b->slots[i].in_flight = false;
			b->slots[i].status = VIRTIO_BLK_S_IOERR;
		}
}

static void blk_notify(struct virtio_dev *d, unsigned q)
{
	struct blk_backend *b = d->priv;
	const char *why = NULL;
	unsigned served = 0;
	int r = 0;

	do {
		for (;;) {
			uint64_t bytes = 0;
			unsigned n = 0;

			while (n < BLK_BATCH && bytes < BLK_BATCH_BYTES &&
			       (r = vq_pop(&d->vq[q], d->mem, &b->slots[n].chain, &why)) > 0) {
				struct blk_slot *s = &b->slots[n++];

				if (blk_parse(&s->chain, &s->req) < 0) {
					r = -EINVAL;
					why = "request without header or status byte";
					n--;
					break;
				}
				prepare(b, s);
				if (s->queued)
					bytes += s->expect;
			}
			run_batch(b, n);
			for (unsigned i = 0; i < n; i++) {
				struct blk_slot *s = &b->slots[i];
				uint32_t len = 1;

				*s->req.status = s->status;
				if (s->req.type == VIRTIO_BLK_T_IN && s->status == VIRTIO_BLK_S_OK)
					len += (uint32_t)s->req.data_len;
				else if (s->req.type == VIRTIO_BLK_T_GET_ID)
					len += s->req.data_len < VIRTIO_BLK_ID_BYTES
						       ? (uint32_t)s->req.data_len
						       : VIRTIO_BLK_ID_BYTES;
				virtio_complete(d, q, s->chain.head, len);
			}
			if (r < 0) {
				virtio_flush_interrupt(d, q);
				virtio_fail(d, "queue %u: %s", q, why);
				return;
			}
			virtio_flush_interrupt(d, q); /* let the driver refill while we go on */
			served += n;
			if (n && virtio_should_yield(d, q, served))
				return;
			if (n < BLK_BATCH && bytes < BLK_BATCH_BYTES)
				break;
		}
	} while (vq_enable_notify(&d->vq[q]));
	virtio_flush_interrupt(d, q);
}

const struct virtio_dev_ops virtio_blk_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = 1,
	.features = (1ull << VIRTIO_BLK_F_SIZE_MAX) | (1ull << VIRTIO_BLK_F_SEG_MAX) |
		    (1ull << VIRTIO_BLK_F_BLK_SIZE) |
		    (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_DISCARD) |
		    (1ull << VIRTIO_BLK_F_WRITE_ZEROES),
	.config_size = sizeof(struct virtio_blk_config),
	.queue_notify = blk_notify,
};

/* The id is 20 bytes, NUL-terminated only when shorter (virtio spec 5.2.6). */
static void set_serial(struct blk_backend *b, const char *s)
{
	size_t n = strlen(s);

	memset(b->serial, 0, sizeof(b->serial));
	memcpy(b->serial, s, n < sizeof(b->serial) ? n : sizeof(b->serial));
}

/*
 * An open-file-description lock on the whole image, as QEMU takes: exclusive for a
 * read-write disk, shared for a read-only one, so two domains can never both write one
 * image, nor one write what another reads. It goes with the descriptor.
 */
static int lock_image(int fd, bool readonly)
{
	struct flock fl = {.l_type = readonly ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET};

	return fcntl(fd, F_OFD_SETLK, &fl);
}

int blk_hand_over(struct blk_backend *b, bool release)
{
	struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};

	if (b->readonly) /* a shared lock: the destination takes one too */
		return 0;
	if (release)
		return fcntl(b->fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
	return lock_image(b->fd, false) < 0 ? -errno : 0;
}

struct blk_backend *blk_open(const char *spec, char *err, size_t errlen)
{
	uint64_t size;
	char path[4096], *opt, *save = NULL;
	struct blk_backend *b;
	struct stat st;

	if (snprintf(path, sizeof(path), "%s", spec) >= (int)sizeof(path)) {
		snprintf(err, errlen, "--disk: path too long");
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "--disk: out of memory");
		return NULL;
	}
	b->fd = -1;
	strtok_r(path, ",", &save);
	while ((opt = strtok_r(NULL, ",", &save))) {
		if (!strcmp(opt, "readonly") || !strcmp(opt, "ro")) {
			b->readonly = true;
		} else if (!strncmp(opt, "serial=", 7)) {
			set_serial(b, opt + 7);
		} else {
			snprintf(err, errlen, "--disk: unknown option '%s' (readonly, serial=ID)",
				 opt);
			goto fail;
		}
	}
	b->fd = open(path, (b->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b->fd < 0 || fstat(b->fd, &st) < 0) {
		snprintf(err, errlen, "--disk: cannot open %s: %s", path, strerror(errno));
		goto fail;
	}
	size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(b->fd, BLKGETSIZE64, &size) < 0)
		size = 0;
	if ((!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) || size < VIRTIO_BLK_SECTOR) {
		snprintf(err, errlen, "--disk: %s is not a regular file or block device of at "
			 "least 512 bytes", path);
		goto fail;
	}
	if (lock_image(b->fd, b->readonly) < 0) {
		snprintf(err, errlen, "--disk: %s is in use by another domain (%s); two domains "
			 "may share an image only read-only", path,
			 b->readonly ? "open read-write" : "locked");
		goto fail;
	}
	b->size = size & ~(uint64_t)(VIRTIO_BLK_SECTOR - 1);
	if (!b->serial[0]) {
		const char *base = strrchr(path, '/');

		set_serial(b, base ? base + 1 : path);
	}
	b->have_ring = ring_setup(b) == 0;
	if (!b->have_ring)
		log_info("virtio-blk: io_uring unavailable; using synchronous I/O");
	return b;
fail:
	blk_close(b);
	return NULL;
}

void blk_init_config(struct blk_backend *b, struct virtio_dev *d)
{
	struct virtio_blk_config c = {
		.capacity = b->size / VIRTIO_BLK_SECTOR,
		.size_max = BLK_SIZE_MAX,
		.seg_max = BLK_SEG_MAX,
		.blk_size = VIRTIO_BLK_SECTOR,
		.max_discard_sectors = BLK_MAX_RANGE_SECTORS,
		.max_discard_seg = BLK_MAX_RANGES,
		.discard_sector_alignment = 1,
		.max_write_zeroes_sectors = BLK_MAX_RANGE_SECTORS,
		.max_write_zeroes_seg = BLK_MAX_RANGES,
	};

	memcpy(d->config, &c, sizeof(c));
	if (b->readonly)
		d->host_features |= 1ull << VIRTIO_BLK_F_RO;
}

void blk_close(struct blk_backend *b)
{
	if (!b)
		return;
	if (b->have_ring)
		io_uring_queue_exit(&b->ring);
	if (b->fd >= 0)
		close(b->fd);
	free(b);
}
