/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A migration stream carried between a VMM's plain socket and the network (plain TCP or
 * TLS), by a thread of a process that is not confined: `capsule control ... migrate
 * --tls`, and capsuled on both ends of `capsule migrate` (docs/migration.md). The VMM does
 * no TLS and makes no sockets.
 *
 * In the stream only the destination's one answer (MIG_READY or MIG_FAILED) goes from the
 * destination to the source, and only the source's MIG_GO goes after it the other way, so
 * the relay knows where the migration stands without parsing it: before the destination's
 * answer, an abort (relay_abort) stops it and the source runs on; after, it is the
 * destination's and an abort changes nothing.
 */
#ifndef CAPSULE_RELAY_H
#define CAPSULE_RELAY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tls_conn;

struct relay {
	int vmm, net;          /* the VMM's end (a socketpair), the connection to the peer */
	struct tls_conn *tls;  /* over net, or NULL: plain */
	int idle_ms;           /* give up when nothing moves for this long (0: 15 s) */
	int abort_fd;          /* an eventfd relay_abort writes, made by relay_start */
	pthread_t thread;
	/* Under lock, for the relay's owner: */
	pthread_mutex_t lock;
	uint64_t to_net, to_vmm; /* bytes carried each way */
	uint64_t to_vmm_after_answer; /* net -> vmm bytes after the destination's answer */
	char answer;           /* the first byte the destination sent (0: none yet) */
	bool aborted;          /* stopped by relay_abort before the answer */
	bool answer_from_vmm;  /* this side relays the destination VMM (capsuled there) */
};

/*
 * Start the thread over r (vmm, net, tls, idle_ms, answer_from_vmm set): 0 or -errno. It
 * ends when either side closes, an abort, or idle_ms of silence, and then shuts r->vmm
 * down so the VMM sees the end. relay_join waits for it and closes abort_fd (the fds
 * and the TLS connection stay the caller's).
 */
int relay_start(struct relay *r);
void relay_join(struct relay *r);
/* Stop the migration if the destination has not answered yet: true if so. */
bool relay_abort(struct relay *r);
/* All n bytes to a plain fd (EINTR retried): 0, or -1 with errno set. */
int relay_write_all(int fd, const void *buf, size_t n);
/* The destination said MIG_READY and the source's MIG_GO went through (or more). */
bool relay_committed(struct relay *r);

#endif
