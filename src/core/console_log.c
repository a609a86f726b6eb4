/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The console's history: the last CONSOLE_LOG_SIZE bytes a domain wrote to its console,
 * whatever the device (PV console ring, serial port, virtio-console), kept across reboots
 * by the domain and served by the API (vm.console). A bounded ring: old output goes.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capsule/vm.h"

void console_log_init(struct console_log *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
}

/* No system call: the guest-facing threads that append may not make any (sandbox). */
static void mirror_append(struct console_ring_head *h, const char *s, size_t n)
{
	char *data = (char *)(h + 1);
	uint64_t t = h->total;

	for (size_t done = 0; done < n;) {
		size_t at = (size_t)(t % CONSOLE_RING_DATA), take = CONSOLE_RING_DATA - at;

		if (take > n - done)
			take = n - done;
		memcpy(data + at, s + done, take);
		done += take;
		t += take;
	}
	__atomic_store_n(&h->total, t, __ATOMIC_RELEASE);
}

int console_log_mirror(struct console_log *l, int fd)
{
	struct console_ring_head *h;
	struct stat st;
	bool keep;

	if (fstat(fd, &st) < 0)
		return -errno;
	keep = st.st_size == (off_t)CONSOLE_RING_FILE_SIZE;
	if (!keep && ftruncate(fd, 0) < 0)
		return -errno;
	if (ftruncate(fd, CONSOLE_RING_FILE_SIZE) < 0)
		return -errno;
	h = mmap(NULL, CONSOLE_RING_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		return -errno;
	if (!keep || memcmp(h->magic, CONSOLE_RING_MAGIC, 8) || h->size != CONSOLE_RING_DATA) {
		memset(h, 0, sizeof(*h));
		memcpy(h->magic, CONSOLE_RING_MAGIC, 8);
		h->size = CONSOLE_RING_DATA;
	}
	pthread_mutex_lock(&l->lock);
	l->mirror = h;
	pthread_mutex_unlock(&l->lock);
	return 0;
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
	if (l->mirror)
		mirror_append(l->mirror, s, n);
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
