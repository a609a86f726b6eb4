/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The snapshot record stream (include/capsule/snapshot.h, docs/snapshot.md): written in
 * order with a running CRC-32, read back whole and checked before anything is used.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "capsule/snapshot.h"

struct rec_head {
	uint32_t type, flags;
	uint64_t len;
};

static void put(struct snap_writer *w, const void *p, size_t n)
{
	const uint8_t *b = p;

	if (w->error)
		return;
	w->crc = (uint32_t)crc32(w->crc, b, (uInt)n);
	while (n) {
		ssize_t k = write(w->fd, b, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			w->error = k < 0 ? -errno : -EIO;
			return;
		}
		b += k, n -= (size_t)k;
	}
}

void snap_writer_init(struct snap_writer *w, int fd, const struct snap_header *h)
{
	w->fd = fd;
	w->crc = (uint32_t)crc32(0, NULL, 0);
	w->error = 0;
	put(w, h, sizeof(*h));
}

void snap_write(struct snap_writer *w, uint32_t type, uint32_t flags, const void *body,
		size_t len)
{
	static const uint8_t zeros[8];
	struct rec_head h = {type, flags, len};

	put(w, &h, sizeof(h));
	put(w, body, len);
	put(w, zeros, (8 - len % 8) % 8);
}

int snap_writer_finish(struct snap_writer *w)
{
	uint32_t end[2] = {w->crc, 0};

	snap_write(w, SNAP_END, 0, end, sizeof(end));
	return w->error;
}

#define BAD(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

/* One known record of a fixed size: its body, or NULL (and a message) if the size differs. */
static const void *fixed(const struct rec_head *h, const uint8_t *body, size_t size,
			 const char *name, char *err, size_t errlen)
{
	if (h->len != size) {
		snprintf(err, errlen, "the %s record has %llu bytes, not %zu: another build's "
			 "snapshot?", name, (unsigned long long)h->len, size);
		return NULL;
	}
	return body;
}

static int record(struct snap_parsed *p, const struct rec_head *h, const uint8_t *body,
		  char *err, size_t errlen)
{
	const void *r = NULL;

	switch (h->type) {
	case SNAP_CONFIG:
		if (p->config || !h->len || h->len > 65536)
			return BAD("a second or oversized configuration record");
		p->config = (const char *)body;
		p->config_len = h->len;
		return 0;
	case SNAP_DOMAIN:
		if (p->domain)
			return BAD("a second domain record");
		return (p->domain = fixed(h, body, sizeof(*p->domain), "domain", err, errlen))
			       ? 0 : -EINVAL;
	case SNAP_VCPU:
		if (p->nr_vcpus == CAP_MAX_VCPUS)
			return BAD("more than %u vCPU records", CAP_MAX_VCPUS);
		if (!(r = fixed(h, body, sizeof(struct vcpu_kvm_state), "vCPU", err, errlen)))
			return -EINVAL;
		p->vcpu[p->nr_vcpus++] = r;
		return 0;
	case SNAP_VM:
		if (p->vm)
			return BAD("a second VM record");
		return (p->vm = fixed(h, body, sizeof(*p->vm), "VM", err, errlen)) ? 0 : -EINVAL;
	case SNAP_PV:
		if (p->pv)
			return BAD("a second PV record");
		return (p->pv = fixed(h, body, sizeof(*p->pv), "PV", err, errlen)) ? 0 : -EINVAL;
	case SNAP_DEVICE:
		if (p->nr_devices == CAP_MAX_DEVICES)
			return BAD("more than %u device records", CAP_MAX_DEVICES);
		if (!(r = fixed(h, body, sizeof(struct snap_device), "device", err, errlen)))
			return -EINVAL;
		p->device[p->nr_devices++] = r;
		return 0;
	case SNAP_PCI: {
		const struct snap_pci *pc = fixed(h, body, sizeof(struct snap_pci), "PCI", err,
						  errlen);

		if (!pc)
			return -EINVAL;
		if (pc->index >= CAP_MAX_DEVICES || pc->index + 1 != p->nr_devices ||
		    p->pci[pc->index])
			return BAD("a PCI record that does not follow its device's");
		p->pci[pc->index] = pc;
		return 0;
	}
	case SNAP_PLATFORM:
		if (p->nr_platform == sizeof(p->platform) / sizeof(p->platform[0]))
			return BAD("too many platform device records");
		if (!(r = fixed(h, body, sizeof(struct snap_platform), "platform", err, errlen)))
			return -EINVAL;
		p->platform[p->nr_platform++] = r;
		return 0;
	case SNAP_CHAIN:
		if (p->chain)
			return BAD("a second chain record");
		return (p->chain = fixed(h, body, sizeof(*p->chain), "chain", err, errlen))
			       ? 0 : -EINVAL;
	case SNAP_PAGES: {
		const struct snap_pages *pg = (const void *)body;
		uint64_t pages = p->header.mem_bytes / 4096, words = (pages + 63) / 64, n = 0;

		if (p->pages)
			return BAD("a second page list");
		if (h->len != sizeof(*pg) + words * 8 || pg->nr_pages != pages)
			return BAD("the page list has %llu bytes; %llu pages of memory need %llu",
				   (unsigned long long)h->len, (unsigned long long)pages,
				   (unsigned long long)(sizeof(*pg) + words * 8));
		for (uint64_t i = 0; i < words; i++)
			n += (uint64_t)__builtin_popcountll(pg->bits[i]);
		if (n != pg->nr_dirty || (pages % 64 && pg->bits[words - 1] >> (pages % 64)))
			return BAD("the page list is malformed");
		p->pages = pg;
		return 0;
	}
	default:
		if (!(h->flags & SNAP_OPTIONAL))
			return BAD("record type %u is not known to this build and is not optional",
				   h->type);
		p->skipped++;
		return 0;
	}
}

int snap_parse(const void *buf, size_t len, struct snap_parsed *p, char *err, size_t errlen)
{
	const uint8_t *b = buf;
	size_t off = sizeof(struct snap_header);
	unsigned records = 0;

	memset(p, 0, sizeof(*p));
	if (len < sizeof(p->header))
		return BAD("not a snapshot: %zu bytes", len);
	memcpy(&p->header, b, sizeof(p->header));
	if (memcmp(p->header.magic, SNAP_MAGIC, 8))
		return BAD("not a Capsule snapshot (bad magic)");
	if (p->header.version != SNAP_VERSION)
		return BAD("snapshot format version %u; this build reads version %u",
			   p->header.version, SNAP_VERSION);
	if (p->header.arch != SNAP_ARCH_X86_64)
		return BAD("a snapshot of architecture %u; this is x86-64", p->header.arch);
	if (p->header.kind != SNAP_KIND_PV && p->header.kind != SNAP_KIND_HVM)
		return BAD("a snapshot of unknown domain kind %u", p->header.kind);
	if (p->header.flags)
		return BAD("snapshot flags 0x%x not known to this build", p->header.flags);
	for (;;) {
		struct rec_head h;
		size_t padded;

		if (len - off < sizeof(h))
			return BAD("truncated: the stream ends after %zu bytes without its end "
				   "record", off);
		memcpy(&h, b + off, sizeof(h));
		if (h.len > len - off - sizeof(h))
			return BAD("truncated: a record of type %u claims %llu bytes, %zu are left",
				   h.type, (unsigned long long)h.len, len - off - sizeof(h));
		padded = (size_t)((h.len + 7) & ~7ull);
		if (padded > len - off - sizeof(h))
			return BAD("truncated: the padding of a record of type %u", h.type);
		if (h.type == SNAP_END) {
			uint32_t end[2];

			if (h.len != sizeof(end))
				return BAD("a malformed end record");
			memcpy(end, b + off + sizeof(h), sizeof(end));
			if (end[0] != (uint32_t)crc32(crc32(0, NULL, 0), b, (uInt)off))
				return BAD("checksum mismatch: the snapshot is corrupted");
			if (off + sizeof(h) + padded != len)
				return BAD("%zu bytes after the end record", len - off - sizeof(h) -
					   padded);
			break;
		}
		if (++records > SNAP_MAX_RECORDS)
			return BAD("more than %u records", SNAP_MAX_RECORDS);
		if (record(p, &h, b + off + sizeof(h), err, errlen))
			return -EINVAL;
		off += sizeof(h) + padded;
	}
	if (!p->config || !p->domain || !p->vm)
		return BAD("the snapshot lacks its %s record",
			   !p->config ? "configuration" : !p->domain ? "domain" : "VM");
	if (p->pages && !p->chain)
		return BAD("a diff snapshot without its chain record");
	if (p->header.kind == SNAP_KIND_PV && !p->pv)
		return BAD("a PV snapshot without its PV record");
	if (p->domain->nr_vcpus != p->nr_vcpus || p->domain->nr_devices != p->nr_devices ||
	    p->domain->nr_platform != p->nr_platform)
		return BAD("the domain record says %u vCPUs, %u devices, %u platform devices; "
			   "the stream has %u, %u, %u", p->domain->nr_vcpus, p->domain->nr_devices,
			   p->domain->nr_platform, p->nr_vcpus, p->nr_devices, p->nr_platform);
	return 0;
}
