/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Live migration, the receiving side (include/capsule/migrate.h, docs/migration.md):
 * `capsule run --incoming ADDR:PORT` listens, takes one connection and reads the whole
 * stream into a memfd (the memory) and a buffer (the state), checking every record before
 * it is used, then builds the domain as a restore from a snapshot does. It runs before the
 * VMM confines itself; the socket stays open for the handshake.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include "capsule/log.h"
#include "capsule/mem.h"
#include "capsule/migrate.h"
#include "capsule/tls.h"
#include "migrate_in.h"

#define PAGE 4096u
#define BAD(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

struct rec_head {
	uint32_t type, flags;
	uint64_t len;
};

int mig_read_full(struct migrate_in *in, void *buf, size_t n, uint32_t *crc)
{
	uint8_t *b = buf;

	for (size_t done = 0; done < n;) {
		ssize_t k = in->tls ? tls_read(in->tls, b + done, n - done)
				    : read(in->fd, b + done, n - done);

		if (k < 0 && (errno == EINTR || (in->tls && errno == EAGAIN)))
			continue; /* EAGAIN from TLS: a record without data */
		if (k <= 0)
			return k < 0 ? -errno : -ECONNRESET;
		done += (size_t)k;
	}
	if (crc)
		*crc = (uint32_t)crc32(*crc, b, (uInt)n);
	return 0;
}

int migrate_parse_addr(const char *spec, struct sockaddr_storage *sa, socklen_t *len)
{
	const char *colon = strrchr(spec, ':');
	char host[64], *end;
	unsigned long port;
	size_t hl;

	if (!colon || !colon[1] || (hl = (size_t)(colon - spec)) >= sizeof(host))
		return -EINVAL;
	port = strtoul(colon + 1, &end, 10);
	if (*end || !port || port > 65535)
		return -EINVAL;
	memcpy(host, spec, hl);
	host[hl] = 0;
	memset(sa, 0, sizeof(*sa));
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;

		host[hl - 1] = 0;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	{
		struct sockaddr_in *s4 = (struct sockaddr_in *)sa;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		if (!host[0]) {
			s4->sin_addr.s_addr = htonl(INADDR_ANY);
			return 0;
		}
		return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -EINVAL;
	}
}

/* A listening TCP socket on spec. */
static int listen_on(const char *spec, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	socklen_t sl;
	int fd, one = 1, rc;

	if (migrate_parse_addr(spec, &sa, &sl))
		return BAD("--incoming %s: give ADDR:PORT, numeric ([ADDR]:PORT for IPv6, :PORT "
			   "for every address)", spec);
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sl) < 0 || listen(fd, 1) < 0) {
		rc = -errno;
		snprintf(err, errlen, "--incoming %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	return fd;
}

/* The state stream after SNAP_MIG_STATE, as a snapshot's state file holds it. */
static int read_state(struct migrate_in *sock, void **out, size_t *len, char *err, size_t errlen)
{
	size_t cap = 1u << 20, n = sizeof(struct snap_header);
	uint8_t *buf = malloc(cap);
	int rc;

	if (!buf)
		return BAD("out of memory");
	if ((rc = mig_read_full(sock, buf, n, NULL)))
		goto fail;
	for (;;) {
		struct rec_head h;
		size_t body;

		if ((rc = mig_read_full(sock, &h, sizeof(h), NULL)))
			goto fail;
		if (h.len > SNAP_MAX_STATE || n + sizeof(h) + h.len + 8 > SNAP_MAX_STATE) {
			free(buf);
			return BAD("the state stream is larger than %u bytes", SNAP_MAX_STATE);
		}
		body = (size_t)((h.len + 7) & ~7ull);
		while (n + sizeof(h) + body > cap) {
			uint8_t *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				return BAD("out of memory");
			}
			buf = nb;
			cap *= 2;
		}
		memcpy(buf + n, &h, sizeof(h));
		if ((rc = mig_read_full(sock, buf + n + sizeof(h), body, NULL)))
			goto fail;
		n += sizeof(h) + body;
		if (h.type == SNAP_END)
			break;
	}
	*out = buf;
	*len = n;
	return 0;
fail:
	free(buf);
	snprintf(err, errlen, "the source went away: %s", strerror(-rc));
	return rc;
}

static int receive(struct migrate_in *sock, struct snap_restore *r, struct domain_config *cfg, char *err,
		   size_t errlen)
{
	uint32_t crc = (uint32_t)crc32(0, NULL, 0);
	struct snap_header h;
	uint8_t *mem = MAP_FAILED;
	uint64_t pages = 0, rounds = 0;
	int rc;

	if ((rc = mig_read_full(sock, &h, sizeof(h), &crc)))
		return BAD("no migration stream came: %s", strerror(-rc));
	if (memcmp(h.magic, SNAP_MAGIC, 8) || h.version != SNAP_VERSION ||
	    h.arch != SNAP_ARCH_X86_64 || h.flags != SNAP_HDR_MIGRATION)
		return BAD("not a Capsule migration stream of this build's version (%u)",
			   SNAP_VERSION);
	if (!h.mem_bytes || h.mem_bytes % PAGE || h.mem_bytes > host_ram_bytes())
		return BAD("the source's domain has %llu bytes of memory; this host cannot take it",
			   (unsigned long long)h.mem_bytes);
	r->mem_fd = memfd_create("capsule-incoming", MFD_CLOEXEC);
	if (r->mem_fd < 0 || ftruncate(r->mem_fd, (off_t)h.mem_bytes) < 0)
		return BAD("cannot make the domain's memory: %s", strerror(errno));
	mem = mmap(NULL, h.mem_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		   r->mem_fd, 0);
	if (mem == MAP_FAILED)
		return BAD("cannot map the domain's memory: %s", strerror(errno));
	for (;;) {
		struct rec_head rh;
		struct mig_pages mp;
		struct mig_round mr;
		uint32_t end[2];

		if ((rc = mig_read_full(sock, &rh, sizeof(rh), NULL)))
			goto gone;
		if (rh.type == SNAP_MIG_STATE) {
			if (rh.len != sizeof(end)) {
				rc = BAD("a malformed state mark");
				goto out;
			}
			if ((rc = mig_read_full(sock, end, sizeof(end), NULL)))
				goto gone;
			if (end[0] != crc) {
				rc = BAD("the migration stream is corrupted (checksum)");
				goto out;
			}
			break;
		}
		crc = (uint32_t)crc32(crc, (const void *)&rh, sizeof(rh));
		if (rh.type == SNAP_MIG_PAGES) {
			if (rh.len < sizeof(mp)) {
				rc = BAD("a malformed page batch");
				goto out;
			}
			if ((rc = mig_read_full(sock, &mp, sizeof(mp), &crc)))
				goto gone;
			if (!mp.count || mp.count > MIG_MAX_BATCH || rh.len != sizeof(mp) + mp.count * PAGE ||
			    mp.pfn >= h.mem_bytes / PAGE || mp.count > h.mem_bytes / PAGE - mp.pfn) {
				rc = BAD("a page batch out of the domain's memory");
				goto out;
			}
			/* Straight into place; a batch is a whole number of pages: no padding. */
			if ((rc = mig_read_full(sock, mem + mp.pfn * PAGE, mp.count * PAGE, &crc)))
				goto gone;
			pages += mp.count;
		} else if (rh.type == SNAP_MIG_POSTCOPY) {
			if ((rc = postcopy_receive_need(sock, r, rh.len, h.mem_bytes / PAGE, &crc,
							err, errlen)))
				goto out;
		} else if (rh.type == SNAP_MIG_ROUND && rh.len == sizeof(mr)) {
			if ((rc = mig_read_full(sock, &mr, sizeof(mr), &crc)))
				goto gone;
			rounds++;
		} else {
			rc = BAD("record type %u has no place in a migration stream", rh.type);
			goto out;
		}
	}
	rc = read_state(sock, &r->buf, &r->len, err, errlen);
	if (rc)
		goto out;
	rc = snapshot_parse_config(r->buf, r->len, &r->p, cfg, err, errlen);
	if (!rc && r->p.header.mem_bytes != h.mem_bytes)
		rc = BAD("the state's memory size differs from the stream's");
	if (!rc)
		log_info("migration: %llu pages in %llu rounds received", (unsigned long long)pages,
			 (unsigned long long)rounds);
	goto out;
gone:
	snprintf(err, errlen, "the source went away mid-stream: %s", strerror(-rc));
out:
	if (mem != MAP_FAILED)
		munmap(mem, h.mem_bytes);
	return rc;
}

static void say_byte(struct migrate_in *in, char c)
{
	if (in->tls ? tls_write_all(in->tls, &c, 1) : (send(in->fd, &c, 1, MSG_NOSIGNAL) == 1 ? 0 : -1))
		log_debug("migration: the source is gone");
}

void migrate_incoming_close(struct migrate_in *in)
{
	if (!in)
		return;
	tls_close(in->tls);
	if (in->fd >= 0)
		close(in->fd);
	free(in);
}

int migrate_incoming(const char *addr, const char *tls_dir, struct migrate_in **inp,
		     struct snap_restore **out, struct domain_config *cfg, char *err,
		     size_t errlen)
{
	struct snap_restore *r = calloc(1, sizeof(*r));
	struct migrate_in *in = calloc(1, sizeof(*in));
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	char who[INET6_ADDRSTRLEN + 8] = "?";
	int lfd, rc;

	*inp = NULL;
	if (!r || !in) {
		free(r);
		free(in);
		return BAD("out of memory");
	}
	r->pagemap_fd = -1; /* a migrated domain records no working set */
	in->fd = -1;
	r->mem_fd = -1;
	if (!strncmp(addr, "fd=", 3)) {
		/* A connection a manager accepted and relays (capsuled: docs/migration.md). */
		char *end;
		long n = strtol(addr + 3, &end, 10);

		if (*end || end == addr + 3 || n < 3 || n > 1 << 20) {
			rc = BAD("--incoming fd=N: N is a descriptor number from 3");
			goto fail;
		}
		in->fd = (int)n;
		log_info("migration: on descriptor %d", in->fd);
		goto connected;
	}
	lfd = listen_on(addr, err, errlen);
	if (lfd < 0) {
		rc = lfd;
		goto fail;
	}
	log_info("migration: waiting on %s%s", addr, tls_dir ? " (TLS)" : " (plain TCP)");
	do
		in->fd = accept4(lfd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
	while (in->fd < 0 && errno == EINTR);
	rc = in->fd < 0 ? -errno : 0;
	close(lfd); /* one migration per --incoming */
	if (rc) {
		snprintf(err, errlen, "--incoming %s: accept: %s", addr, strerror(-rc));
		goto fail;
	}
	if (peer.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, who, sizeof(who));
	else if (peer.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&peer)->sin6_addr, who, sizeof(who));
	log_info("migration: from %s", who);
	setsockopt(in->fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int)); /* the handshake */
connected:
	if (tls_dir) {
		/* A peer that cannot show a certificate of our CA gets nothing further. */
		struct timeval tv = {.tv_sec = 10};

		setsockopt(in->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (tls_connect(in->fd, tls_dir, true, &in->tls, err, errlen)) {
			rc = -EACCES;
			goto fail;
		}
		tv.tv_sec = 0;
		setsockopt(in->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	rc = receive(in, r, cfg, err, errlen);
	if (rc) {
		/* The source keeps its domain: tell it, leave nothing. */
		say_byte(in, MIG_FAILED);
		goto fail;
	}
	*inp = in;
	*out = r;
	if (r->pc_need)
		r->pc_in = in; /* post-copy: the connection serves the pages after the go */
	return 0;
fail:
	migrate_incoming_close(in);
	snapshot_close(r);
	return rc;
}

int migrate_receive_fd(int fd, struct snap_restore **out, struct domain_config *cfg,
		       char *err, size_t errlen)
{
	struct migrate_in in = {.fd = fd};
	struct snap_restore *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return BAD("out of memory");
	r->mem_fd = -1;
	r->pagemap_fd = -1;
	rc = receive(&in, r, cfg, err, errlen);
	if (rc) {
		snapshot_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

int migrate_incoming_go(struct migrate_in *in, bool ok, char *err, size_t errlen)
{
	char c = ok ? MIG_READY : MIG_FAILED;
	int rc;

	if (in->tls ? tls_write_all(in->tls, &c, 1) : (send(in->fd, &c, 1, MSG_NOSIGNAL) == 1 ? 0 : -1)) {
		snprintf(err, errlen, "the source went away: %s", strerror(errno));
		return -EPIPE;
	}
	if (!ok)
		return 0;
	rc = mig_read_full(in, &c, 1, NULL);
	if (rc || c != MIG_GO) {
		snprintf(err, errlen, "the source did not hand the domain over (%s): it keeps "
			 "running there", rc ? strerror(-rc) : "no go");
		return rc ? rc : -ECONNABORTED;
	}
	return 0;
}
