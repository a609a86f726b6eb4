/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backend_rx.h"
#include "capsule/sandbox.h"

void rx_pump_retry(struct rx_pump *p)
{
	struct virtq *q = &p->dev->vq[p->queue];

	while (p->len && virtio_queue_usable(p->dev, p->queue)) {
		if (p->deliver(p->dev, p->buf, p->len)) {
			p->len = 0;
			pthread_cond_broadcast(&p->drained);
		} else if (!vq_enable_notify(q)) {
			return; /* no buffers: the driver's next kick brings us back */
		}
	}
	/* Keep the event index current, or an event-idx driver stops kicking. */
	if (virtio_queue_usable(p->dev, p->queue))
		vq_enable_notify(q);
}

static void *pump_thread(void *arg)
{
	struct rx_pump *p = arg;
	struct pollfd fds[2] = {{.fd = p->fd, .events = POLLIN}, {.fd = p->stop_fd, .events = POLLIN}};

	if (sandbox_enter("rx-pump", SANDBOX_GUEST))
		return NULL;
	for (;;) {
		ssize_t n;

		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (fds[1].revents)
			break;
		if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(p->fd, p->buf, p->cap);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		pthread_mutex_lock(&p->dev->lock);
		if (n <= 0) {
			p->eof = true;
			pthread_mutex_unlock(&p->dev->lock);
			break;
		}
		p->len = (size_t)n;
		rx_pump_retry(p);
		/* Hold further input until the guest took this (back-pressure, no drops). */
		while (p->len) {
			pthread_cond_wait(&p->drained, &p->dev->lock);
			if (p->len && p->eof) /* stopping */
				break;
		}
		pthread_mutex_unlock(&p->dev->lock);
		if (p->eof)
			break;
	}
	return NULL;
}

int rx_pump_start(struct rx_pump *p, struct virtio_dev *d, unsigned queue, int fd, size_t cap,
		  bool (*deliver)(struct virtio_dev *, const uint8_t *, size_t))
{
	memset(p, 0, sizeof(*p));
	p->fd = fd;
	p->dev = d;
	p->queue = queue;
	p->deliver = deliver;
	p->cap = cap;
	p->buf = malloc(cap);
	p->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (!p->buf || p->stop_fd < 0)
		return -ENOMEM;
	pthread_cond_init(&p->drained, NULL);
	if (pthread_create(&p->thread, NULL, pump_thread, p))
		return -EAGAIN;
	p->started = true;
	return 0;
}

void rx_pump_stop(struct rx_pump *p)
{
	if (p->started) {
		uint64_t one = 1;

		pthread_mutex_lock(&p->dev->lock);
		p->eof = true;
		pthread_cond_broadcast(&p->drained);
		pthread_mutex_unlock(&p->dev->lock);
		if (write(p->stop_fd, &one, sizeof(one)) == sizeof(one))
			pthread_join(p->thread, NULL);
		p->started = false;
	}
	if (p->stop_fd >= 0)
		close(p->stop_fd);
	p->stop_fd = -1;
	free(p->buf);
	p->buf = NULL;
}
