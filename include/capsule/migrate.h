/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Live migration, pre-copy (docs/migration.md): the domain's memory in dirty rounds over a
 * connected socket while it runs, then, paused, the last dirty pages and its state; the
 * destination restores it and runs it, the source ends. Until the destination says it is
 * ready and the source says go, nothing has moved: any failure before that leaves the
 * source running as before and the destination with nothing.
 *
 * The stream is the snapshot format's (include/capsule/snapshot.h): a header whose flags
 * say SNAP_HDR_MIGRATION, then records: page batches, round marks, and SNAP_MIG_STATE
 * (with the CRC-32 of the stream before it), after which comes a whole snapshot state
 * stream, as a snapshot's state file holds it, ending with its own END and CRC. Then one
 * byte each way: the destination's MIG_READY (or MIG_FAILED), the source's MIG_GO.
 *
 *   src/snapshot/migrate.c       the sending side (PUT /api/v1/vm.migrate)
 *   src/snapshot/migrate_recv.c  the receiving side (capsule run --incoming ADDR:PORT)
 */
#ifndef CAPSULE_MIGRATE_H
#define CAPSULE_MIGRATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "capsule/domain.h"
#include "capsule/snapshot.h"

#define SNAP_HDR_MIGRATION 1u /* header flag: a migration stream, not a state file */

enum mig_record {
	SNAP_MIG_PAGES = 16, /* struct mig_pages, then count pages of 4 KiB */
	SNAP_MIG_ROUND = 17, /* struct mig_round (optional): a round begins */
	SNAP_MIG_STATE = 18, /* u32 CRC-32 of the stream so far, u32 0; a state stream follows */
	SNAP_MIG_POSTCOPY = 19, /* u64 pages, then the bitmap of those holding data (u64s) */
	SNAP_MIG_DONE = 20,  /* post-copy: u64 pages pushed; every page with data went */
};

struct mig_pages {
	uint64_t pfn, count;
};

struct mig_round {
	uint32_t round, pad;
	uint64_t pages; /* pages this round sends */
};

#define MIG_MAX_BATCH 256u /* pages in one record */
#define MIG_READY 'R'
#define MIG_FAILED 'F'
#define MIG_GO 'G'
#define MIG_PC_DONE 'D' /* post-copy: the destination has every page */

struct migrate_opts {
	uint64_t downtime_ms; /* the last round may take this long (default 50) */
	unsigned max_rounds;  /* switch over after this many rounds whatever the rate (30) */
	bool auto_converge;   /* throttle the vCPUs of a guest that dirties faster than the link */
	bool postcopy;        /* switch over at once; the pages follow on demand and pushed */
};

/* Auto-converge: a round that dirtied more than half of what it sent raises the throttle
 * to MIG_THROTTLE_INITIAL percent, then by MIG_THROTTLE_STEP, up to VM_THROTTLE_MAX (QEMU's
 * cpu-throttle-initial, -increment and throttle-trigger-threshold defaults). */
#define MIG_THROTTLE_INITIAL 20u
#define MIG_THROTTLE_STEP 10u

struct migrate_report {
	unsigned rounds;
	uint64_t bytes;        /* sent */
	uint64_t pages;        /* sent, every round */
	uint64_t last_pages;   /* sent while paused */
	uint64_t downtime_ns;  /* paused: from the pause to the destination's go */
	uint64_t total_ns;
	unsigned throttle_pct; /* the highest throttle auto-converge set (0: none) */
	uint64_t pc_requested; /* post-copy: pages the destination asked for (faults) */
	uint64_t pc_pushed;    /* post-copy: pages sent after the switch-over, in all */
};

/* Progress, one JSON object per call (no newline), for the VMM's event stream. */
typedef void migrate_progress_fn(void *opaque, const char *json);

/*
 * Migrate the running domain over sock (connected to a receiving `capsule run --incoming`;
 * the caller keeps it). 0: the destination runs it and this domain has ended. -errno with a
 * message in err: it runs on here (or stays paused, if it was).
 */
int migrate_send(struct domain *d, int sock, const struct migrate_opts *o,
		 migrate_progress_fn *progress, void *opaque, struct migrate_report *rep,
		 char *err, size_t errlen);

/*
 * The receiving side, before anything is confined: listen on ADDR:PORT, accept one
 * connection, with tls_dir (include/capsule/tls.h) authenticate it mutually (NULL: plain
 * TCP, --insecure), and read the whole stream: *out holds the state and the memory (a
 * memfd), ready for snapshot_check and the first boot as a restored snapshot is; cfg gets
 * the domain's configuration; *in stays open for migrate_incoming_go. 0 or -errno with a
 * message; on an error the source is told and nothing is left behind.
 */
struct migrate_in;
int migrate_incoming(const char *addr, const char *tls_dir, struct migrate_in **in,
		     struct snap_restore **out, struct domain_config *cfg, char *err,
		     size_t errlen);
/* "ADDR:PORT" (IPv4), "[ADDR]:PORT" (IPv6) or ":PORT" (any), numeric: 0 or -EINVAL. */
int migrate_parse_addr(const char *spec, struct sockaddr_storage *sa, socklen_t *len);
/* The domain is built and checked: tell the source, wait for its go (0), or -errno: the
 * source keeps the domain, this side must not run it. ok false: tell it we failed. */
int migrate_incoming_go(struct migrate_in *in, bool ok, char *err, size_t errlen);
void migrate_incoming_close(struct migrate_in *in);
/* The stream alone, from a connected plain fd (tests): as migrate_incoming reads it. */
int migrate_receive_fd(int fd, struct snap_restore **out, struct domain_config *cfg,
		       char *err, size_t errlen);

#endif
