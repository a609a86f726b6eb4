/* SPDX-License-Identifier: Apache-2.0 */
/* Measured launch: the event digests and their chain (include/capsule/measure.h). */
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include "capsule/measure.h"

const char *const measure_event_names[MEASURE_EVENTS] = {"image", "cmdline", "initrd",
							  "config"};

/* SHA-256 of name || 0 || le64(len), then the caller's updates. */
static EVP_MD_CTX *event_begin(const char *name, uint64_t len)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(len >> (8 * i));
	if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c, name, strlen(name) + 1) == 1 && EVP_DigestUpdate(c, le, 8) == 1)
		return c;
	EVP_MD_CTX_free(c);
	return NULL;
}

static int event_end(EVP_MD_CTX *c, uint8_t out[MEASURE_LEN])
{
	unsigned n = 0;
	int ok = EVP_DigestFinal_ex(c, out, &n) == 1 && n == MEASURE_LEN;

	EVP_MD_CTX_free(c);
	return ok ? 0 : -EIO;
}

int measure_event_buf(const char *name, const void *data, size_t len, uint8_t out[MEASURE_LEN])
{
	EVP_MD_CTX *c = event_begin(name, len);

	if (!c)
		return -ENOMEM;
	if (len && EVP_DigestUpdate(c, data, len) != 1) {
		EVP_MD_CTX_free(c);
		return -EIO;
	}
	return event_end(c, out);
}

int measure_event_fd(const char *name, int fd, uint8_t out[MEASURE_LEN])
{
	static __thread uint8_t buf[1 << 16];
	off_t size = fd < 0 ? 0 : lseek(fd, 0, SEEK_END), off = 0;
	EVP_MD_CTX *c;

	if (size < 0)
		return -errno;
	if (!(c = event_begin(name, (uint64_t)size)))
		return -ENOMEM;
	/* The length is in the digest already: exactly that many bytes follow. */
	while (off < size) {
		size_t want = (size_t)(size - off) < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
		ssize_t n = pread(fd, buf, want, off);

		if (n <= 0 || EVP_DigestUpdate(c, buf, (size_t)n) != 1) {
			EVP_MD_CTX_free(c);
			return n < 0 ? -errno : -EIO; /* a file that shrank while it was read */
		}
		off += n;
	}
	return event_end(c, out);
}

int measure_fold(struct launch_measure *m)
{
	memset(m->value, 0, sizeof(m->value));
	for (unsigned i = 0; i < MEASURE_EVENTS; i++) {
		uint8_t both[2 * MEASURE_LEN];
		unsigned n = 0;

		memcpy(both, m->value, MEASURE_LEN);
		memcpy(both + MEASURE_LEN, m->event[i], MEASURE_LEN);
		if (EVP_Digest(both, sizeof(both), m->value, &n, EVP_sha256(), NULL) != 1 ||
		    n != MEASURE_LEN)
			return -EIO;
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
