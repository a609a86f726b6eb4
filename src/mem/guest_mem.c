#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "capsule/log.h"
#include "capsule/mem.h"

int gmem_init(struct guest_mem *m, uint64_t size)
{
	int err;

	m->fd = -1;
	m->host = NULL;
	m->size = 0;
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

void gmem_destroy(struct guest_mem *m)
{
	if (m->host)
		munmap(m->host, m->size);
	if (m->fd >= 0)
		close(m->fd);
	m->host = NULL;
	m->fd = -1;
	m->size = 0;
}

void *gmem_ptr(const struct guest_mem *m, gpa_t gpa, uint64_t len)
{
	/* Written so that no sum can wrap: gpa < size, then len <= size - gpa. */
	if (!m->host || gpa >= m->size || len > m->size - gpa)
		return NULL;
	return m->host + gpa;
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
