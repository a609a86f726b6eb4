/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the receiving side of a migration (migrate_recv.c, postcopy_in.c). */
#ifndef CAPSULE_SNAPSHOT_MIGRATE_IN_H
#define CAPSULE_SNAPSHOT_MIGRATE_IN_H

#include <stddef.h>
#include <stdint.h>

#include "capsule/snapshot.h"

struct tls_conn;

/* The connection from the source: plain TCP, or TLS over it. */
struct migrate_in {
	int fd;
	struct tls_conn *tls;
};

/* Exactly n bytes (crc, if not NULL, runs over them): 0 or -errno (-ECONNRESET at EOF). */
int mig_read_full(struct migrate_in *in, void *buf, size_t n, uint32_t *crc);
/* SNAP_MIG_POSTCOPY's body (len bytes) into r->pc_need: 0, or -EINVAL with err. */
int postcopy_receive_need(struct migrate_in *in, struct snap_restore *r, uint64_t len,
			  uint64_t nr_pages, uint32_t *crc, char *err, size_t errlen);

#endif
