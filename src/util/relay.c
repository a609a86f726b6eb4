/* SPDX-License-Identifier: Apache-2.0 */
/* The migration relay (include/capsule/relay.h). */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capsule/migrate.h"
#include "capsule/relay.h"
#include "capsule/tls.h"

#define RELAY_BUF (1u << 16)

int relay_write_all(int fd, const void *buf, size_t n)
{
	const char *b = buf;

	while (n) {
		ssize_t k = write(fd, b, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b += k, n -= (size_t)k;
	}
	return 0;
}

static ssize_t net_read(struct relay *r, char *buf, size_t n)
{
	return r->tls ? tls_read(r->tls, buf, n) : read(r->net, buf, n);
}

static int net_write(struct relay *r, const char *buf, size_t n)
{
	return r->tls ? tls_write_all(r->tls, buf, n) : relay_write_all(r->net, buf, n);
}

/* The bytes from the destination's side: its answer is the first of them. */
static void saw_answer(struct relay *r, const char *b, size_t n)
{
	if (!n)
		return;
	pthread_mutex_lock(&r->lock);
	if (!r->answer)
		r->answer = b[0];
	pthread_mutex_unlock(&r->lock);
}

/* The bytes towards the destination after its answer: the source's go. */
static void after_answer(struct relay *r, size_t n)
{
	pthread_mutex_lock(&r->lock);
	if (r->answer)
		r->to_vmm_after_answer += n;
	pthread_mutex_unlock(&r->lock);
}

static void *relay_thread(void *arg)
{
	struct relay *r = arg;
	/* On this thread's own (default, 8 MiB) stack: a __thread buffer is zeroed at the
	 * creation of every thread of the process, each of a VMM's 64 vCPU threads too. */
	char buf[RELAY_BUF];
	int idle = r->idle_ms ? r->idle_ms : 15000;

	for (;;) {
		struct pollfd p[3] = {{.fd = r->vmm, .events = POLLIN},
				      {.fd = r->net, .events = POLLIN},
				      {.fd = r->abort_fd, .events = POLLIN}};
		ssize_t k;
		int n = r->tls && tls_pending(r->tls) ? (p[1].revents = POLLIN, 1)
						       : poll(p, 3, idle);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (p[2].revents) {
			uint64_t v;
			bool stop;

			pthread_mutex_lock(&r->lock);
			stop = !r->answer;
			r->aborted = stop;
			pthread_mutex_unlock(&r->lock);
			if (stop)
				break;
			(void)!read(r->abort_fd, &v, sizeof(v)); /* too late: carry on */
		}
		if (p[1].revents) {
			k = net_read(r, buf, sizeof(buf));
			if (k < 0 && r->tls && errno == EAGAIN)
				continue; /* a record without data */
			if (k <= 0)
				break;
			if (!r->answer_from_vmm)
				saw_answer(r, buf, (size_t)k);
			else
				after_answer(r, (size_t)k);
			if (relay_write_all(r->vmm, buf, (size_t)k))
				break;
			pthread_mutex_lock(&r->lock);
			r->to_vmm += (uint64_t)k;
			pthread_mutex_unlock(&r->lock);
		}
		if (p[0].revents) {
			k = read(r->vmm, buf, sizeof(buf));
			if (k <= 0)
				break;
			if (r->answer_from_vmm)
				saw_answer(r, buf, (size_t)k);
			if (net_write(r, buf, (size_t)k))
				break;
			pthread_mutex_lock(&r->lock);
			r->to_net += (uint64_t)k;
			pthread_mutex_unlock(&r->lock);
		}
	}
	shutdown(r->vmm, SHUT_RDWR);
	return NULL;
}

int relay_start(struct relay *r)
{
	int err;

	pthread_mutex_init(&r->lock, NULL);
	r->to_net = r->to_vmm = r->to_vmm_after_answer = 0;
	r->answer = 0;
	r->aborted = false;
	r->abort_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->abort_fd < 0)
		return -errno;
	err = pthread_create(&r->thread, NULL, relay_thread, r);
	if (err) {
		close(r->abort_fd);
		r->abort_fd = -1;
		return -err;
	}
	return 0;
}

void relay_join(struct relay *r)
{
	pthread_join(r->thread, NULL);
	close(r->abort_fd);
	r->abort_fd = -1;
	pthread_mutex_destroy(&r->lock);
}

bool relay_abort(struct relay *r)
{
	bool early;

	pthread_mutex_lock(&r->lock);
	early = !r->answer;
	pthread_mutex_unlock(&r->lock);
	if (early && write(r->abort_fd, &(uint64_t){1}, sizeof(uint64_t)) < 0)
		return false;
	return early; /* the thread decides again, under the lock, when it wakes */
}

bool relay_committed(struct relay *r)
{
	bool c;

	pthread_mutex_lock(&r->lock);
	c = r->answer == MIG_READY && (r->answer_from_vmm ? r->to_vmm_after_answer > 0 : true);
	pthread_mutex_unlock(&r->lock);
	return c;
}
