/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The console's history: the last CONSOLE_LOG_SIZE bytes a domain wrote to its console,
 * whatever the device (PV console ring, serial port, virtio-console), kept across reboots
 * by the domain and served by the API (vm.console). A bounded ring: old output goes.
 */
#include <string.h>

#include "capsule/vm.h"

void console_log_init(struct console_log *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
}

void console_log_append(struct console_log *l, const void *p, size_t n)
{
	const char *s = p;

	if (!l || !n)
		return;
	pthread_mutex_lock(&l->lock);
	if (n > CONSOLE_LOG_SIZE) { /* only the last of it survives anyway */
		l->total += n - CONSOLE_LOG_SIZE;
		s += n - CONSOLE_LOG_SIZE;
		n = CONSOLE_LOG_SIZE;
	}
	for (size_t done = 0; done < n;) {
		size_t at = l->total % CONSOLE_LOG_SIZE, take = CONSOLE_LOG_SIZE - at;

		if (take > n - done)
			take = n - done;
		memcpy(l->buf + at, s + done, take);
		done += take;
		l->total += take;
	}
	pthread_mutex_unlock(&l->lock);
}

size_t console_log_read(struct console_log *l, char *out, size_t cap, uint64_t *total)
{
	size_t have, n, start;

	pthread_mutex_lock(&l->lock);
	have = l->total < CONSOLE_LOG_SIZE ? (size_t)l->total : CONSOLE_LOG_SIZE;
	n = have < cap ? have : cap;
	start = (size_t)((l->total - n) % CONSOLE_LOG_SIZE);
	for (size_t done = 0; done < n;) { /* the last n bytes, oldest first */
		size_t take = CONSOLE_LOG_SIZE - (start + done) % CONSOLE_LOG_SIZE;

		if (take > n - done)
			take = n - done;
		memcpy(out + done, l->buf + (start + done) % CONSOLE_LOG_SIZE, take);
		done += take;
	}
	if (total)
		*total = l->total;
	pthread_mutex_unlock(&l->lock);
	return n;
}
