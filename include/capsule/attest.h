/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signed statements of launch measurements (docs/measured-launch.md): capsuled's host key
 * (Ed25519, made on first use in its state directory), the signature over a statement's
 * exact bytes, and the check a verifier makes with the host's public key. OpenSSL's
 * libcrypto; signatures travel in base64.
 */
#ifndef CAPSULE_ATTEST_H
#define CAPSULE_ATTEST_H

#include <stddef.h>

typedef struct evp_pkey_st EVP_PKEY;

#define ATTEST_KEY_FILE "attest-key.pem"    /* private, mode 0600, in the state directory */
#define ATTEST_PUB_FILE "attest-key.pub.pem" /* its public half */
#define ATTEST_SIG_MAX 128                    /* base64 of a 64-byte Ed25519 signature, NUL */

/* Load dir's key pair, or make and save it if there is none: the key, or NULL with err. */
EVP_PKEY *attest_host_key(const char *dir, char *err, size_t errlen);
/* The public key as PEM text (malloc'd), or NULL. */
char *attest_public_pem(EVP_PKEY *key);
/* Sign msg: 0 with the base64 signature in sig, or -1. */
int attest_sign(EVP_PKEY *key, const void *msg, size_t len, char sig[ATTEST_SIG_MAX]);
/*
 * Check sig (base64) over msg with the public key in PEM text pem: 1 if it holds, 0 if
 * not, -1 with err if the key or signature cannot be read.
 */
int attest_verify(const char *pem, const void *msg, size_t len, const char *sig, char *err,
		  size_t errlen);

#endif
