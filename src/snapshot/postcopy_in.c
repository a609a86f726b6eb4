/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Post-copy migration, the receiving side (docs/migration.md, "Post-copy"). The source
 * switched over at once: the state came, but the memory did not. As soon as the restored
 * boot's memory is mapped (boot_once), before anything reads or writes it, the mapping is registered
 * with userfaultfd for missing pages, and a thread serves every fault on it: a page the
 * source said holds no data is filled with zeros here (UFFDIO_ZEROPAGE), any other is
 * asked of the source (its pfn, 8 bytes, on the same connection) unless asked already;
 * meanwhile the source pushes every page with data in order, and each that arrives is put
 * in place with UFFDIO_COPY, waking whoever waits on it (a vCPU inside KVM_RUN, or a VMM
 * thread reading guest memory). When the source says every page went (SNAP_MIG_DONE), the
 * range is unregistered (a hole is zero, as it should be), the source is told MIG_PC_DONE
 * and may end.
 *
 * After the switch-over the domain lives on two hosts: if the source or the network goes
 * before every page came, pages are missing that exist nowhere else, and the domain
 * cannot go on. The VMM ends at once with CAPSULE_EXIT_CRASH, as a domain whose host
 * failed does (docs/migration.md says so).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capsule/dirty.h"
#include "capsule/log.h"
#include "capsule/migrate.h"
#include "capsule/tls.h"
#include "migrate_in.h"

#define PAGE 4096u

struct postcopy {
	struct migrate_in *in;
	const uint64_t *need;   /* the source's pages with data */
	uint64_t *have, *asked; /* here already; asked of the source */
	uint64_t nr_pages, missing;
	uint8_t *host;
	int uffd;
	uint8_t *batch;
	uint64_t faults, requested, zeroed, received;
	pthread_t thread;
};

static bool bit(const uint64_t *b, uint64_t p)
{
	return b[p / 64] >> (p % 64) & 1;
}

static void set(uint64_t *b, uint64_t p)
{
	b[p / 64] |= 1ull << (p % 64);
}

int postcopy_receive_need(struct migrate_in *in, struct snap_restore *r, uint64_t len,
			  uint64_t nr_pages, uint32_t *crc, char *err, size_t errlen)
{
	uint64_t words = dirty_words(nr_pages), n;
	int rc;

	if (r->pc_need || len != 8 + words * 8) {
		snprintf(err, errlen, "a malformed post-copy record");
		return -EINVAL;
	}
	if ((rc = mig_read_full(in, &n, 8, crc)))
		goto gone;
	if (n != nr_pages) {
		snprintf(err, errlen, "the post-copy record's page count differs from the stream's");
		return -EINVAL;
	}
	if (!(r->pc_need = calloc(words, 8))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((rc = mig_read_full(in, r->pc_need, words * 8, crc)))
		goto gone;
	if (nr_pages % 64) /* bits past the end are not pages */
		r->pc_need[words - 1] &= (1ull << (nr_pages % 64)) - 1;
	r->pc_pages = nr_pages;
	return 0;
gone:
	snprintf(err, errlen, "the source went away mid-stream: %s", strerror(-rc));
	return rc;
}

static void lost(struct postcopy *pc, const char *why)
{
	fprintf(stderr, "capsule: post-copy: %s with %llu pages still at the source; the domain "
		"cannot go on without them and ends here\n", why,
		(unsigned long long)pc->missing);
	_exit(CAPSULE_EXIT_CRASH);
}

static int say(struct postcopy *pc, const void *b, size_t n)
{
	struct migrate_in *in = pc->in;

	return in->tls ? tls_write_all(in->tls, b, n)
		       : (send(in->fd, b, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1);
}

/* A fault: zeros, or ask the source. */
static void fault(struct postcopy *pc, uint64_t addr)
{
	uint64_t pfn = (addr - (uint64_t)(uintptr_t)pc->host) / PAGE;

	pc->faults++;
	if (pfn >= pc->nr_pages)
		return;
	if (!bit(pc->need, pfn)) {
		struct uffdio_zeropage z = {.range = {.start = (uint64_t)(uintptr_t)pc->host +
						      pfn * PAGE, .len = PAGE}};

		if (ioctl(pc->uffd, UFFDIO_ZEROPAGE, &z) < 0 && errno != EEXIST)
			lost(pc, "cannot map a zero page");
		pc->zeroed++;
		return;
	}
	if (bit(pc->have, pfn) || bit(pc->asked, pfn))
		return; /* on its way (or there: the waiter was woken by the copy) */
	set(pc->asked, pfn);
	pc->requested++;
	if (say(pc, &pfn, sizeof(pfn)))
		lost(pc, "the source went away");
}

/* One record from the source: pages to put in place, or the end. true at the end. */
static bool record(struct postcopy *pc)
{
	struct { uint32_t type, flags; uint64_t len; } rh;
	struct mig_pages mp;

	if (mig_read_full(pc->in, &rh, sizeof(rh), NULL))
		lost(pc, "the source went away");
	if (rh.type == SNAP_MIG_DONE && rh.len == 8) {
		uint64_t pushed;

		if (mig_read_full(pc->in, &pushed, 8, NULL))
			lost(pc, "the source went away");
		return true;
	}
	if (rh.type != SNAP_MIG_PAGES || rh.len < sizeof(mp) ||
	    mig_read_full(pc->in, &mp, sizeof(mp), NULL) || !mp.count ||
	    mp.count > MIG_MAX_BATCH || rh.len != sizeof(mp) + mp.count * PAGE ||
	    mp.pfn >= pc->nr_pages || mp.count > pc->nr_pages - mp.pfn ||
	    mig_read_full(pc->in, pc->batch, mp.count * PAGE, NULL))
		lost(pc, "a malformed or cut post-copy record came");
	for (uint64_t i = 0; i < mp.count; i++) {
		uint64_t p = mp.pfn + i;
		struct uffdio_copy c = {.dst = (uint64_t)(uintptr_t)pc->host + p * PAGE,
					.src = (uint64_t)(uintptr_t)(pc->batch + i * PAGE),
					.len = PAGE};

		if (!bit(pc->need, p) || bit(pc->have, p))
			continue; /* a page it did not announce, or twice: keep the first */
		if (ioctl(pc->uffd, UFFDIO_COPY, &c) < 0 && errno != EEXIST)
			lost(pc, "cannot put a page in place");
		set(pc->have, p);
		pc->received++;
		pc->missing--;
	}
	return false;
}

static void *serve(void *arg)
{
	struct postcopy *pc = arg;
	struct uffdio_range all = {.start = (uint64_t)(uintptr_t)pc->host,
				   .len = pc->nr_pages * PAGE};
	bool done = false;
	char ack = MIG_PC_DONE;

	while (!done) {
		struct pollfd p[2] = {{.fd = pc->uffd, .events = POLLIN},
				      {.fd = pc->in->fd, .events = POLLIN}};

		if (!(pc->in->tls && tls_pending(pc->in->tls)) && poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			lost(pc, "poll failed");
		}
		if (p[0].revents & POLLIN) {
			struct uffd_msg m[16];
			ssize_t n = read(pc->uffd, m, sizeof(m));

			for (ssize_t i = 0; i < n / (ssize_t)sizeof(m[0]); i++)
				if (m[i].event == UFFD_EVENT_PAGEFAULT)
					fault(pc, m[i].arg.pagefault.address);
		}
		if ((pc->in->tls && tls_pending(pc->in->tls)) || (p[1].revents & (POLLIN | POLLHUP)))
			done = record(pc);
	}
	if (pc->missing)
		lost(pc, "the source said it was done");
	/* Every page with data is here; the rest are holes, which read as zeros. */
	if (ioctl(pc->uffd, UFFDIO_UNREGISTER, &all) < 0)
		log_warn("post-copy: cannot unregister the memory: %m");
	if (say(pc, &ack, 1))
		log_warn("post-copy: the source went before it heard that every page came");
	log_info("post-copy: done: %llu faults, %llu pages asked for, %llu pushed or sent, "
		 "%llu zero pages", (unsigned long long)pc->faults,
		 (unsigned long long)pc->requested, (unsigned long long)pc->received,
		 (unsigned long long)pc->zeroed);
	close(pc->uffd);
	free((void *)pc->need);
	free(pc->batch);
	free(pc->have);
	free(pc->asked);
	free(pc);
	return NULL;
}

static int open_uffd(void)
{
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC), fd;

	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		close(dev);
		if (fd >= 0)
			return fd;
	}
	return (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
}

int postcopy_start(struct guest_mem *m, struct snap_restore *r, char *err, size_t errlen)
{
	struct postcopy *pc;
	struct uffdio_api api = {.api = UFFD_API};
	struct uffdio_register reg = {.mode = UFFDIO_REGISTER_MODE_MISSING};
	uint64_t words;

	if (!r->pc_in || !m->host || m->size != r->pc_pages * PAGE || m->fd < 0 ||
	    !m->private_file) {
		snprintf(err, errlen, "post-copy needs the migration's connection and guest memory "
			 "mapped from the received memory file");
		return -EINVAL;
	}
	words = dirty_words(r->pc_pages);
	if (!(pc = calloc(1, sizeof(*pc))) || !(pc->have = calloc(words, 8)) ||
	    !(pc->asked = calloc(words, 8)) ||
	    !(pc->batch = malloc((size_t)MIG_MAX_BATCH * PAGE))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	pc->in = r->pc_in;
	pc->need = r->pc_need;
	pc->nr_pages = r->pc_pages;
	pc->missing = dirty_count(r->pc_need, r->pc_pages);
	pc->host = m->host;
	pc->uffd = open_uffd();
	reg.range.start = (uint64_t)(uintptr_t)m->host;
	reg.range.len = m->size;
	if (pc->uffd < 0 || ioctl(pc->uffd, UFFDIO_API, &api) < 0 ||
	    ioctl(pc->uffd, UFFDIO_REGISTER, &reg) < 0 ||
	    !(reg.ioctls & (1ull << _UFFDIO_COPY)) || !(reg.ioctls & (1ull << _UFFDIO_ZEROPAGE))) {
		snprintf(err, errlen, "cannot register guest memory with userfaultfd: %s",
			 strerror(errno));
		goto fail;
	}
	if ((errno = pthread_create(&pc->thread, NULL, serve, pc))) {
		snprintf(err, errlen, "cannot start the post-copy thread: %s", strerror(errno));
		goto fail;
	}
	pthread_detach(pc->thread);
	r->pc_need = NULL; /* the thread's now */
	log_info("post-copy: %llu pages to come from the source, on demand and pushed",
		 (unsigned long long)pc->missing);
	return 0;
fail:
	if (pc) {
		if (pc->uffd > 0)
			close(pc->uffd);
		free(pc->batch);
		free(pc->have);
		free(pc->asked);
		free(pc);
	}
	return -EIO;
}
