/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monitor thread: waits on every VMM's pidfd (readable once the process has ended,
 * whoever its parent is) and, every CONSOLE_TICK_MS, relays new console output to the
 * readers of each console (api_io.c). It never talks to a VMM over its socket.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "daemon.h"

#define CONSOLE_TICK_MS 50

static void *monitor_thread(void *arg)
{
	struct daemon *dm = arg;
	struct epoll_event evs[64];

	for (;;) {
		int n = epoll_wait(dm->epfd, evs, 64, CONSOLE_TICK_MS);

		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "capsuled: monitor: epoll_wait: %s\n", strerror(errno));
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			struct ddom *d;

			if (evs[i].data.u64 == 0)
				return NULL; /* the stop eventfd */
			pthread_mutex_lock(&dm->lock);
			d = dom_find_id(dm, (int64_t)evs[i].data.u64);
			if (d && d->pidfd >= 0)
				dom_vmm_ended(dm, d);
			pthread_mutex_unlock(&dm->lock);
		}
		console_relay(dm);
	}
}

int monitor_start(struct daemon *dm)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};

	if ((dm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    epoll_ctl(dm->epfd, EPOLL_CTL_ADD, dm->stop_fd, &ev) < 0)
		return -errno;
	return -pthread_create(&dm->monitor, NULL, monitor_thread, dm);
}

void monitor_stop(struct daemon *dm)
{
	uint64_t one = 1;

	if (write(dm->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(dm->monitor, NULL);
	close(dm->stop_fd);
}
