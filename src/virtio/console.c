/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-console, one port: transmit goes to a FILE (stdout), receive comes from an fd. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "backend_rx.h"
#include "capsule/devices.h"
#include "capsule/vm.h"

#define CONSOLE_RX 0
#define CONSOLE_TX 1
#define CONSOLE_TX_MAX (64u << 10) /* bytes one transmit chain may carry */

struct console_backend {
	int in_fd;
	FILE *out;
	struct rx_pump rx;
};

/*
 * Output that never holds up the end of the domain: whoever reads our stdout may stop
 * reading (a stuck pipe, Ctrl-S), so we write only what poll says fits (a page at most,
 * which a pipe with room takes whole) and give up once the domain has ended. The file's
 * own flags stay as they are: stdout is shared with the shell.
 */
static void out_write(struct virtio_dev *d, int fd, const uint8_t *p, size_t n)
{
	while (n && !vm_ended(d->vm)) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		ssize_t w;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))
			return; /* nobody reads: the output goes */
		w = write(fd, p, n < 4096 ? n : 4096);
		if (w < 0 && errno != EINTR && errno != EAGAIN)
			return;
		if (w > 0)
			p += w, n -= (size_t)w;
	}
}

static int64_t console_tx(struct virtio_dev *d, unsigned q, const struct vq_chain *c)
{
	struct console_backend *cb = d->priv;

	(void)q;
	if (c->out_bytes > CONSOLE_TX_MAX)
		return -1; /* segments may overlap: the guest could make us print terabytes */
	fflush(cb->out); /* what went through the FILE before stays in order */
	for (unsigned i = 0; i < c->nseg; i++)
		if (!c->seg[i].write) {
			out_write(d, fileno(cb->out), c->seg[i].ptr, c->seg[i].len);
			console_log_append(d->vm->console_log, c->seg[i].ptr, c->seg[i].len);
		}
	return 0;
}

/* Fill receive buffers with the pending input; a chunk may span several buffers. */
static bool console_deliver(struct virtio_dev *d, const uint8_t *buf, size_t len)
{
	struct console_backend *cb = d->priv;
	static __thread struct vq_chain c;
	const char *why = NULL;
	size_t off = 0;
	int r;

	while (off < len && (r = vq_pop(&d->vq[CONSOLE_RX], d->mem, &c, &why)) > 0) {
		uint64_t n = vq_copy_to(&c, 0, buf + off, len - off);

		virtio_complete(d, CONSOLE_RX, c.head, (uint32_t)n);
		off += n;
	}
	if (off < len && why)
		virtio_fail(d, "receive queue: %s", why);
	virtio_flush_interrupt(d, CONSOLE_RX);
	if (off && off < len) /* keep the rest for the next buffers */
		memmove(cb->rx.buf, buf + off, len - off), cb->rx.len = len - off;
	return off == len;
}

static void console_notify(struct virtio_dev *d, unsigned q)
{
	struct console_backend *cb = d->priv;

	if (q == CONSOLE_TX)
		virtio_serve(d, q, console_tx);
	else if (cb->rx.running)
		rx_pump_retry(&cb->rx);
}

static int console_dev_start(struct virtio_dev *d)
{
	struct console_backend *cb = d->priv;

	if (cb->in_fd < 0)
		return 0;
	return rx_pump_start(&cb->rx, d, CONSOLE_RX, cb->in_fd, 4096, console_deliver);
}

static void console_dev_stop(struct virtio_dev *d)
{
	struct console_backend *cb = d->priv;

	rx_pump_stop(&cb->rx);
}

const struct virtio_dev_ops virtio_console_ops = {
	.name = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.num_queues = 2,
	.config_size = sizeof(struct virtio_console_config),
	.queue_notify = console_notify,
	.start = console_dev_start,
	.stop = console_dev_stop,
};

struct console_backend *console_open(int in_fd, FILE *out)
{
	struct console_backend *cb = calloc(1, sizeof(*cb));

	if (cb) {
		cb->in_fd = in_fd;
		cb->out = out;
	}
	return cb;
}

void console_init_config(struct virtio_dev *d)
{
	struct virtio_console_config cfg = {.cols = 80, .rows = 25, .max_nr_ports = 1};

	memcpy(d->config, &cfg, sizeof(cfg));
}

void console_close(struct console_backend *cb)
{
	if (cb)
		rx_pump_release(&cb->rx);
	free(cb);
}
