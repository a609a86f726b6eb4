/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mutually authenticated TLS over a connected socket, for live migration (OpenSSL,
 * linked statically into capsule; docs/migration.md). Both sides present a certificate
 * signed by the CA of a TLS directory and accept only a peer's signed by it:
 *
 *   DIR/ca.pem    the CA that signs both hosts' certificates
 *   DIR/cert.pem  this host's certificate
 *   DIR/key.pem   its private key
 *
 * Used by processes that are not confined: the receiving `capsule run --incoming` before
 * it confines itself, and `capsule control ... migrate`, which relays the VMM's plain
 * stream (a socketpair) into the TLS connection, so the VMM itself never does TLS.
 */
#ifndef CAPSULE_TLS_H
#define CAPSULE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tls_conn;

/* The handshake on fd as a client or server: 0 and *out, or -1 with a message. fd stays
 * the caller's (tls_close does not close it). */
int tls_connect(int fd, const char *dir, bool server, struct tls_conn **out, char *err,
		size_t errlen);
/* Bytes read (0: the peer closed), or -1 with errno set. */
ssize_t tls_read(struct tls_conn *c, void *buf, size_t n);
/* 0, or -1 with errno set. */
int tls_write_all(struct tls_conn *c, const void *buf, size_t n);
/* Bytes OpenSSL holds already decrypted (poll does not see them). */
size_t tls_pending(struct tls_conn *c);
void tls_close(struct tls_conn *c);

#endif
