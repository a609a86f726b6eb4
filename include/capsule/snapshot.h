/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshots (docs/snapshot.md): a domain's whole state as a stream of typed records, and its
 * memory as a raw, sparse file in guest-physical order.
 *
 *   src/snapshot/format.c   the record stream: writer, and a reader that checks everything
 *   src/snapshot/save.c     capture a paused domain: KVM, PV or HVM state, devices, memory
 *   src/snapshot/restore.c  parse and check a snapshot, then load it into a new domain
 *
 * The state stream: a 32-byte header (magic "CAPSNAP\0", format version, architecture,
 * domain kind, memory size), then records, each {u32 type, u32 flags, u64 length} and its
 * body padded to 8 bytes; flag SNAP_OPTIONAL lets a reader skip a record it does not know.
 * The last record is SNAP_END with the CRC-32 of everything before it.
 */
#ifndef CAPSULE_SNAPSHOT_H
#define CAPSULE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capsule/workingset.h"
#include "capsule/domain.h"
#include "capsule/kvm_state.h"
#include "capsule/platform.h"
#include "capsule/pv.h"
#include "capsule/virtio.h"

#define SNAP_MAGIC "CAPSNAP"  /* and a NUL: 8 bytes */
#define SNAP_VERSION 2u
#define SNAP_ARCH_X86_64 1u
#define SNAP_KIND_PV 1u
#define SNAP_KIND_HVM 2u
#define SNAP_MAX_STATE (16u << 20) /* a state stream larger than this is refused */
#define SNAP_OPTIONAL 1u           /* record flag: a reader may skip it if unknown */

enum snap_record {
	SNAP_CONFIG = 1,   /* the domain configuration, JSON (docs/domain-config.schema.json) */
	SNAP_DOMAIN = 2,   /* struct snap_domain */
	SNAP_VCPU = 3,     /* struct vcpu_kvm_state, one per vCPU in order */
	SNAP_VM = 4,       /* struct vm_kvm_state */
	SNAP_PV = 5,       /* struct snap_pv */
	SNAP_DEVICE = 6,   /* struct snap_device, one per virtio device in slot order */
	SNAP_PLATFORM = 7, /* struct snap_platform, one per HVM platform device in order */
	SNAP_CHAIN = 8,    /* struct snap_chain (optional): this snapshot's id, its parent's */
	SNAP_PAGES = 9,    /* struct snap_pages and its bitmap: a diff snapshot (not optional) */
	SNAP_PCI = 10,     /* struct snap_pci: a virtio-pci device's transport, after its device */
	SNAP_END = 0xffff, /* u32 CRC-32 of the stream before this record, u32 0 */
};

struct snap_header {
	char magic[8];
	uint32_t version, arch, kind, flags;
	uint64_t mem_bytes;
};

struct snap_domain {
	uint32_t nr_vcpus, nr_devices, nr_platform;
	uint32_t generation;     /* restores and clones so far (shared_info.generation) */
	uint64_t domain_time_ns; /* the domain's time when it was saved */
	uint64_t saved_utc_ns;   /* the host's UTC time then */
};

struct snap_pv {
	struct pv_port ports[CAP_EVTCHN_PORTS];
	uint64_t vcpu_ports[CAP_MAX_VCPUS][CAP_EVTCHN_WORDS];
	uint64_t timer_deadline[CAP_MAX_VCPUS]; /* domain time ns; 0 = not armed */
	int32_t timer_port[CAP_MAX_VCPUS];      /* -1: not bound */
	uint32_t device_port[CAP_MAX_DEVICES];
	uint32_t console_cons, console_in_prod, console_in_port, control_port;
	uint32_t nr_devices, pad;
};

struct snap_device {
	uint32_t index;
	char kind[20];           /* the device table's name: "disk", "net", ... */
	struct virtio_state state;
};

struct snap_pci {
	uint32_t index;          /* the device record (SNAP_DEVICE) it belongs to */
	uint32_t pad;
	struct virtio_pci_state state;
};

struct snap_platform {
	uint32_t index, len;
	char name[16];
	uint8_t data[PLATFORM_STATE_MAX];
};

/*
 * Diff snapshots (src/snapshot/diff.c, docs/snapshot.md): every snapshot names itself with
 * a random id; a diff names the snapshot it follows (the previous one of this VMM's boot)
 * and lists the pages written since in SNAP_PAGES, and its memory file holds only those
 * (every other page a hole). A diff is not restored as it is: `capsule snapshot-merge`
 * folds a chain into a full snapshot.
 */
#define SNAP_ID_LEN 16
struct snap_chain {
	uint8_t id[SNAP_ID_LEN];
	uint8_t parent[SNAP_ID_LEN]; /* all zero: a full snapshot */
	uint32_t depth;              /* diffs since the last full snapshot; 0: full */
	uint32_t pad;
};

struct snap_pages {
	uint64_t nr_pages; /* the memory's pages: header.mem_bytes / 4096 */
	uint64_t nr_dirty; /* bits set below */
	uint64_t bits[];   /* (nr_pages + 63) / 64 words, bit (pfn % 64) of word pfn / 64 */
};

/* ---- the record stream ---- */

struct snap_writer {
	int fd;
	uint32_t crc;
	int error; /* the first negative errno; later writes do nothing */
};

void snap_writer_init(struct snap_writer *w, int fd, const struct snap_header *h);
void snap_write(struct snap_writer *w, uint32_t type, uint32_t flags, const void *body,
		size_t len);
/* The END record: 0, or the first error. */
int snap_writer_finish(struct snap_writer *w);

/* A parsed stream: pointers into the caller's buffer, every length checked. */
#define SNAP_MAX_RECORDS 256u
struct snap_parsed {
	struct snap_header header;
	const char *config;
	size_t config_len;
	const struct snap_domain *domain;
	const struct vcpu_kvm_state *vcpu[CAP_MAX_VCPUS];
	unsigned nr_vcpus;
	const struct vm_kvm_state *vm;
	const struct snap_pv *pv;
	const struct snap_device *device[CAP_MAX_DEVICES];
	unsigned nr_devices;
	const struct snap_pci *pci[CAP_MAX_DEVICES]; /* by device index; NULL: virtio-mmio */
	const struct snap_platform *platform[8];
	unsigned nr_platform;
	const struct snap_chain *chain; /* NULL: a snapshot of a build before diffs */
	const struct snap_pages *pages; /* NULL: a full snapshot */
	unsigned skipped; /* optional records not known */
};

/*
 * Parse a whole state stream (aligned to 8): 0, or -EINVAL with a message saying what is
 * wrong (magic, version, architecture, truncation, a length, a record out of place, the
 * checksum). Nothing is trusted beyond the stream's own consistency: the caller checks
 * the values against the domain it builds.
 */
int snap_parse(const void *buf, size_t len, struct snap_parsed *p, char *err, size_t errlen);

/* ---- taking and restoring (src/snapshot/save.c, restore.c) ---- */

struct snapshot_report {
	uint64_t pause_ns;     /* the domain did not run for this long */
	uint64_t state_ns;     /* of which writing the state records */
	uint64_t memory_bytes; /* guest memory written (zero pages are holes) */
	uint64_t pages;        /* a diff: pages it holds */
	uint8_t id[SNAP_ID_LEN], parent[SNAP_ID_LEN]; /* its chain record */
};

/*
 * Snapshot a running or paused domain into two files the caller opened (the state stream,
 * and the memory file, which gets the memory's size): it runs on afterwards, unless
 * end_after (a save: it then powers off, saved). 0, or -errno with a message in err; on an
 * error the domain runs on as before.
 */
int snapshot_take(struct domain *d, int state_fd, int mem_fd, bool end_after,
		  struct snapshot_report *rep, char *err, size_t errlen);
/* The same with options: a diff holds only the pages written since the previous snapshot
 * of this boot of the domain (-EINVAL if there is none). */
struct snapshot_opts {
	bool end_after, diff;
};
int snapshot_take_opts(struct domain *d, int state_fd, int mem_fd,
		       const struct snapshot_opts *o, struct snapshot_report *rep, char *err,
		       size_t errlen);

/* A snapshot read and checked, for the first boot of a domain restored from it. */
struct snap_restore {
	void *buf;   /* the state stream */
	size_t len;
	struct snap_parsed p;
	int mem_fd;  /* the memory file, read-only: mapped copy-on-write */
	bool used;   /* its boot has started */
	/* A post-copy migration's (docs/migration.md): the pages the source holds data in,
	 * still to come over pc_in (the connection, migrate_recv.c's) once the domain runs. */
	uint64_t *pc_need, pc_pages;
	struct migrate_in *pc_in;
	/* Working-set prefetch (src/snapshot/workingset.c): DIR/workingset as checked (empty
	 * if none or refused), whether --no-prefetch said no, the pages prefetched, and
	 * /proc/self/pagemap opened by the VMM before confinement for recording (-1 if not). */
	struct workingset ws;
	bool no_prefetch;
	int64_t prefetched;
	int pagemap_fd;
};

/*
 * Read DIR/state and DIR/memory: 0 and *out, or -errno with a message (not a snapshot, a
 * newer format, corrupted, truncated, memory file too small). cfg gets the snapshot's
 * configuration (defaults first, then the record).
 */
int snapshot_open(const char *dir, struct snap_restore **out, struct domain_config *cfg,
		  char *err, size_t errlen);
/* The same from a buffer and an open memory fd (tests, the fuzzer): takes neither. */
int snapshot_parse_config(const void *buf, size_t len, struct snap_parsed *p,
			  struct domain_config *cfg, char *err, size_t errlen);
/*
 * Open /proc/self/pagemap for recording the working set, in the process that will run the
 * domain (a jailed VMM is a child of the process that read the options: the parent's
 * pagemap would show the parent's page tables) and before its privileges are dropped (a
 * process whose uid changed is not dumpable: its /proc/self files become root's). */
void snapshot_open_pagemap(struct snap_restore *r);
void snapshot_close(struct snap_restore *r);
/* Does the snapshot fit the domain created from its configuration? 0, or -EINVAL. */
int snapshot_check(struct domain *d, const struct snap_restore *r, char *err, size_t errlen);
/* In place of build and start, on the first boot: load the saved state, then run it. */
int snapshot_apply(struct domain *d, char *err, size_t errlen);
/* Post-copy (src/snapshot/postcopy_in.c): register the restored boot's memory m with
 * userfaultfd and serve its faults from r->pc_in until every page came (a thread that
 * takes r->pc_need). 0 or -errno. */
int postcopy_start(struct guest_mem *m, struct snap_restore *r, char *err, size_t errlen);
int snapshot_start(struct domain *d);

/*
 * A snapshot directory's two files, made as DIR/state.part and DIR/memory.part (DIR made if
 * missing): fds[0] state, fds[1] memory, or -errno with a message. snapdir_end closes them
 * and, if commit, renames them into place (memory, then state) durably; otherwise removes
 * them. 0 or -errno.
 */
/*
 * Fold BASE (a full snapshot) and the chain of n diffs after it into OUT, a full snapshot
 * of the last diff's point (src/snapshot/merge.c): 0, or -errno with a message (a broken
 * chain writes nothing).
 */
int snapshot_merge(const char *base, const char *const *diffs, unsigned n, const char *out,
		   char *err, size_t errlen);

int snapdir_begin(const char *dir, int fds[2], char *err, size_t errlen);
int snapdir_end(const char *dir, int fds[2], bool commit);

#endif
