/* SPDX-License-Identifier: Apache-2.0 */
/* Ed25519 host keys, signatures and their check (include/capsule/attest.h). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capsule/attest.h"

static EVP_PKEY *load_private(const char *path)
{
	FILE *f = fopen(path, "re");
	EVP_PKEY *k;

	if (!f)
		return NULL;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

/* Write PEM text to path (mode), through a temporary file renamed in place. */
static int save_pem(const char *path, EVP_PKEY *k, int private, mode_t mode)
{
	char tmp[4200];
	FILE *f;
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)) < 0)
		return -errno;
	if (!(f = fdopen(fd, "w"))) {
		close(fd);
		return -ENOMEM;
	}
	ok = private ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)
		     : PEM_write_PUBKEY(f, k);
	ok = fflush(f) == 0 && fsync(fd) == 0 && ok;
	fclose(f);
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

EVP_PKEY *attest_host_key(const char *dir, char *err, size_t errlen)
{
	char priv[4200], pub[4200];
	EVP_PKEY *k;

	snprintf(priv, sizeof(priv), "%s/%s", dir, ATTEST_KEY_FILE);
	snprintf(pub, sizeof(pub), "%s/%s", dir, ATTEST_PUB_FILE);
	if ((k = load_private(priv)))
		return k;
	if (access(priv, F_OK) == 0) {
		snprintf(err, errlen, "%s is not a private key in PEM", priv);
		return NULL;
	}
	/* First use: a new pair. The private half is written first; the public one follows
	 * from it and is written again if missing. */
	if (!(k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"))) {
		snprintf(err, errlen, "cannot make an Ed25519 key");
		return NULL;
	}
	if (save_pem(priv, k, 1, 0600) || save_pem(pub, k, 0, 0644)) {
		snprintf(err, errlen, "cannot write the host key to %s: %s", dir, strerror(errno));
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

char *attest_public_pem(EVP_PKEY *key)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (b && PEM_write_bio_PUBKEY(b, key) == 1 && (n = BIO_get_mem_data(b, &data)) > 0 &&
	    (out = malloc((size_t)n + 1))) {
		memcpy(out, data, (size_t)n);
		out[n] = 0;
	}
	BIO_free(b);
	return out;
}

int attest_sign(EVP_PKEY *key, const void *msg, size_t len, char sig[ATTEST_SIG_MAX])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char raw[64];
	size_t n = sizeof(raw);
	int ok;

	/* Ed25519 signs the message itself (no separate digest: md NULL, one-shot). */
	ok = c && EVP_DigestSignInit(c, NULL, NULL, NULL, key) == 1 &&
	     EVP_DigestSign(c, raw, &n, msg, len) == 1 && n == sizeof(raw);
	EVP_MD_CTX_free(c);
	if (!ok)
		return -1;
	EVP_EncodeBlock((unsigned char *)sig, raw, (int)n);
	return 0;
}

int attest_verify(const char *pem, const void *msg, size_t len, const char *sig, char *err,
		  size_t errlen)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
	unsigned char raw[ATTEST_SIG_MAX];
	size_t sl = strlen(sig);
	EVP_MD_CTX *c;
	int n, rc = -1;

	BIO_free(b);
	if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
		snprintf(err, errlen, "not an Ed25519 public key in PEM");
		EVP_PKEY_free(k);
		return -1;
	}
	n = sl == 88 ? EVP_DecodeBlock(raw, (const unsigned char *)sig, (int)sl) : -1;
	if (n != 66 || sig[86] != '=' || sig[87] != '=') { /* 64 bytes, padded to 66 */
		snprintf(err, errlen, "the signature is not 64 bytes in base64");
		EVP_PKEY_free(k);
		return -1;
	}
	if ((c = EVP_MD_CTX_new()) && EVP_DigestVerifyInit(c, NULL, NULL, NULL, k) == 1)
		rc = EVP_DigestVerify(c, raw, 64, msg, len) == 1;
	else
		snprintf(err, errlen, "cannot check the signature");
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k);
	return rc;
}
