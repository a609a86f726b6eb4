/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Console input (docs/pv-abi.md 7.1), on the domain's service loop (service.c): when the
 * console input fd is readable, as much as the ring has room for is copied in and the port
 * is raised. While the ring is full the fd is not watched, so bytes the guest has not taken
 * yet stay in the host's fd (back-pressure) and nothing is lost when the domain ends or
 * reboots: the next domain reads on from where this one left. The guest does not say when
 * it consumes (that would cost it an exit): a timer looks at its cons again every
 * FULL_SLICE_MS until there is room. The VMM keeps its own producer index and never trusts
 * the guest's cons beyond it.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "capsule/log.h"
#include "capsule/pv.h"

#define FULL_SLICE_MS 5

/* Free bytes in the ring, or 0 if the guest's cons is inconsistent (R-CIN-4): ahead of
 * prod or further behind than the ring holds. Then nothing is written until it is sane. */
static uint32_t room(struct pv_domain *pv)
{
	uint32_t cons = __atomic_load_n(&pv->console_in->cons, __ATOMIC_ACQUIRE);
	uint32_t used = pv->console_in_prod - cons; /* wraps correctly in 32 bits */

	return used > CAP_CONSOLE_IN_SIZE ? 0 : CAP_CONSOLE_IN_SIZE - used;
}

/* console_in_lock held. */
static void watch(struct pv_domain *pv, bool on)
{
	uint64_t slice = FULL_SLICE_MS * 1000000ull;

	if (on == pv->console_in_watching)
		return;
	if (on) {
		loop_timer_arm(&pv->console_in_retry, 0, 0);
		pv->console_in_watching = loop_add(&pv->loop, &pv->console_in_src, EPOLLIN) == 0;
	} else {
		loop_del(&pv->loop, &pv->console_in_src);
		pv->console_in_watching = false;
		loop_timer_arm(&pv->console_in_retry, monotonic_ns() + slice, slice);
	}
}

/* The fd is readable (console_in_lock held): copy what fits, raise the port. */
static void take_input(struct pv_domain *pv, int fd)
{
	struct cap_console_in *r = pv->console_in;
	uint8_t buf[CAP_CONSOLE_IN_SIZE];
	uint32_t space, prod = pv->console_in_prod;
	ssize_t n;

	if (!(space = room(pv))) {
		watch(pv, false); /* until the retry timer sees room */
		return;
	}
	n = read(fd, buf, space);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* End of input (or an error): no more input, the port is not raised again. */
		log_debug("console input: %s; the guest gets no more", n ? strerror(errno) : "EOF");
		loop_del(&pv->loop, &pv->console_in_src);
		pv->console_in_watching = false;
		pv->console_in_eof = true;
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

static void input(struct loop *l, struct loop_source *src, uint32_t events)
{
	struct pv_domain *pv = src->opaque;

	(void)l, (void)events;
	/* Held through the copy: a pause waits for it, and nothing reaches guest memory after. */
	pthread_mutex_lock(&pv->console_in_lock);
	if (pv->console_in_paused) {
		watch(pv, false);
		loop_timer_arm(&pv->console_in_retry, 0, 0);
	} else {
		take_input(pv, src->fd);
	}
	pthread_mutex_unlock(&pv->console_in_lock);
}

/* A paused domain takes no input: its fd is not watched until it resumes. Returns once
 * no input is being copied (the service thread's handler holds the lock throughout). */
void pv_console_in_pause(struct pv_domain *pv, bool paused)
{
	if (!pv->console_in_port)
		return;
	pthread_mutex_lock(&pv->console_in_lock);
	pv->console_in_paused = paused;
	if (!pv->console_in_eof) {
		watch(pv, !paused);
		if (paused)
			loop_timer_arm(&pv->console_in_retry, 0, 0);
	}
	pthread_mutex_unlock(&pv->console_in_lock);
}

/* While the ring was full: is there room now? */
static void retry(struct loop *l, struct loop_source *src, uint32_t events)
{
	struct pv_domain *pv = src->opaque;

	(void)l, (void)events;
	pthread_mutex_lock(&pv->console_in_lock);
	if (loop_timer_read(src) && !pv->console_in_eof && !pv->console_in_paused && room(pv))
		watch(pv, true);
	pthread_mutex_unlock(&pv->console_in_lock);
}

int pv_console_in_setup(struct pv_domain *pv, int fd)
{
	return pv_console_in_attach(pv, fd, 0);
}

int pv_console_in_attach(struct pv_domain *pv, int fd, uint32_t restored_port)
{
	struct cap_console_in *r = pv->console_in;
	int64_t port;
	int err;

	if (fd < 0)
		return 0;
	pv->console_in_src = (struct loop_source){fd, input, pv};
	err = loop_add(&pv->loop, &pv->console_in_src, EPOLLIN);
	if (err == -EPERM) {
		/* A regular file or /dev/null cannot be waited on: no input, and no flag
		 * (R-CIN-5), as the serial port of an HVM domain gets none either. */
		log_info("the console's input cannot be waited on; the domain gets none");
		return 0;
	}
	if (!err) {
		pv->console_in_watching = true;
		err = loop_timer_add(&pv->loop, &pv->console_in_retry, retry, pv);
	}
	if (err) {
		log_err("cannot set up console input: %s", strerror(-err));
		return err;
	}
	if (restored_port) { /* the ring and its port are in the restored memory and ports */
		pv->console_in_port = restored_port;
		return 0;
	}
	port = evtchn_alloc(pv, 0, PV_PORT_VCPU);
	if (port <= 0) {
		log_err("no event channel left for console input");
		return -ENOSPC;
	}
	pv->console_in_port = (uint32_t)port;
	memset(r, 0, sizeof(*r));
	r->port = pv->console_in_port;
	return 0;
}
