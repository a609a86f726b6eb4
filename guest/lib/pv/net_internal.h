/* SPDX-License-Identifier: Apache-2.0 */
/* What the kit's network files (netstack.c, tcp.c) share: byte order and checksums. */
#ifndef KIT_NET_INTERNAL_H
#define KIT_NET_INTERNAL_H

#include "virtio.h"

#define ETH_ARP 0x0806
#define ETH_IP 0x0800

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16)), put16(p + 2, (uint16_t)v);
}

/* The ones' complement sum of p (an odd byte counts as its high half), added to sum. */
static inline uint32_t csum_add(const uint8_t *p, uint32_t len, uint32_t sum)
{
	uint64_t s = sum;

	for (uint32_t i = 0; i + 1 < len; i += 2)
		s += be16(p + i);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

static inline uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static inline uint16_t csum(const uint8_t *p, uint32_t len, uint32_t sum)
{
	return csum_fold(csum_add(p, len, sum));
}

/* An IPv4 header at ip for a payload of len bytes (its checksum done). */
void ip_header(struct vnet *n, uint8_t *ip, uint8_t proto, uint32_t dst, uint32_t len);

#endif
