/*
 * Guest memory: one memfd-backed region from guest-physical 0, and the single checked path
 * from a guest-physical address to host memory. Nothing else in the VMM turns a guest
 * address into a pointer.
 */
#ifndef CAPSULE_MEM_H
#define CAPSULE_MEM_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t gpa_t; /* a guest-physical address: never dereference, translate it */

struct guest_mem {
	int fd;        /* memfd: later work snapshots, shares and migrates it */
	uint8_t *host; /* mapping of the whole region */
	uint64_t size;
};

int gmem_init(struct guest_mem *m, uint64_t size);
void gmem_destroy(struct guest_mem *m);

/* Host pointer to [gpa, gpa + len) or NULL if any byte is outside guest RAM. */
void *gmem_ptr(const struct guest_mem *m, gpa_t gpa, uint64_t len);
/* Copies that fail with -EFAULT instead of touching anything out of range. */
int gmem_read(const struct guest_mem *m, gpa_t gpa, void *dst, uint64_t len);
int gmem_write(const struct guest_mem *m, gpa_t gpa, const void *src, uint64_t len);

/* Total RAM of this host in bytes (for refusing impossible --mem values). */
uint64_t host_ram_bytes(void);

#endif
