/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the virtio device models. The input is guest memory: its first
 * bytes choose the queue size, features, device and queue, and the rest is copied over the
 * rings and buffers. Then the device's real handler serves the queue, exactly as after a
 * guest's kick: the virtqueue parser and each device's request parser see hostile data.
 * A range of the memory is VMM-owned (as a PV domain's CPU tables are): the harness aborts
 * if any request ever changes a byte of it.
 *
 *   make fuzz            (clang, ASan + UBSan; FUZZ_SECONDS per run)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capsule/devices.h"
#include "capsule/log.h"
#include "capsule/vm.h"
#include "../../src/virtio/net.h" /* net_pull: the receive path without a TAP */

#define MEM (256u << 10)
/*
 * VMM-owned pages, as a PV domain has them, right after the rings (where small addresses
 * in fuzzed descriptors land): no request may ever change a byte of them. The input fills
 * the rings below and the buffers above.
 */
#define RINGS_END 0x1000u
#define OWNED_START RINGS_END
#define OWNED_LEN (0x20000u - RINGS_END)
#define OWNED_BYTE 0xa5

struct world {
	struct vm vm;
	struct virtio_dev dev[5];
	struct blk_backend *blk;
	struct net_backend *net;
	struct console_backend *console;
	struct balloon_backend *balloon;
	int rx[2]; /* a datagram socket pair standing in for the TAP's receive side */
	uint8_t owned[OWNED_LEN]; /* what the VMM-owned range must still hold */
};

static const struct virtio_dev_ops *const ops[5] = {
	&virtio_blk_ops, &virtio_net_mq_ops, &virtio_console_ops, &virtio_rng_ops,
	&virtio_balloon_ops,
};

static struct world *world(void)
{
	static struct world *w;
	struct vm_config cfg = {.mem_bytes = MEM, .nr_vcpus = 1};
	char path[] = "/tmp/capsule-fuzz-disk-XXXXXX", spec[64], err[256];
	int fd;

	if (w)
		return w;
	w = calloc(1, sizeof(*w));
	log_set_level(LOG_ERROR); /* every broken ring logs a warning otherwise */
	if (!w || vm_init_nokvm(&w->vm, &cfg))
		abort();
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
		abort();
	close(fd);
	snprintf(spec, sizeof(spec), "%s,queues=4", path); /* multiqueue for the fuzzer too */
	w->blk = blk_open(spec, err, sizeof(err));
	unlink(path);
	w->console = console_open(-1, fopen("/dev/null", "w"));
	w->balloon = balloon_open(0);
	/* A net backend writing to /dev/null: no TAP needed to parse transmit chains. Two
	 * queue pairs, so the control queue (queue 4) is fuzzed too. */
	int nullfd[2] = {open("/dev/null", O_WRONLY | O_CLOEXEC), open("/dev/null", O_WRONLY | O_CLOEXEC)};
	w->net = net_open_fds(nullfd, 2);
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, w->rx) < 0)
		abort();
	if (!w->blk || !w->console || !w->balloon || !w->net)
		abort();
	void *priv[5] = {w->blk, w->net, w->console, NULL, w->balloon};
	for (unsigned i = 0; i < 5; i++) {
		struct virtio_dev *d = &w->dev[i];

		/* The transport without its thread or bus: only the handlers are exercised. */
		memset(d, 0, sizeof(*d));
		d->ops = ops[i];
		d->priv = priv[i];
		d->vm = &w->vm;
		d->mem = &w->vm.mem;
		for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
			d->kick_fd[q] = -1;
		pthread_mutex_init(&d->lock, NULL);
	}
	if (gmem_reserve(&w->vm.mem, OWNED_START, OWNED_LEN))
		abort();
	memset(w->vm.mem.host + OWNED_START, OWNED_BYTE, OWNED_LEN);
	memset(w->owned, OWNED_BYTE, OWNED_LEN);
	return w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct world *w = world();
	struct virtio_dev *d;
	const char *why;
	uint16_t qsize;
	unsigned q;

	if (size < 4)
		return 0;
	d = &w->dev[data[2] % 5];
	q = data[3] % d->ops->num_queues;
	qsize = (uint16_t)(1u << (data[0] % 7)); /* up to 64: the rings fit the first page */
	memset(w->vm.mem.host, 0, RINGS_END);
	/* The input is the guest's RAM around the VMM-owned range (descriptors may point into
	 * it anyway). */
	memcpy(w->vm.mem.host, data, size < RINGS_END ? size : RINGS_END);
	if (size > RINGS_END)
		memcpy(w->vm.mem.host + OWNED_START + OWNED_LEN, data + RINGS_END,
		       size - RINGS_END < MEM - OWNED_START - OWNED_LEN
			       ? size - RINGS_END
			       : MEM - OWNED_START - OWNED_LEN);
	pthread_mutex_lock(&d->lock);
	d->broken = false;
	d->status = VIRTIO_STATUS_DRIVER_OK;
	/* The network's offloads negotiated or not: its transmit headers are checked both ways.
	 * Multiqueue: a disk's queues past 0 only once the driver took VIRTIO_BLK_F_MQ. */
	d->driver_features = (d->ops == &virtio_net_ops || d->ops == &virtio_net_mq_ops) && (data[1] & 4) ? ~0ull : 0;
	if (d->ops == &virtio_blk_ops && data[1] & 8)
		d->driver_features = 1ull << VIRTIO_BLK_F_MQ;
	/* Rings in the first 4 KiB, which libFuzzer's first inputs fill: avail at 0x10 (after
	 * the 4 control bytes), used at 0x100, descriptors at 0x400. */
	if (vq_init(&d->vq[q], d->mem, qsize, 0x400, 0x10, 0x100, data[1] & 1, data[1] & 2,
		    &why) == 0)
		d->ops->queue_notify(d, q);
	/* The network's receive queues: a packet (the input's last bytes) pulled into them. */
	if (d->ops == &virtio_net_mq_ops && (q == 0 || q == 2) && d->vq[q].ready) {
		size_t len = size > 2048 ? 2048 : size;

		((struct net_backend *)d->priv)->q[1].rx.queue = q; /* the fd no pair has: 1's */
		if (send(w->rx[0], data + size - len, len, 0) == (ssize_t)len)
			net_pull(d, w->rx[1]);
		while (recv(w->rx[1], w->owned, 0, 0) >= 0) /* nothing left for the next input */
			;
	}
	pthread_mutex_unlock(&d->lock);
	/* An asynchronous device (virtio-blk's io_uring) completes what it took, as a stop
	 * before a save does; then a reset with nothing in flight, and one while requests
	 * are in flight (the next input's kick on a reset device). */
	if (d->ops->stop)
		d->ops->stop(d);
	if (data[1] & 16 && d->ops->reset) {
		pthread_mutex_lock(&d->lock);
		if (vq_init(&d->vq[q], d->mem, qsize, 0x400, 0x10, 0x100, data[1] & 1, data[1] & 2,
			    &why) == 0)
			d->ops->queue_notify(d, q);
		d->ops->reset(d); /* with what that took still in flight */
		pthread_mutex_unlock(&d->lock);
	}
	if (memcmp(w->vm.mem.host + OWNED_START, w->owned, OWNED_LEN)) {
		fprintf(stderr, "fuzz: %s changed VMM-owned memory\n", d->ops->name);
		abort();
	}
	return 0;
}
