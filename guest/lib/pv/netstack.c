/* SPDX-License-Identifier: Apache-2.0 */
/* The least IPv4 a test guest needs: ARP replies and requests, ICMP echo replies, UDP
 * (TCP is tcp.c). */
#include "net_internal.h"

uint32_t ip_parse(const char *s)
{
	uint32_t ip = 0;

	for (int i = 0; i < 4; i++) {
		char *end;

		ip = ip << 8 | (strtoul(s, &end, 10) & 0xff);
		s = *end == '.' ? end + 1 : end;
	}
	return ip;
}

static uint8_t arp_ip_mac[6];
static uint32_t arp_ip;

static void arp_send(struct vnet *n, uint16_t op, const uint8_t *tha, uint32_t tpa)
{
	uint8_t f[42];

	memcpy(f, op == 1 ? (const uint8_t *)"\xff\xff\xff\xff\xff\xff" : tha, 6);
	memcpy(f + 6, n->mac, 6);
	put16(f + 12, ETH_ARP);
	put16(f + 14, 1), put16(f + 16, ETH_IP), f[18] = 6, f[19] = 4, put16(f + 20, op);
	memcpy(f + 22, n->mac, 6), put32(f + 28, n->ip);
	memcpy(f + 32, op == 1 ? (const uint8_t *)"\0\0\0\0\0\0" : tha, 6), put32(f + 38, tpa);
	vnet_send(n, f, sizeof(f));
}

void ip_header(struct vnet *n, uint8_t *ip, uint8_t proto, uint32_t dst, uint32_t len)
{
	static uint16_t id;

	memset(ip, 0, 20);
	ip[0] = 0x45, put16(ip + 2, (uint16_t)(20 + len)), ip[8] = 64, ip[9] = proto;
	put16(ip + 4, id++), ip[6] = 0x40; /* don't fragment: TSO needs it, the rest is small */
	put32(ip + 12, n->ip), put32(ip + 16, dst);
	put16(ip + 10, csum(ip, 20, 0));
}

/* Handle one frame: ARP and ICMP here; a UDP datagram for us goes to *m (returns 1). */
int net_handle(struct vnet *n, uint8_t *f, uint32_t len, struct udp_msg *m)
{
	if (len >= 42 && be16(f + 12) == ETH_ARP && be32(f + 38) == n->ip) {
		if (be16(f + 20) == 1)
			arp_send(n, 2, f + 22, be32(f + 28));
		if (be16(f + 20) == 2 && be32(f + 28) == arp_ip)
			memcpy(arp_ip_mac, f + 22, 6);
		return 0;
	}
	if (len < 34 || be16(f + 12) != ETH_IP || (f[14] >> 4) != 4 || be32(f + 30) != n->ip)
		return 0;
	uint32_t ihl = (f[14] & 15u) * 4, tot = be16(f + 16);
	uint8_t *ip = f + 14, *l4 = ip + ihl;

	if (ihl < 20 || tot < ihl || 14 + tot > len)
		return 0;
	if (ip[9] == 1 && tot - ihl >= 8 && l4[0] == 8) { /* ICMP echo request */
		uint8_t r[1514];
		uint32_t l4len = tot - ihl;

		memcpy(r, f + 6, 6), memcpy(r + 6, n->mac, 6), put16(r + 12, ETH_IP);
		ip_header(n, r + 14, 1, be32(ip + 12), l4len);
		memcpy(r + 34, l4, l4len);
		r[34] = 0, r[36] = r[37] = 0;
		put16(r + 36, csum(r + 34, l4len, 0));
		vnet_send(n, r, 34 + l4len);
		return 0;
	}
	if (ip[9] == 17 && tot - ihl >= 8) {
		uint32_t ulen = be16(l4 + 4);

		if (ulen < 8 || ulen > tot - ihl || ulen - 8 > sizeof(m->data))
			return 0;
		m->src_ip = be32(ip + 12);
		m->src_port = be16(l4);
		m->dst_port = be16(l4 + 2);
		m->len = ulen - 8;
		memcpy(m->data, l4 + 8, m->len);
		memcpy(arp_ip_mac, f + 6, 6); /* reply to whoever sent it */
		arp_ip = m->src_ip;
		return 1;
	}
	return 0;
}

int net_poll_udp(struct vnet *n, struct udp_msg *m, uint64_t deadline_ns)
{
	static uint8_t frame[VNET_FRAME_MAX];

	for (;;) {
		uint32_t len = vnet_recv(n, frame, sizeof(frame), deadline_ns);

		if (!len)
			return 0;
		if (net_handle(n, frame, len, m))
			return 1;
	}
}

int net_resolve(struct vnet *n, uint32_t ip, uint8_t mac[6], uint64_t deadline_ns)
{
	static uint8_t frame[VNET_FRAME_MAX];
	struct udp_msg m;

	arp_ip = ip;
	memset(arp_ip_mac, 0, 6);
	/* Ask every 200 ms: the first request may go out before the link is up. */
	while (!arp_ip_mac[0] && !arp_ip_mac[1] && !arp_ip_mac[2] && !arp_ip_mac[5]) {
		uint64_t now = time_ns(), retry = now + 200000000ull;
		uint32_t len;

		if (now >= deadline_ns)
			return CAP_ENOENT;
		arp_send(n, 1, NULL, ip);
		while ((len = vnet_recv(n, frame, sizeof(frame), retry)) != 0) {
			net_handle(n, frame, len, &m);
			if (arp_ip_mac[0] || arp_ip_mac[1] || arp_ip_mac[2] || arp_ip_mac[5])
				break;
		}
	}
	memcpy(mac, arp_ip_mac, 6);
	return 0;
}

int net_send_udp(struct vnet *n, uint32_t dst_ip, const uint8_t dst_mac[6], uint16_t src_port,
		 uint16_t dst_port, const void *data, uint32_t len)
{
	uint8_t f[1514];

	if (len > sizeof(f) - 42)
		return CAP_EINVAL;
	memcpy(f, dst_mac, 6), memcpy(f + 6, n->mac, 6), put16(f + 12, ETH_IP);
	ip_header(n, f + 14, 17, dst_ip, 8 + len);
	put16(f + 34, src_port), put16(f + 36, dst_port), put16(f + 38, (uint16_t)(8 + len));
	put16(f + 40, 0); /* UDP checksum optional over IPv4 */
	memcpy(f + 42, data, len);
	return vnet_send(n, f, 42 + len);
}
