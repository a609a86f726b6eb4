/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Console input (docs/pv-abi.md 7.1): a thread copies the domain's console input fd into
 * the input ring and raises its port. It reads only as much as the ring has room for, so
 * bytes the guest has not taken yet stay in the host's fd (back-pressure) and nothing is
 * lost when the domain ends or reboots: the next domain reads on from where this one left.
 * The VMM keeps its own producer index and never trusts the guest's cons beyond it.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "capsule/log.h"
#include "capsule/pv.h"
#include "capsule/sandbox.h"

/* While the ring is full: how long to wait before looking at cons again. The guest does not
 * say when it consumes (that would cost it an exit); a stop ends the wait at once. */
#define FULL_SLICE_MS 5

/* Free bytes in the ring, or 0 if the guest's cons is inconsistent (R-CIN-4): ahead of
 * prod or further behind than the ring holds. Then nothing is written until it is sane. */
static uint32_t room(struct pv_domain *pv)
{
	uint32_t cons = __atomic_load_n(&pv->console_in->cons, __ATOMIC_ACQUIRE);
	uint32_t used = pv->console_in_prod - cons; /* wraps correctly in 32 bits */

	return used > CAP_CONSOLE_IN_SIZE ? 0 : CAP_CONSOLE_IN_SIZE - used;
}

static void input(struct loop *l, struct loop_source *src, uint32_t events)
{
	struct pv_domain *pv = src->opaque;
	struct cap_console_in *r = pv->console_in;
	uint8_t buf[CAP_CONSOLE_IN_SIZE];
	uint32_t space, prod = pv->console_in_prod;
	ssize_t n;

	(void)events;
	while (!(space = room(pv))) {
		struct pollfd stop = {.fd = l->stop_fd, .events = POLLIN};

		if (__atomic_load_n(&l->stopping, __ATOMIC_ACQUIRE))
			return;
		poll(&stop, 1, FULL_SLICE_MS);
	}
	n = read(src->fd, buf, space);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* End of input (or an error): no more input, the port is not raised again. */
		log_debug("console input: %s; the guest gets no more", n ? strerror(errno) : "EOF");
		loop_stop(l);
		return;
	}
	/* Only buf[prod % size] for prod - cons < size: the index never leaves buf, whatever
	 * the guest wrote (space <= size - used). */
	for (ssize_t i = 0; i < n; i++)
		r->buf[(prod + (uint32_t)i) % CAP_CONSOLE_IN_SIZE] = buf[i];
	pv->console_in_prod = prod + (uint32_t)n;
	/* The bytes before prod, and prod (the VMM's copy: a guest writing it is corrected)
	 * before the event that tells the guest to look. */
	__atomic_store_n(&r->prod, pv->console_in_prod, __ATOMIC_RELEASE);
	evtchn_send(pv, pv->console_in_port);
}

static void *input_thread(void *arg)
{
	struct pv_domain *pv = arg;

	if (sandbox_enter("pv-console-in", SANDBOX_GUEST) == 0)
		loop_run(&pv->console_in_loop);
	return NULL;
}

int pv_console_in_setup(struct pv_domain *pv, int fd)
{
	struct cap_console_in *r = pv->console_in;
	int64_t port;
	int err;

	if (fd < 0)
		return 0;
	err = loop_init(&pv->console_in_loop);
	pv->console_in_src = (struct loop_source){fd, input, pv};
	if (!err)
		err = loop_add(&pv->console_in_loop, &pv->console_in_src, EPOLLIN);
	if (err == -EPERM) {
		/* A regular file or /dev/null cannot be waited on: no input, and no flag
		 * (R-CIN-5), as the serial port of an HVM domain gets none either. */
		log_info("the console's input cannot be waited on; the domain gets none");
		loop_destroy(&pv->console_in_loop);
		return 0;
	}
	if (err) {
		log_err("cannot set up console input: %s", strerror(-err));
		loop_destroy(&pv->console_in_loop);
		return err;
	}
	port = evtchn_alloc(pv, 0, PV_PORT_VCPU);
	if (port <= 0) {
		log_err("no event channel left for console input");
		loop_destroy(&pv->console_in_loop);
		return -ENOSPC;
	}
	pv->console_in_port = (uint32_t)port;
	memset(r, 0, sizeof(*r));
	r->port = pv->console_in_port;
	return 0;
}

int pv_console_in_start(struct pv_domain *pv)
{
	int err;

	if (!pv->console_in_port)
		return 0;
	err = pthread_create(&pv->console_in_thread, NULL, input_thread, pv);
	pv->console_in_started = err == 0;
	return -err;
}

void pv_console_in_stop(struct pv_domain *pv)
{
	if (pv->console_in_started) {
		loop_stop(&pv->console_in_loop);
		pthread_join(pv->console_in_thread, NULL);
		pv->console_in_started = false;
	}
	loop_destroy(&pv->console_in_loop);
}
