/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "capsule/dirty.h"
#include "capsule/log.h"
#include "capsule/mem.h"

int gmem_init(struct guest_mem *m, uint64_t size)
{
	int err;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (size == 0 || size % 4096)
		return -EINVAL;
	m->fd = memfd_create("capsule-guest-ram", MFD_CLOEXEC);
	if (m->fd < 0)
		return -errno;
	if (ftruncate(m->fd, (off_t)size) < 0)
		goto fail;
	/* NORESERVE: a domain pays only for the pages it touches. */
	m->host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, m->fd, 0);
	if (m->host == MAP_FAILED) {
		m->host = NULL;
		goto fail;
	}
	m->size = size;
	return 0;
fail:
	err = -errno;
	close(m->fd);
	m->fd = -1;
	return err;
}

int gmem_init_anon(struct guest_mem *m, uint64_t size)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (size == 0 || size % 4096)
		return -EINVAL;
	m->host = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->host == MAP_FAILED) {
		m->host = NULL;
		return -errno;
	}
	/* KSM merges only private anonymous pages in areas marked so; a kernel without KSM
	 * (EINVAL) runs the domain unshared. */
	if (madvise(m->host, size, MADV_MERGEABLE) < 0 && errno != EINVAL)
		log_warn("cannot mark guest memory mergeable: %m");
	m->size = size;
	m->private_file = true; /* no file: saved and sent whole, released by MADV_DONTNEED */
	return 0;
}

int gmem_init_file(struct guest_mem *m, uint64_t size, int fd)
{
	struct stat st;
	int err;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (size == 0 || size % 4096)
		return -EINVAL;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < size)
		return -EINVAL;
	m->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (m->fd < 0)
		return -errno;
	m->host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, m->fd, 0);
	if (m->host == MAP_FAILED) {
		err = -errno;
		m->host = NULL;
		close(m->fd);
		m->fd = -1;
		return err;
	}
	/* The pages a clone writes are anonymous copies: KSM may fold identical ones. */
	if (madvise(m->host, size, MADV_MERGEABLE) < 0 && errno != EINVAL)
		log_warn("cannot mark guest memory mergeable: %m");
	m->size = size;
	m->private_file = true;
	return 0;
}

void gmem_discard(const struct guest_mem *m, gpa_t gpa, uint64_t len)
{
	if (!gmem_vmm_ptr(m, gpa, len))
		return;
	if (m->private_file ? madvise(m->host + gpa, len, MADV_DONTNEED) < 0
			    : fallocate(m->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)gpa, (off_t)len) < 0)
		log_warn("cannot release guest pages: %m");
}

void gmem_destroy(struct guest_mem *m)
{
	if (m->host)
		munmap(m->host, m->size);
	if (m->fd >= 0)
		close(m->fd);
	m->host = NULL;
	m->fd = -1;
	m->size = 0;
	m->hole_start = m->hole_end = 0;
	m->nr_vmm_owned = 0;
	m->private_file = false;
	gmem_dirty_free(m);
}

int gmem_set_hole(struct guest_mem *m, gpa_t start, gpa_t end)
{
	if (start == 0 || start >= end || end >= m->size || start % 4096 || end % 4096)
		return -EINVAL;
	m->hole_start = start;
	m->hole_end = end;
	return 0;
}

unsigned gmem_ram_ranges(const struct guest_mem *m, struct gmem_range r[2])
{
	r[0] = (struct gmem_range){0, gmem_low_end(m)};
	if (!m->hole_end)
		return 1;
	r[1] = (struct gmem_range){m->hole_end, m->size};
	return 2;
}

void *gmem_vmm_ptr(const struct guest_mem *m, gpa_t gpa, uint64_t len)
{
	/* Written so that no sum can wrap: gpa < size, then len <= size - gpa. */
	if (!m->host || gpa >= m->size || len > m->size - gpa)
		return NULL;
	/* Not a byte in the hole, not even for an empty range (see gmem_ptr). */
	if (m->hole_end && gpa < m->hole_end && gpa + (len ? len : 1) > m->hole_start)
		return NULL;
	/* The caller may write through it: a dirty page for snapshots and migration. */
	if (__atomic_load_n(&m->dirty, __ATOMIC_RELAXED))
		gmem_dirty_mark(m, gpa, len);
	return m->host + gpa;
}

int gmem_reserve(struct guest_mem *m, gpa_t gpa, uint64_t len)
{
	if (!gmem_vmm_ptr(m, gpa, len) || len == 0 || m->nr_vmm_owned == GMEM_MAX_VMM_RANGES)
		return -EINVAL;
	m->vmm_owned[m->nr_vmm_owned++] = (struct gmem_range){gpa, gpa + len};
	return 0;
}

void *gmem_ptr(const struct guest_mem *m, gpa_t gpa, uint64_t len)
{
	void *p = gmem_vmm_ptr(m, gpa, len);

	if (!p)
		return NULL;
	/* In RAM, so gpa + len cannot wrap. Even an empty range may not point into the VMM's
	 * pages: a caller could still write through the pointer it got. */
	for (unsigned i = 0; i < m->nr_vmm_owned; i++)
		if (gpa < m->vmm_owned[i].end && gpa + (len ? len : 1) > m->vmm_owned[i].start)
			return NULL;
	return p;
}

int gmem_read(const struct guest_mem *m, gpa_t gpa, void *dst, uint64_t len)
{
	const void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int gmem_write(const struct guest_mem *m, gpa_t gpa, const void *src, uint64_t len)
{
	void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

uint64_t host_ram_bytes(void)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0)
		return UINT64_MAX;
	return (uint64_t)si.totalram * si.mem_unit;
}
