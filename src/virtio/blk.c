/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk on a raw image file. Each request is parsed, checked against the disk size and
 * taken into a slot; reads, writes and flushes go to io_uring and complete as they finish
 * (blk_ring.c), everything else completes at once. A flush is queued with IOSQE_IO_DRAIN so
 * that it starts after every write before it and completes only once fdatasync has
 * returned: an acknowledged flush survives the VMM being killed. Options: read-only,
 * O_DIRECT (direct=on), up to four queues (queues=N, VIRTIO_BLK_F_MQ).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk.h"
#include "capsule/log.h"

#define BLK_MAX_RANGES 16
#define BLK_MAX_RANGE_SECTORS (1u << 22)
#define BLK_BATCH 32 /* requests per submission */

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
static uint8_t do_ranges(struct blk_backend *b, struct blk_slot *s, const struct vq_chain *c)
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
		vq_copy_from(c, s->req.data_off + i * sizeof(r), &r, sizeof(r));
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
static void prepare(struct blk_backend *b, struct blk_slot *s, const struct vq_chain *c)
{
	struct blk_request *r = &s->req;
	bool rw = r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT;

	s->queued = false;
	s->expect = 0;
	s->status = VIRTIO_BLK_S_OK;
	if (rw && (r->data_len % VIRTIO_BLK_SECTOR || r->data_len > BLK_MAX_REQUEST ||
		   !in_disk(b, r->sector, r->data_len) || !segments_fit(c))) {
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
		s->niov = vq_iovecs(c, r->type == VIRTIO_BLK_T_IN, r->data_off,
				    r->data_len, s->iov);
		s->expect = r->data_len;
		s->queued = true;
		break;
	case VIRTIO_BLK_T_FLUSH:
		s->expect = 0;
		s->queued = !b->readonly;
		break;
	case VIRTIO_BLK_T_GET_ID:
		vq_copy_to(c, 0, b->serial,
			   r->data_len < VIRTIO_BLK_ID_BYTES ? r->data_len : VIRTIO_BLK_ID_BYTES);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		s->status = do_ranges(b, s, c);
		break;
	default:
		s->status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
}

void blk_io(const struct blk_backend *b, struct dev_io *out)
{
	out->rd_bytes = __atomic_load_n(&b->io.rd_bytes, __ATOMIC_RELAXED);
	out->wr_bytes = __atomic_load_n(&b->io.wr_bytes, __ATOMIC_RELAXED);
	out->rd_reqs = __atomic_load_n(&b->io.rd_reqs, __ATOMIC_RELAXED);
	out->wr_reqs = __atomic_load_n(&b->io.wr_reqs, __ATOMIC_RELAXED);
}

/* Bytes the driver gets back in the chain: the status byte, and the data of a read. */
static uint32_t used_len(const struct blk_slot *s)
{
	if (s->req.type == VIRTIO_BLK_T_IN && s->status == VIRTIO_BLK_S_OK)
		return 1 + (uint32_t)s->req.data_len;
	if (s->req.type == VIRTIO_BLK_T_GET_ID)
		return 1 + (s->req.data_len < VIRTIO_BLK_ID_BYTES ? (uint32_t)s->req.data_len
								    : VIRTIO_BLK_ID_BYTES);
	return 1;
}

void blk_finish(struct blk_backend *b, struct virtio_dev *d, struct blk_slot *s)
{
	if (d && s->gen == b->gen && virtio_queue_usable(d, s->queue)) {
		*s->req.status = s->status;
		virtio_complete(d, s->queue, s->head, used_len(s));
	}
	s->taken = false;
	b->inflight--;
	b->inflight_bytes -= s->expect;
	b->free[b->nfree++] = (uint16_t)(s - b->slots);
}

/* The queues the driver may use: num_queues once it took VIRTIO_BLK_F_MQ, else one. */
static unsigned queues_in_use(const struct virtio_dev *d, const struct blk_backend *b)
{
	return d->driver_features & (1ull << VIRTIO_BLK_F_MQ) ? b->queues : 1;
}

/* The drain loop's handler: finish a request now, or take it for io_uring. */
static int64_t blk_chain(struct virtio_dev *d, unsigned q, const struct vq_chain *c)
{
	struct blk_backend *b = d->priv;
	struct blk_request r;
	struct blk_slot *s;

	if (blk_parse(c, &r) < 0)
		return -EINVAL;
	if (!b->nfree || (b->inflight && b->inflight_bytes + r.data_len > BLK_INFLIGHT_BYTES)) {
		b->starved |= (uint8_t)(1u << q); /* a completion serves the queue again */
		return VIRTIO_CHAIN_BUSY;
	}
	s = &b->slots[b->free[--b->nfree]];
	s->req = r;
	s->head = c->head;
	s->queue = (uint16_t)q;
	s->gen = b->gen;
	s->taken = true;
	prepare(b, s, c);
	b->inflight++;
	b->inflight_bytes += s->expect;
	if (s->queued && b->have_ring) {
		blk_ring_queue(b, s);
		return VIRTIO_CHAIN_ASYNC;
	}
	if (s->queued)
		blk_sync_io(b, s);
	*s->req.status = s->status;
	{
		uint32_t len = used_len(s);

		blk_finish(b, NULL, s);
		return len;
	}
}

static void blk_notify(struct virtio_dev *d, unsigned q)
{
	static const struct virtio_server server = {
		.chain = blk_chain,
		.flush = blk_ring_flush,
		.ready = blk_ring_ready,
		.batch = BLK_BATCH,
		.poll = true,
	};
	struct blk_backend *b = d->priv;

	if (q >= queues_in_use(d, b)) {
		virtio_fail(d, "queue %u is past the %u the driver may use", q, queues_in_use(d, b));
		return;
	}
	virtio_drain(d, q, &server);
}

/* The driver reset the device (or it goes): wait for what is in flight, drop it. */
static void blk_reset(struct virtio_dev *d)
{
	struct blk_backend *b = d->priv;

	b->gen++;
	blk_ring_wait_idle(b, d, false);
	b->starved = 0;
}

/* A pause or a save: every request in flight completes to the driver first. */
static void blk_stop(struct virtio_dev *d)
{
	struct blk_backend *b = d->priv;

	pthread_mutex_lock(&d->lock);
	blk_ring_wait_idle(b, d, true);
	pthread_mutex_unlock(&d->lock);
}

/* The device's own state: how many queues it offers (a restore must find the same). */
static size_t blk_save(struct virtio_dev *d, uint8_t *buf, size_t cap)
{
	struct blk_backend *b = d->priv;

	if (cap < 1)
		return 0;
	buf[0] = (uint8_t)b->queues;
	return 1;
}

static int blk_restore(struct virtio_dev *d, const uint8_t *buf, size_t len, const char **why)
{
	struct blk_backend *b = d->priv;
	unsigned queues = len ? buf[0] : 1; /* states from before queues= had one */

	if (len > 1 || queues != b->queues) {
		*why = "the saved disk has another number of queues than this one (queues=)";
		return -EINVAL;
	}
	return 0;
}

const struct virtio_dev_ops virtio_blk_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = BLK_MAX_QUEUES, /* the driver may use num_queues of them (queues_in_use) */
	.features = (1ull << VIRTIO_BLK_F_SIZE_MAX) | (1ull << VIRTIO_BLK_F_SEG_MAX) |
		    (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH) |
		    (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES) |
		    (1ull << VIRTIO_BLK_F_MQ),
	.config_size = sizeof(struct virtio_blk_config),
	.queue_notify = blk_notify,
	.reset = blk_reset,
	.stop = blk_stop,
	.save = blk_save,
	.restore = blk_restore,
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
		return fcntl(b->buffered_fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
	return lock_image(b->buffered_fd, false) < 0 ? -errno : 0;
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
	b->fd = b->buffered_fd = b->cq_fd = -1;
	b->queues = 1;
	for (unsigned i = 0; i < BLK_SLOTS; i++)
		b->free[i] = (uint16_t)(BLK_SLOTS - 1 - i);
	b->nfree = BLK_SLOTS;
	strtok_r(path, ",", &save);
	while ((opt = strtok_r(NULL, ",", &save))) {
		if (!strcmp(opt, "readonly") || !strcmp(opt, "ro")) {
			b->readonly = true;
		} else if (!strncmp(opt, "serial=", 7)) {
			set_serial(b, opt + 7);
		} else if (!strcmp(opt, "direct=on") || !strcmp(opt, "direct=off")) {
			b->direct = !strcmp(opt, "direct=on");
		} else if (!strncmp(opt, "queues=", 7)) {
			if (opt[7] < '1' || opt[7] > '0' + BLK_MAX_QUEUES || opt[8]) {
				snprintf(err, errlen, "--disk: queues= takes 1 to %u, not '%s'",
					 BLK_MAX_QUEUES, opt + 7);
				goto fail;
			}
			b->queues = (unsigned)(opt[7] - '0');
		} else {
			snprintf(err, errlen, "--disk: unknown option '%s' (readonly, serial=ID, "
				 "direct=on|off, queues=1-%u)", opt, BLK_MAX_QUEUES);
			goto fail;
		}
	}
	b->fd = open(path, (b->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b->fd < 0 || fstat(b->fd, &st) < 0) {
		snprintf(err, errlen, "--disk: cannot open %s: %s", path, strerror(errno));
		goto fail;
	}
	b->buffered_fd = b->fd;
	if (b->direct) { /* O_DIRECT on its own descriptor: the buffered one keeps the lock */
		b->fd = open(path, (b->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_DIRECT);
		if (b->fd < 0) {
			snprintf(err, errlen, "--disk: %s cannot be opened with O_DIRECT (direct=on): "
				 "%s", path, strerror(errno));
			goto fail;
		}
	}
	size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(b->fd, BLKGETSIZE64, &size) < 0)
		size = 0;
	if ((!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) || size < VIRTIO_BLK_SECTOR) {
		snprintf(err, errlen, "--disk: %s is not a regular file or block device of at "
			 "least 512 bytes", path);
		goto fail;
	}
	if (lock_image(b->buffered_fd, b->readonly) < 0) {
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
	b->have_ring = blk_ring_setup(b) == 0;
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

	c.num_queues = (uint16_t)b->queues;
	memcpy(d->config, &c, sizeof(c));
	if (b->readonly)
		d->host_features |= 1ull << VIRTIO_BLK_F_RO;
	/* Completions come to the device's own event loop (a new one at each boot). */
	b->cq_src = (struct loop_source){b->cq_fd, blk_ring_completed, d};
	if (b->cq_fd >= 0 && loop_add(&d->loop, &b->cq_src, EPOLLIN))
		log_warn("virtio-blk: cannot watch its completions; they wait for the next kick");
}

void blk_close(struct blk_backend *b)
{
	if (!b)
		return;
	if (b->have_ring)
		blk_ring_wait_idle(b, NULL, false); /* the device is gone: nothing may be left */
	blk_ring_close(b);
	if (b->fd >= 0)
		close(b->fd);
	if (b->buffered_fd >= 0 && b->buffered_fd != b->fd)
		close(b->buffered_fd);
	free(b);
}
