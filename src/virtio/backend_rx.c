/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "backend_rx.h"
#include "capsule/log.h"

/* Watch the host fd exactly while there is room for what it brings (d->lock held). */
static void watch(struct rx_pump *p, bool on)
{
	if (on == p->watching)
		return;
	if (!on) {
		loop_del(&p->dev->loop, &p->src);
		p->watching = false;
	} else if (loop_add(&p->dev->loop, &p->src, EPOLLIN) == 0) {
		p->watching = true;
	} else {
		log_warn("%s: cannot watch its input; it gets none", p->dev->ops->name);
		p->eof = true;
	}
}

/* Pull what fd has, a batch at most, with one interrupt for it; true if the driver's
 * buffers ran out (the pump then waits for its kick). */
static bool pull_batch(struct rx_pump *p)
{
	struct virtio_dev *d = p->dev;
	unsigned moved = 0;
	bool full = !virtio_queue_usable(d, p->queue); /* its first kick (DRIVER_OK) is awaited */
	int r = 0;

	while (!full && moved < RX_PUMP_BATCH && virtio_queue_usable(d, p->queue)) {
		r = p->pull(d, p->src.fd);
		if (r == 1) {
			moved++;
			continue;
		}
		full = r == 0; /* pull asked for the driver's kick */
		break;
	}
	if (r < 0 && r != -EAGAIN && r != -EINTR) {
		p->eof = true;
		log_debug("%s: its input ended: %s", d->ops->name, strerror(-r));
	}
	if (moved) {
		d->stats.rx_items += moved;
		d->stats.rx_wakeups++;
		if (moved > d->stats.rx_batch_max)
			d->stats.rx_batch_max = moved;
		virtio_flush_interrupt(d, p->queue);
	}
	if (moved == RX_PUMP_BATCH) /* more may be ready: come back on the loop's next turn */
		full = false;
	p->moved = moved;
	return full;
}

void rx_pump_retry(struct rx_pump *p)
{
	struct virtq *q = &p->dev->vq[p->queue];

	if (p->pull) {
		/* While full, the kick brings us back; else the fd's readiness does. */
		p->len = p->running && !p->eof && pull_batch(p);
		watch(p, p->running && !p->len && !p->eof);
		return;
	}

	while (p->len && virtio_queue_usable(p->dev, p->queue)) {
		if (p->deliver(p->dev, p->buf, p->len))
			p->len = 0;
		else if (!vq_enable_notify(q))
			break; /* no buffers: the driver's next kick brings us back */
	}
	/* Keep the event index current, or an event-idx driver stops kicking. */
	if (!p->len && virtio_queue_usable(p->dev, p->queue))
		vq_enable_notify(q);
	watch(p, p->running && !p->len && !p->eof);
}

/* The host fd is readable (the device's thread). */
static void readable(struct loop *l, struct loop_source *src, uint32_t events)
{
	struct rx_pump *p = src->opaque;
	ssize_t n;

	(void)l, (void)events;
	pthread_mutex_lock(&p->dev->lock);
	if (!p->running || p->len || p->eof) { /* stopped, or full: an event already queued */
		watch(p, false);
		pthread_mutex_unlock(&p->dev->lock);
		return;
	}
	if (p->pull) {
		p->moved = 0;
		rx_pump_retry(p);
		/* On the device's own thread only: a vCPU that spun here would wait for itself. */
		if (p->delivered && p->running && p->moved && p->moved < RX_PUMP_BATCH)
			p->delivered(p->dev, p->queue);
		pthread_mutex_unlock(&p->dev->lock);
		return;
	}
	n = read(p->src.fd, p->buf, p->cap);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		pthread_mutex_unlock(&p->dev->lock);
		return;
	}
	if (n <= 0) {
		p->eof = true;
		log_debug("%s: its input ended", p->dev->ops->name);
	} else {
		p->len = (size_t)n;
	}
	rx_pump_retry(p);
	pthread_mutex_unlock(&p->dev->lock);
}

int rx_pump_start(struct rx_pump *p, struct virtio_dev *d, unsigned queue, int fd, size_t cap,
		  bool (*deliver)(struct virtio_dev *, const uint8_t *, size_t))
{
	if (!p->buf) {
		memset(p, 0, sizeof(*p));
		p->buf = malloc(cap);
		p->cap = cap;
		if (!p->buf)
			return -ENOMEM;
	}
	pthread_mutex_lock(&d->lock);
	/* Input pending from an earlier boot is kept: it was typed for the domain. */
	p->src = (struct loop_source){fd, readable, p};
	p->dev = d;
	p->queue = queue;
	p->deliver = deliver;
	p->running = true;
	rx_pump_retry(p);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int rx_pump_start_pull(struct rx_pump *p, struct virtio_dev *d, unsigned queue, int fd,
		       int (*pull)(struct virtio_dev *, int))
{
	pthread_mutex_lock(&d->lock);
	p->src = (struct loop_source){fd, readable, p};
	p->dev = d;
	p->queue = queue;
	p->pull = pull;
	p->len = 0; /* nothing is held here: what waits, waits in fd */
	p->running = true;
	rx_pump_retry(p);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

void rx_pump_stop(struct rx_pump *p)
{
	if (!p->dev)
		return;
	pthread_mutex_lock(&p->dev->lock);
	p->running = false;
	watch(p, false);
	pthread_mutex_unlock(&p->dev->lock);
}

void rx_pump_release(struct rx_pump *p)
{
	free(p->buf);
	memset(p, 0, sizeof(*p));
}
