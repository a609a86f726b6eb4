/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest memory: one memfd-backed region from guest-physical 0, and the single checked path
 * from a guest-physical address to host memory. Nothing else in the VMM turns a guest
 * address into a pointer. The region may have a hole (an HVM domain's PCI hole below
 * 4 GiB, RAM beyond it moved above 4 GiB): its pages are in the mapping and the memfd but
 * never touched, so they cost no host memory, and the door refuses them.
 */
#ifndef CAPSULE_MEM_H
#define CAPSULE_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t gpa_t; /* a guest-physical address: never dereference, translate it */

#define GMEM_MAX_VMM_RANGES 4

struct gmem_range {
	gpa_t start, end; /* [start, end) */
};

struct guest_mem {
	int fd;        /* memfd, a snapshot's memory file mapped privately, or -1 (anonymous) */
	/* Mapped MAP_PRIVATE: a snapshot's memory copy-on-write, or private anonymous memory
	 * (fd -1). Either way no file says where data is, and discarding is MADV_DONTNEED. */
	bool private_file;
	uint8_t *host; /* mapping of the whole region */
	uint64_t size;     /* the region: RAM's top, the hole included */
	gpa_t hole_start, hole_end; /* [hole_start, hole_end) is not RAM; both 0: no hole */
	/*
	 * Pages inside RAM that the VMM owns (a PV domain's CPU tables, docs/pv-abi.md):
	 * gmem_ptr refuses them, so no device, ring or hypercall ever reads or writes them on
	 * the guest's behalf. Set while the domain is built, read-only afterwards.
	 */
	struct gmem_range vmm_owned[GMEM_MAX_VMM_RANGES];
	unsigned nr_vmm_owned;
	/*
	 * Dirty logging (include/capsule/dirty.h): while it is on, every range gmem_ptr and
	 * gmem_vmm_ptr hand out is marked dirty, since the caller may write through it. NULL
	 * until logging first starts; freed by gmem_destroy.
	 */
	struct gmem_dirty *dirty;
};

int gmem_init(struct guest_mem *m, uint64_t size);
/*
 * Private anonymous guest memory marked MADV_MERGEABLE (memory_backing "private",
 * docs/resources.md): KSM may fold its identical pages with other domains'. It has no
 * file, so it cannot be handed to another process. 0 or -errno.
 */
int gmem_init_anon(struct guest_mem *m, uint64_t size);
/*
 * Guest memory from a snapshot's memory file, mapped copy-on-write: the domain reads the
 * file's pages as it touches them (restore time does not grow with memory size), its
 * writes stay its own, and every domain mapping the same file shares what none wrote.
 * The file must be at least size bytes. fd is duplicated. 0 or -errno.
 */
int gmem_init_file(struct guest_mem *m, uint64_t size, int fd);
/* Give back [gpa, gpa + len) (a balloon): a memfd's pages are freed; a snapshot file's
 * private copies are dropped (the pages read as the file again). */
void gmem_discard(const struct guest_mem *m, gpa_t gpa, uint64_t len);
void gmem_destroy(struct guest_mem *m);
/*
 * Make [start, end) a hole (page-aligned, RAM on both sides): nothing of it is RAM, KVM
 * gets no slot there, the door refuses it. 0, or -EINVAL.
 */
int gmem_set_hole(struct guest_mem *m, gpa_t start, gpa_t end);
/* The RAM ranges in guest-physical order (one, or two around the hole): how many. */
unsigned gmem_ram_ranges(const struct guest_mem *m, struct gmem_range r[2]);
/* Where the RAM below the hole ends (size without a hole). */
static inline gpa_t gmem_low_end(const struct guest_mem *m)
{
	return m->hole_end ? m->hole_start : m->size;
}
/* Mark [gpa, gpa + len) as the VMM's own: 0, or -EINVAL (outside RAM, or no slot left). */
int gmem_reserve(struct guest_mem *m, gpa_t gpa, uint64_t len);

/*
 * The guest's door: host pointer to [gpa, gpa + len), or NULL if any byte is outside guest
 * RAM (past its top, or in the hole) or in a VMM-owned range. Every address that comes from the guest goes through here.
 * While dirty logging is on, the range is marked dirty (include/capsule/dirty.h).
 */
void *gmem_ptr(const struct guest_mem *m, gpa_t gpa, uint64_t len);
/* Copies that fail with -EFAULT where gmem_ptr would refuse. */
int gmem_read(const struct guest_mem *m, gpa_t gpa, void *dst, uint64_t len);
int gmem_write(const struct guest_mem *m, gpa_t gpa, const void *src, uint64_t len);
/*
 * The VMM's own door, for the structures it builds in the ranges it reserved (page
 * tables, IDT, trap stacks): like gmem_ptr but without the reservation check. Never call
 * it with an address the guest chose.
 */
void *gmem_vmm_ptr(const struct guest_mem *m, gpa_t gpa, uint64_t len);

/* Total RAM of this host in bytes (for refusing impossible --mem values). */
uint64_t host_ram_bytes(void);

#endif
