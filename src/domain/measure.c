/* SPDX-License-Identifier: Apache-2.0 */
/* Measured launch: the event digests and their chain (include/capsule/measure.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The low-level SHA-256 (deprecated in OpenSSL 3 in favour of EVP): EVP's first digest loads
 * the default provider and reads openssl.cnf, about a millisecond of every launch here;
 * SHA256_* is the same assembly (SHA-NI where the CPU has it) with no set-up. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "capsule/measure.h"

_Static_assert(MEASURE_LEN == SHA256_DIGEST_LENGTH, "a launch measurement is a SHA-256");

const char *const measure_event_names[MEASURE_EVENTS] = {"image", "cmdline", "initrd",
							  "config"};

/* SHA-256 of name || 0 || le64(len), then the caller's updates. */
static void event_begin(SHA256_CTX *c, const char *name, uint64_t len)
{
	uint8_t le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(len >> (8 * i));
	SHA256_Init(c);
	SHA256_Update(c, name, strlen(name) + 1);
	SHA256_Update(c, le, 8);
}

int measure_event_buf(const char *name, const void *data, size_t len, uint8_t out[MEASURE_LEN])
{
	SHA256_CTX c;

	event_begin(&c, name, len);
	if (len)
		SHA256_Update(&c, data, len);
	SHA256_Final(out, &c);
	return 0;
}

int measure_event_fd(const char *name, int fd, uint8_t out[MEASURE_LEN])
{
	enum { BUF = 1 << 16 };
	/* From the heap: a __thread buffer is zeroed at the creation of every thread of the
	 * process (64 KiB for each of 64 vCPU threads). */
	uint8_t *buf;
	off_t size = fd < 0 ? 0 : lseek(fd, 0, SEEK_END), off = 0;
	SHA256_CTX c;
	int rc = 0;

	if (size < 0)
		return -errno;
	if (!(buf = malloc(BUF)))
		return -ENOMEM;
	event_begin(&c, name, (uint64_t)size);
	/* The length is in the digest already: exactly that many bytes follow. */
	while (off < size && !rc) {
		size_t want = (size_t)(size - off) < BUF ? (size_t)(size - off) : BUF;
		ssize_t n = pread(fd, buf, want, off);

		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO; /* a file that shrank while it was read */
			break;
		}
		SHA256_Update(&c, buf, (size_t)n);
		off += n;
	}
	free(buf);
	SHA256_Final(out, &c);
	return rc;
}

int measure_fold(struct launch_measure *m)
{
	memset(m->value, 0, sizeof(m->value));
	for (unsigned i = 0; i < MEASURE_EVENTS; i++) {
		SHA256_CTX c; /* not SHA256(): in OpenSSL 3 that one goes through EVP */

		SHA256_Init(&c);
		SHA256_Update(&c, m->value, MEASURE_LEN);
		SHA256_Update(&c, m->event[i], MEASURE_LEN);
		SHA256_Final(m->value, &c);
	}
	return 0;
}

void measure_hex(const uint8_t d[MEASURE_LEN], char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (unsigned i = 0; i < MEASURE_LEN; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * MEASURE_LEN] = 0;
}
