/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net: `--cmdline "IP PEER"`. Say hello to PEER:9000 over UDP, answer ARP and ping,
 * echo every datagram sent to port 7, and power off when one says "quit".
 */
#include "virtio.h"

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
	TEST_CHECK(vnet_open(&n, ip) == 0);
	printf("vnet: mac %02x:%02x:%02x:%02x:%02x:%02x\n", n.mac[0], n.mac[1], n.mac[2],
	       n.mac[3], n.mac[4], n.mac[5]);
	TEST_CHECK(net_resolve(&n, peer, peer_mac, time_ns() + 20000000000ull) == 0);
	TEST_CHECK(net_send_udp(&n, peer, peer_mac, 7, 9000, "hello from guest", 16) == 0);
	printf("vnet: sent hello\n");
	while (net_poll_udp(&n, &m, tsc_ns() + 30000000000ull)) {
		if (m.len == 4 && !memcmp(m.data, "quit", 4)) {
			printf("vnet: echoed %u datagrams\n", echoed);
			test_finish(true);
		}
		if (m.len > 6 && !memcmp(m.data, "blast ", 6)) { /* "blast N SIZE": send N */
			static uint8_t payload[1472];
			char *e;
			unsigned long count = strtoul((char *)m.data + 6, &e, 10);
			unsigned long size = strtoul(e, NULL, 10);

			m.data[m.len < sizeof(m.data) ? m.len : sizeof(m.data) - 1] = 0;
			if (size > sizeof(payload))
				size = sizeof(payload);
			for (unsigned long i = 0; i < count; i++)
				net_send_udp(&n, m.src_ip, peer_mac, 7, m.src_port, payload, size);
			net_send_udp(&n, m.src_ip, peer_mac, 7, m.src_port, "done", 4);
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
