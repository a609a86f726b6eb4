/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio device core, whatever the transport: features offered, interrupts, the
 * protocol-error path (DEVICE_NEEDS_RESET), serving a queue within a budget, reset, queue
 * enabling through the checked virtqueue, and the device thread that waits for kicks.
 * The transport (mmio.c) maps registers onto these.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "capsule/log.h"
#include "capsule/sandbox.h"
#include "capsule/virtio.h"
#include "capsule/vm.h"
#include "transport.h"

#define TRANSPORT_FEATURES                                                                  \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |                      \
	 (1ull << VIRTIO_F_INDIRECT_DESC))

uint64_t virtio_offered(const struct virtio_dev *d)
{
	return TRANSPORT_FEATURES | d->ops->features | d->host_features;
}


void virtio_set_status(struct virtio_dev *d, uint32_t v)
{
	if (v == 0) {
		virtio_reset(d);
		return;
	}
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(d->status & VIRTIO_STATUS_FEATURES_OK)) {
		/* Refuse features we did not offer, and legacy drivers. */
		if ((d->driver_features & ~virtio_offered(d)) ||
		    !(d->driver_features & (1ull << VIRTIO_F_VERSION_1)))
			v &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
	}
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(d->status & VIRTIO_STATUS_DRIVER_OK)) {
		d->status = v | (d->status & VIRTIO_STATUS_NEEDS_RESET);
		if (d->ops->driver_ok && !d->broken)
			d->ops->driver_ok(d);
		return;
	}
	d->status = v | (d->status & VIRTIO_STATUS_NEEDS_RESET);
}


void virtio_raise(struct virtio_dev *d, uint32_t why)
{
	d->int_status |= why;
	d->irq_why = why; /* for a transport with a vector per cause (virtio-pci's MSI-X) */
	d->stats.interrupts++;
	if (d->irq.raise)
		d->irq.raise(d->irq.opaque);
}


void virtio_fail(struct virtio_dev *d, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->broken)
		return;
	log_warn("%s at 0x%llx: %s; the device needs a reset", d->ops->name,
		 (unsigned long long)d->base, msg);
	d->broken = true;
	d->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_raise(d, VIRTIO_MMIO_INT_CONFIG);
}


bool virtio_queue_usable(const struct virtio_dev *d, unsigned q)
{
	return q < d->ops->num_queues && d->vq[q].ready && !d->broken &&
	       (d->status & VIRTIO_STATUS_DRIVER_OK);
}


void virtio_complete(struct virtio_dev *d, unsigned q, uint16_t head, uint32_t len)
{
	vq_push(&d->vq[q], head, len);
	d->stats.requests++;
}


void virtio_flush_interrupt(struct virtio_dev *d, unsigned q)
{
	if (vq_need_interrupt(&d->vq[q])) {
		d->irq_queue = q;
		virtio_raise(d, VIRTIO_MMIO_INT_VRING);
	}
}


bool virtio_should_yield(struct virtio_dev *d, unsigned q, unsigned done)
{
	if (vm_ended(d->vm))
		return true; /* the domain is over: its requests no longer matter */
	if (done < VIRTIO_SERVE_BUDGET)
		return false;
	virtio_requeue(d, q);
	return true;
}


void virtio_requeue(struct virtio_dev *d, unsigned q)
{
	uint64_t one = 1;

	/* The device thread's own kick: it comes back here after checking its stop fd. */
	if (d->kick_fd[q] >= 0 && write(d->kick_fd[q], &one, sizeof(one)) < 0)
		log_warn("%s: cannot requeue queue %u", d->ops->name, q);
}


/* Can the loop go on with queue q after the lock may have been dropped? */
static bool still_serving(const struct virtio_dev *d, unsigned q)
{
	return !d->stopped && virtio_queue_usable(d, q) && !vm_ended(d->vm);
}

/*
 * Spin on queue q's available index for up to `window` ns without the lock (so the vCPUs'
 * register accesses and the completions do not wait); true if the driver added chains or
 * s->ready has completions. The lock is held again on return; *spent has the time.
 */
static bool spin(struct virtio_dev *d, unsigned q, const struct virtio_server *s,
		 uint32_t window, uint64_t *spent)
{
	/* The rings stay mapped for the domain's life: reading them unlocked is safe, and
	 * what is found is checked again under the lock. */
	const struct virtq_avail *avail = d->vq[q].avail;
	uint16_t seen = d->vq[q].last_avail;
	uint64_t t0 = monotonic_ns(), now = t0;
	bool hit = false;

	pthread_mutex_unlock(&d->lock);
	while (now - t0 < window && !hit) {
		for (int i = 0; i < 64 && !hit; i++) {
			hit = __atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE) != seen ||
			      (s->ready && s->ready(d));
			__builtin_ia32_pause();
		}
		now = monotonic_ns();
	}
	pthread_mutex_lock(&d->lock);
	*spent = now - t0;
	return hit;
}

static uint32_t widen(uint32_t w) { return w * 2 < VIRTIO_POLL_MAX_NS ? w * 2 : VIRTIO_POLL_MAX_NS; }

/*
 * The ring is empty: spin for up to the queue's window. The window doubles when the driver
 * refilled within it and halves (to VIRTIO_POLL_MIN_NS) when it did not. True if there is
 * work (chains, or completions for flush) and the lock is held again either way.
 */
static bool adaptive_poll(struct virtio_dev *d, unsigned q, const struct virtio_server *s)
{
	uint32_t window = d->poll_window_ns[q] ? d->poll_window_ns[q] : VIRTIO_POLL_MIN_NS;
	uint64_t spent;
	bool hit = spin(d, q, s, window, &spent);

	d->stats.polls++;
	d->stats.poll_hits += hit;
	d->stats.poll_ns += spent;
	if (hit)
		window = widen(window);
	else
		window = window / 2 > VIRTIO_POLL_MIN_NS ? window / 2 : VIRTIO_POLL_MIN_NS;
	d->poll_window_ns[q] = window;
	return hit;
}

void virtio_expect(struct virtio_dev *d, unsigned q, const struct virtio_server *s)
{
	uint32_t window = d->expect_ns[q];
	uint64_t spent;
	bool hit;

	if (!still_serving(d, q))
		return;
	if (!vq_has_avail(&d->vq[q])) {
		if (!window && d->expect_rest[q]) {
			d->expect_rest[q]--;
			return;
		}
		window = window ? window : VIRTIO_POLL_MAX_NS;
		vq_disable_notify(&d->vq[q]);
		hit = spin(d, q, s, window, &spent);
		d->stats.expects++;
		d->stats.expect_hits += hit;
		d->stats.expect_ns += spent;
		/* Stopped meanwhile: the start requeues every queue, whose drain turns kicks
		 * back on. Reset: the queue is gone, and its window with it. */
		if (!still_serving(d, q))
			return;
		if (hit)
			window = widen(window);
		else if ((window /= 2) < VIRTIO_POLL_MIN_NS)
			window = 0, d->expect_rest[q] = VIRTIO_EXPECT_REST;
		d->expect_ns[q] = window;
	}
	virtio_drain(d, q, s);
}

void virtio_drain(struct virtio_dev *d, unsigned q, const struct virtio_server *s)
{
	static __thread struct vq_chain c; /* 4 KiB: not on the small vCPU stacks */
	const char *why = NULL;
	unsigned done = 0;
	int r;

	for (;;) {
		unsigned batch = 0;
		bool busy = false;

		while ((r = vq_pop(&d->vq[q], d->mem, &c, &why)) > 0) {
			int64_t n = s->chain(d, q, &c);

			if (n == VIRTIO_CHAIN_BUSY) {
				vq_unpop(&d->vq[q], 1); /* the device requeues once it has room */
				busy = true;
				break;
			}
			if (n < 0 && n != VIRTIO_CHAIN_ASYNC) {
				r = -1;
				why = "malformed or oversized request";
				break;
			}
			if (n >= 0)
				virtio_complete(d, q, c.head, (uint32_t)n);
			done++, batch++;
			if (s->flush && s->batch && batch == s->batch)
				break;
			if (done >= VIRTIO_SERVE_BUDGET)
				break;
		}
		if (s->flush)
			s->flush(d, q);
		if (r < 0) {
			if (virtio_queue_usable(d, q))
				virtio_flush_interrupt(d, q);
			virtio_fail(d, "queue %u: %s", q, why);
			return;
		}
		if (!still_serving(d, q))
			return;
		virtio_flush_interrupt(d, q); /* let the driver refill while we go on */
		if (busy)
			return;
		if (done && virtio_should_yield(d, q, done))
			return;
		if (vq_has_avail(&d->vq[q]))
			continue; /* a batch ended, or more came */
		if (s->poll) {
			bool hit = adaptive_poll(d, q, s);

			if (!still_serving(d, q))
				return;
			if (hit)
				continue;
		}
		if (!vq_enable_notify(&d->vq[q]))
			break;
	}
	virtio_flush_interrupt(d, q);
}

void virtio_serve(struct virtio_dev *d, unsigned q, virtio_chain_fn fn)
{
	struct virtio_server s = {.chain = fn};

	virtio_drain(d, q, &s);
}


void virtio_config_changed(struct virtio_dev *d)
{
	d->config_gen++;
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_raise(d, VIRTIO_MMIO_INT_CONFIG);
}


void virtio_reset(struct virtio_dev *d)
{
	/* No queue is served from here on, even while the device's reset drops the lock to
	 * wait for its requests in flight. */
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		d->vq[q].ready = false;
	if (d->ops->reset)
		d->ops->reset(d);
	d->status = 0;
	d->driver_features = 0;
	d->dev_features_sel = d->drv_features_sel = d->queue_sel = 0;
	d->int_status = 0;
	d->broken = false;
	memset(d->qcfg, 0, sizeof(d->qcfg));
	memset(d->vq, 0, sizeof(d->vq));
	memset(d->poll_window_ns, 0, sizeof(d->poll_window_ns));
	memset(d->expect_ns, 0, sizeof(d->expect_ns));
	memset(d->expect_rest, 0, sizeof(d->expect_rest));
}


void virtio_queue_ready(struct virtio_dev *d, unsigned q, bool ready)
{
	const char *why = NULL;

	if (!ready) {
		d->vq[q].ready = false;
		return;
	}
	if (vq_init(&d->vq[q], d->mem, d->qcfg[q].num, d->qcfg[q].desc, d->qcfg[q].avail,
		    d->qcfg[q].used, d->driver_features & (1ull << VIRTIO_F_EVENT_IDX),
		    d->driver_features & (1ull << VIRTIO_F_INDIRECT_DESC), &why))
		virtio_fail(d, "queue %u: %s", q, why);
}


void virtio_kick(struct virtio_dev *d, unsigned q)
{
	pthread_mutex_lock(&d->lock);
	if (!d->stopped && virtio_queue_usable(d, q))
		d->ops->queue_notify(d, q);
	pthread_mutex_unlock(&d->lock);
}


int virtio_dev_start(struct virtio_dev *d)
{
	bool was_stopped;
	int err = 0;

	pthread_mutex_lock(&d->lock);
	was_stopped = d->stopped;
	d->stopped = false;
	pthread_mutex_unlock(&d->lock);
	if (d->ops->start)
		err = d->ops->start(d);
	for (unsigned q = 0; was_stopped && q < d->ops->num_queues; q++)
		virtio_requeue(d, q);
	return err;
}


void virtio_dev_stop(struct virtio_dev *d)
{
	/* The device thread holds the lock through a kick: once we have it, none is running,
	 * and none starts after. A spin (adaptive_poll, virtio_expect) drops the lock, but on
	 * taking it again it touches only its statistics before it sees `stopped`. */
	pthread_mutex_lock(&d->lock);
	d->stopped = true;
	pthread_mutex_unlock(&d->lock);
	if (d->ops->stop)
		d->ops->stop(d);
}


/* A kick: KVM signalled queue q's eventfd (count is how many notifications it folded). */
static void kicked(struct loop *l, struct loop_source *src, uint32_t events)
{
	struct virtio_dev *d = src->opaque;
	unsigned q = (unsigned)(src - d->kick_src);
	uint64_t count;

	(void)l, (void)events;
	if (read(src->fd, &count, sizeof(count)) == sizeof(count)) {
		pthread_mutex_lock(&d->lock);
		d->stats.kicks += count;
		pthread_mutex_unlock(&d->lock);
	}
	virtio_kick(d, q);
}

int virtio_loop_setup(struct virtio_dev *d)
{
	int err = loop_init(&d->loop);

	for (unsigned q = 0; !err && q < d->ops->num_queues; q++) {
		d->kick_src[q] = (struct loop_source){d->kick_fd[q], kicked, d};
		err = loop_add(&d->loop, &d->kick_src[q], EPOLLIN);
	}
	return err;
}

void *virtio_device_thread(void *arg)
{
	struct virtio_dev *d = arg;
	int err;

	if (sandbox_enter(d->ops->name, SANDBOX_GUEST)) {
		vm_end(d->vm, VM_END_CRASH, 0);
		return NULL;
	}
	/* The event loop of src/loop/: kicks until virtio_mmio_remove stops it. */
	err = loop_run(&d->loop);
	if (err)
		log_err("%s: its event loop failed: %s", d->ops->name, strerror(-err));
	return NULL;
}

