/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A 16550A UART. Output bytes go to a FILE (stdout), flushed at each newline; input comes
 * from an fd through a thread's event loop, while the device is started. Interrupts follow the 16550's priorities: received data,
 * then transmitter empty; the line is driven through the in-kernel irqchip.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "capsule/bus.h"
#include "capsule/log.h"
#include "capsule/platform.h"
#include "capsule/sandbox.h"
#include "capsule/vm.h"

enum { RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };
#define IER_RDI 0x01
#define IER_THRI 0x02
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define LCR_DLAB 0x80
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_LOOP 0x10

/* Which interrupt is pending now, by priority (under lock). */
static uint8_t pending(const struct uart *u)
{
	if ((u->ier & IER_RDI) && u->rx_len)
		return IIR_RDI;
	if ((u->ier & IER_THRI) && u->thre_pending)
		return IIR_THRI;
	return IIR_NONE;
}

static void update_irq(struct uart *u)
{
	bool level = pending(u) != IIR_NONE;

	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->vm) /* a UART without a VM is a unit test's */
			vm_irq_line(u->vm, UART_COM1_IRQ, level);
	}
}

void uart_access(struct uart *u, unsigned reg, uint8_t *val, bool is_write)
{
	bool dlab = u->lcr & LCR_DLAB;

	pthread_mutex_lock(&u->lock);
	if (is_write) {
		uint8_t v = *val;

		switch (reg) {
		case RBR_THR:
			if (dlab) {
				u->dll = v;
			} else if (u->mcr & MCR_LOOP) {
				if (u->rx_len < sizeof(u->rx))
					u->rx[(u->rx_head + u->rx_len++) % sizeof(u->rx)] = v;
			} else if (u->out) {
				fputc(v, u->out);
				if (v == '\n')
					fflush(u->out);
			}
			if (!(u->mcr & MCR_LOOP) && !dlab && u->vm)
				console_log_append(u->vm->console_log, &v, 1);
			u->thre_pending = true; /* we "sent" it at once */
			break;
		case IER:
			if (dlab) {
				u->dlm = v;
			} else {
				if ((v & IER_THRI) && !(u->ier & IER_THRI))
					u->thre_pending = true; /* enabling THRI on an empty THR */
				u->ier = v & 0x0f;
			}
			break;
		case IIR_FCR:
			u->fcr = v;
			if (v & 0x02) /* clear the receive FIFO */
				u->rx_len = 0;
			break;
		case LCR:
			u->lcr = v;
			break;
		case MCR:
			u->mcr = v & 0x1f;
			break;
		case SCR:
			u->scr = v;
			break;
		default:
			break;
		}
	} else {
		switch (reg) {
		case RBR_THR:
			if (dlab) {
				*val = u->dll;
			} else if (u->rx_len) {
				*val = u->rx[u->rx_head];
				u->rx_head = (u->rx_head + 1) % sizeof(u->rx);
				u->rx_len--;
			} else {
				*val = 0;
			}
			break;
		case IER:
			*val = dlab ? u->dlm : u->ier;
			break;
		case IIR_FCR:
			*val = pending(u) | (u->fcr & 1 ? 0xc0 : 0);
			if (pending(u) == IIR_THRI) /* reading IIR acknowledges THRE */
				u->thre_pending = false;
			break;
		case LCR:
			*val = u->lcr;
			break;
		case MCR:
			*val = u->mcr;
			break;
		case LSR:
			*val = LSR_THRE | LSR_TEMT | (u->rx_len ? LSR_DR : 0);
			break;
		case MSR: /* carrier, data set ready, clear to send */
			*val = u->mcr & MCR_LOOP ? 0 : 0xb0;
			break;
		case SCR:
			*val = u->scr;
			break;
		}
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static enum exit_action uart_io(struct vcpu *v, void *opaque, uint64_t addr, uint8_t *data,
				uint32_t len, bool is_write)
{
	(void)v;
	if (len == 1)
		uart_access(opaque, (unsigned)(addr - UART_COM1_BASE), data, is_write);
	else if (!is_write)
		memset(data, 0xff, len);
	return EXIT_CONTINUE;
}

/* Input from the host: into the receive FIFO (what does not fit is dropped, as a real
 * UART overruns), and the interrupt follows. End of input ends the loop. */
static void input(struct loop *l, struct loop_source *src, uint32_t events)
{
	struct uart *u = src->opaque;
	uint8_t buf[64];
	ssize_t n;

	(void)events;
	n = read(src->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) { /* no more input: the fd is not watched again */
		pthread_mutex_lock(&u->lock);
		loop_del(l, src);
		u->watching = false;
		u->in_eof = true;
		pthread_mutex_unlock(&u->lock);
		return;
	}
	pthread_mutex_lock(&u->lock);
	for (ssize_t i = 0; i < n && u->rx_len < sizeof(u->rx); i++)
		u->rx[(u->rx_head + u->rx_len++) % sizeof(u->rx)] = buf[i];
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static void *rx_thread(void *arg)
{
	struct uart *u = arg;

	if (sandbox_enter("uart-rx", SANDBOX_GUEST) == 0)
		loop_run(&u->loop);
	return NULL;
}

int uart_init(struct uart *u, struct vm *vm, FILE *out, int in_fd)
{
	memset(u, 0, sizeof(*u));
	u->vm = vm;
	u->out = out;
	u->in_fd = -1;
	u->loop.epoll_fd = u->loop.stop_fd = -1;
	pthread_mutex_init(&u->lock, NULL);
	if (in_fd >= 0) {
		int err = loop_init(&u->loop);

		u->input = (struct loop_source){in_fd, input, u};
		if (!err)
			err = loop_add(&u->loop, &u->input, EPOLLIN);
		if (err == -EPERM) { /* a regular file or /dev/null: nothing to wait for */
			log_info("the serial port's input cannot be waited on; it gets none");
			return 0;
		}
		if (err)
			return err;
		u->in_fd = in_fd;
		u->watching = true;
	}
	return 0;
}

/* Input flows while started: the thread's loop watches the fd (the first start makes the
 * thread, off the path to the first guest instruction). */
static int uart_start(void *dev)
{
	struct uart *u = dev;
	int err = 0;

	if (u->in_fd < 0)
		return 0;
	pthread_mutex_lock(&u->lock);
	if (!u->watching && !u->in_eof)
		u->watching = loop_add(&u->loop, &u->input, EPOLLIN) == 0;
	pthread_mutex_unlock(&u->lock);
	if (!u->rx_started) {
		err = -pthread_create(&u->rx_thread, NULL, rx_thread, u);
		u->rx_started = err == 0;
	}
	return err;
}

static void uart_stop(void *dev)
{
	struct uart *u = dev;

	pthread_mutex_lock(&u->lock);
	if (u->watching)
		loop_del(&u->loop, &u->input);
	u->watching = false;
	pthread_mutex_unlock(&u->lock);
}

/* The registers and the receive FIFO, as plain data. */
struct uart_saved {
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr, thre_pending, irq_level, pad[3];
	uint16_t rx_head, rx_len;
	uint8_t rx[256];
};

static size_t uart_save(void *dev, uint8_t *buf, size_t cap)
{
	struct uart *u = dev;
	struct uart_saved st;

	if (cap < sizeof(st))
		return 0;
	memset(&st, 0, sizeof(st));
	pthread_mutex_lock(&u->lock);
	st = (struct uart_saved){u->ier, u->lcr, u->mcr, u->scr, u->dll, u->dlm, u->fcr,
				 u->thre_pending, u->irq_level, {0}, (uint16_t)u->rx_head,
				 (uint16_t)u->rx_len, {0}};
	memcpy(st.rx, u->rx, sizeof(st.rx));
	pthread_mutex_unlock(&u->lock);
	memcpy(buf, &st, sizeof(st));
	return sizeof(st);
}

static int uart_restore(void *dev, const uint8_t *buf, size_t len, const char **why)
{
	struct uart *u = dev;
	struct uart_saved st;

	if (len != sizeof(st)) {
		*why = "the UART state has the wrong size";
		return -EINVAL;
	}
	memcpy(&st, buf, sizeof(st));
	if (st.rx_head >= sizeof(u->rx) || st.rx_len > sizeof(u->rx) || st.ier > 0x0f ||
	    st.mcr > 0x1f || st.thre_pending > 1 || st.irq_level > 1) {
		*why = "the UART state is out of range";
		return -EINVAL;
	}
	pthread_mutex_lock(&u->lock);
	u->ier = st.ier, u->lcr = st.lcr, u->mcr = st.mcr, u->scr = st.scr;
	u->dll = st.dll, u->dlm = st.dlm, u->fcr = st.fcr;
	u->thre_pending = st.thre_pending;
	u->rx_head = st.rx_head, u->rx_len = st.rx_len;
	memcpy(u->rx, st.rx, sizeof(u->rx));
	u->irq_level = !st.irq_level; /* so that update_irq drives the line as restored */
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

const struct platform_dev_ops uart_ops = {
	.name = "uart",
	.ranges = {{PLATFORM_PIO, UART_COM1_BASE, 8}},
	.io = uart_io,
	.start = uart_start,
	.stop = uart_stop,
	.save = uart_save,
	.restore = uart_restore,
};

void uart_destroy(struct uart *u)
{
	if (u->rx_started) {
		loop_stop(&u->loop);
		pthread_join(u->rx_thread, NULL);
		u->rx_started = false;
	}
	loop_destroy(&u->loop);
	if (u->out)
		fflush(u->out);
}
