/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net with two queue pairs (`--net tap=NAME,queues=2`, `--vcpus 2`, `--cmdline "IP
 * PEER"`): vCPU 0 drives pair 0 and vCPU 1 pair 1. Each sends 100 datagrams to PEER:9000
 * from its own port (7000, 7001) on its own transmit queue, and counts the datagrams that
 * come back on its own receive queue (the peer echoes each; the kernel's TAP steers a flow's
 * replies to the queue it came from). Prints "vnetmq: pair 0 got N, pair 1 got M".
 */
#include "virtio.h"

#define COUNT 100

static struct vnet n[2];
static uint8_t peer_mac[6];
static uint32_t peer;
static volatile unsigned got[2];
static volatile bool done;

/* UDP datagrams to `port` in a frame (Ethernet, IPv4 without options). */
static bool udp_to(const uint8_t *f, uint32_t len, uint16_t port)
{
	return len >= 42 && f[12] == 0x08 && f[13] == 0 && f[23] == 17 &&
	       (uint16_t)(f[36] << 8 | f[37]) == port;
}

static void drive(unsigned pair)
{
	static uint8_t frame[2][VNET_FRAME_MAX];
	char msg[32];
	uint64_t until;

	for (unsigned i = 0; i < COUNT; i++) {
		int len = snprintf(msg, sizeof(msg), "pair %u datagram %u", pair, i);

		while (vnet_tx_room(&n[pair]) == 0) /* polled: vCPU 1 may not block on the port */
			;
		net_send_udp(&n[pair], peer, peer_mac, (uint16_t)(7000 + pair), 9000, msg,
			     (uint32_t)len);
	}
	until = tsc_ns() + 10000000000ull;
	while (got[pair] < COUNT && tsc_ns() < until) {
		uint32_t len = vnet_try_recv(&n[pair], frame[pair], sizeof(frame[pair]));

		if (len && udp_to(frame[pair], len, (uint16_t)(7000 + pair)))
			got[pair]++;
		else if (len && pair == 0) /* ARP and the rest */
			net_handle(&n[0], frame[0], len, &(struct udp_msg){0});
	}
}

static void second(void *arg)
{
	(void)arg;
	drive(1);
	done = true;
	vcpu_down();
}

int main(void)
{
	const char *peer_s = strchr(start_info->cmdline, ' ');
	uint32_t ip = ip_parse(start_info->cmdline);
	uint64_t until;

	TEST_CHECK(peer_s != NULL && nr_cpus() >= 2);
	peer = ip_parse(peer_s + 1);
	TEST_CHECK(vnet_open_pairs(n, 2, ip, VNET_OFFLOADS) == 0);
	printf("vnetmq: two queue pairs in use\n");
	TEST_CHECK(net_resolve(&n[0], peer, peer_mac, time_ns() + 20000000000ull) == 0);
	TEST_CHECK(smp_start(1, second, NULL) == 0);
	drive(0);
	until = tsc_ns() + 12000000000ull;
	while (!done && tsc_ns() < until)
		;
	printf("vnetmq: pair 0 got %u, pair 1 got %u\n", got[0], got[1]);
	test_finish(done && got[0] == COUNT && got[1] == COUNT);
}
