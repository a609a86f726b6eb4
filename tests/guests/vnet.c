/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net: `--cmdline "IP PEER [nooffload]"`. Say hello to PEER:9000 over UDP, answer ARP
 * and ping, echo every datagram sent to port 7, and power off when one says "quit".
 * "blast N SIZE" sends N datagrams back; "tcp PORT BYTES" opens a TCP connection to the
 * sender's PORT and sends BYTES bytes (byte i is i % 251), then "tcp: ..." over UDP;
 * "tcprecv PORT BYTES" accepts a connection on PORT and takes BYTES bytes of the same
 * pattern, then "tcprecv: ..." with the largest frame and the most buffers one spanned.
 * "sync" is answered "sync" (not counted as echoed); "hold MS" reads nothing for MS ms (the frames sent meanwhile wait in the host).
 * "nooffload" refuses the device's checksum and segmentation offloads.
 */
#include "virtio.h"

/* "tcp PORT BYTES": a bulk transfer to the sender, then its numbers in a datagram. */
static void send_tcp(struct vnet *n, const struct udp_msg *m, const uint8_t mac[6])
{
	static uint8_t pattern[251 + 65536];
	static struct tcp_conn c;
	static uint16_t sport = 40000;
	char *e, report[96];
	unsigned long port = strtoul((const char *)m->data + 4, &e, 10);
	unsigned long long bytes = strtoul(e, NULL, 10);
	int rc;

	for (unsigned i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i % 251);
	rc = tcp_connect(&c, n, m->src_ip, mac, sport++, (uint16_t)port, tsc_ns() + 5000000000ull);
	if (!rc)
		rc = tcp_send_stream(&c, pattern, 251, bytes, tsc_ns() + 60000000000ull);
	if (!rc)
		rc = tcp_close(&c, tsc_ns() + 5000000000ull);
	snprintf(report, sizeof(report), "tcp: %s %llu segments %llu retransmits mss %u%s",
		 rc ? "failed" : "sent", (unsigned long long)c.segments,
		 (unsigned long long)c.retransmits, c.mss, c.tso ? " tso" : "");
	printf("vnet: %s\n", report);
	net_send_udp(n, m->src_ip, mac, 7, m->src_port, report, (uint32_t)strlen(report));
}

static bool recv_intact;

static void check_data(struct tcp_conn *c, const uint8_t *data, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		recv_intact &= data[i] == (uint8_t)((c->received + i) % 251);
}

/* "tcprecv PORT BYTES": accept a connection to PORT, take BYTES (byte i is i % 251). */
static void recv_tcp(struct vnet *n, const struct udp_msg *m, const uint8_t mac[6])
{
	static struct tcp_conn c;
	char *e, report[128];
	unsigned long port = strtoul((const char *)m->data + 8, &e, 10);
	unsigned long long bytes = strtoul(e, NULL, 10);
	int rc;

	recv_intact = true;
	n->rx_max_frame = n->rx_max_bufs = 0;
	rc = tcp_accept(&c, n, (uint16_t)port, tsc_ns() + 10000000000ull);
	c.on_data = check_data;
	if (!rc)
		rc = tcp_recv_stream(&c, bytes, tsc_ns() + 60000000000ull);
	while (!rc && !c.peer_fin && !c.reset) /* the peer's FIN, then ours */
		tcp_recv_stream(&c, ~0ull, tsc_ns() + 5000000000ull);
	if (!rc)
		tcp_close(&c, tsc_ns() + 5000000000ull);
	snprintf(report, sizeof(report),
		 "tcprecv: %s %llu bytes %s, largest frame %u bytes in %u buffers",
		 rc ? "failed" : "got", (unsigned long long)c.received,
		 recv_intact ? "intact" : "corrupt", n->rx_max_frame, n->rx_max_bufs);
	printf("vnet: %s\n", report);
	net_send_udp(n, m->src_ip, mac, 7, m->src_port, report, (uint32_t)strlen(report));
}

int main(void)
{
	static struct vnet n;
	static struct udp_msg m;
	const char *peer_s = strchr(start_info->cmdline, ' ');
	uint32_t ip = ip_parse(start_info->cmdline), peer;
	uint8_t peer_mac[6];
	unsigned echoed = 0;

	TEST_CHECK(peer_s != NULL);
	peer = ip_parse(peer_s + 1);
	TEST_CHECK(vnet_open_ex(&n, ip, strstr(peer_s, "nooffload") ? 0 : VNET_OFFLOADS) == 0);
	printf("vnet: offloads %s\n", vnet_has(&n, VIRTIO_NET_F_HOST_TSO4) ? "tso" : "none");
	printf("vnet: mac %02x:%02x:%02x:%02x:%02x:%02x\n", n.mac[0], n.mac[1], n.mac[2],
	       n.mac[3], n.mac[4], n.mac[5]);
	TEST_CHECK(net_resolve(&n, peer, peer_mac, time_ns() + 20000000000ull) == 0);
	TEST_CHECK(net_send_udp(&n, peer, peer_mac, 7, 9000, "hello from guest", 16) == 0);
	printf("vnet: sent hello\n");
	while (net_poll_udp(&n, &m, tsc_ns() + 30000000000ull)) {
		m.data[m.len < sizeof(m.data) ? m.len : sizeof(m.data) - 1] = 0; /* commands */
		if (m.len == 4 && !memcmp(m.data, "quit", 4)) {
			printf("vnet: echoed %u datagrams\n", echoed);
			test_finish(true);
		}
		if (m.len > 6 && !memcmp(m.data, "blast ", 6)) { /* "blast N SIZE": send N */
			static uint8_t payload[1472];
			char *e;
			unsigned long count = strtoul((char *)m.data + 6, &e, 10);
			unsigned long size = strtoul(e, NULL, 10);

			if (size > sizeof(payload))
				size = sizeof(payload);
			for (unsigned long i = 0; i < count; i++)
				net_send_udp(&n, m.src_ip, peer_mac, 7, m.src_port, payload, size);
			net_send_udp(&n, m.src_ip, peer_mac, 7, m.src_port, "done", 4);
			continue;
		}
		if (m.len == 4 && !memcmp(m.data, "sync", 4)) { /* answered, not counted */
			net_send_udp(&n, m.src_ip, peer_mac, 7, m.src_port, "sync", 4);
			continue;
		}
		if (m.len > 5 && !memcmp(m.data, "hold ", 5)) { /* read nothing for a while */
			uint64_t until = tsc_ns() + strtoul((char *)m.data + 5, NULL, 10) * 1000000ull;

			while (tsc_ns() < until)
				;
			continue;
		}
		if (m.len > 8 && !memcmp(m.data, "tcprecv ", 8)) {
			recv_tcp(&n, &m, peer_mac);
			continue;
		}
		if (m.len > 4 && !memcmp(m.data, "tcp ", 4)) {
			send_tcp(&n, &m, peer_mac);
			continue;
		}
		if (m.dst_port == 7) {
			net_send_udp(&n, m.src_ip, peer_mac, 7, m.src_port, m.data, m.len);
			echoed++;
		}
	}
	printf("vnet: timed out\n");
	test_finish(false);
}
