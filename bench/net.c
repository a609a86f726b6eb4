/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network benchmark, run inside a network namespace holding the guest's TAP: UDP round trip
 * and guest-to-host throughput, each against the same measurement between two sockets of
 * this process over loopback in the same run.
 *
 *   ip netns exec NS build/bench/net GUEST_IP   (bench/run.sh sets it up)
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <sys/socket.h>

#include "kvm_floor.h"

#define ROUNDS 2000

static int udp_socket(const char *ip, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_INET, SOCK_DGRAM, 0), big = 4 << 20;

	inet_pton(AF_INET, ip, &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		bench_die("bind");
	return fd;
}

static struct sockaddr_in addr(const char *ip, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

/* The loopback peer: echoes, or answers "blast N SIZE" like the guest does. */
static void *loop_peer(void *arg)
{
	int fd = *(int *)arg;
	char buf[2048];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);

	for (;;) {
		ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
		unsigned long count, size;

		if (n <= 0)
			return NULL;
		buf[n] = 0;
		if (sscanf(buf, "blast %lu %lu", &count, &size) == 2) {
			static char payload[1472];

			for (unsigned long i = 0; i < count; i++)
				sendto(fd, payload, size, 0, (struct sockaddr *)&from, fl);
			sendto(fd, "done", 4, 0, (struct sockaddr *)&from, fl);
		} else if (!strcmp(buf, "stop")) {
			return NULL;
		} else {
			sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
		}
	}
}

static double rtt_us(int fd, struct sockaddr_in to)
{
	uint64_t t[ROUNDS];
	char buf[64];

	for (int i = 0; i < ROUNDS; i++) {
		uint64_t t0 = bench_now_ns();

		sendto(fd, "ping-0123456789", 15, 0, (struct sockaddr *)&to, sizeof(to));
		if (recv(fd, buf, sizeof(buf), 0) != 15)
			bench_die("echo");
		t[i] = bench_now_ns() - t0;
	}
	return (double)median_u64(t, ROUNDS) / 1e3;
}

/* MB/s of payload received after asking the peer to blast `count` datagrams. */
static double blast_mbps(int fd, struct sockaddr_in to, unsigned count, unsigned size,
			 unsigned *received)
{
	char cmd[64], buf[2048];
	uint64_t bytes = 0, t0;

	snprintf(cmd, sizeof(cmd), "blast %u %u", count, size);
	t0 = bench_now_ns();
	sendto(fd, cmd, strlen(cmd), 0, (struct sockaddr *)&to, sizeof(to));
	*received = 0;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n <= 0)
			break;
		if (n == 4 && !memcmp(buf, "done", 4))
			break;
		bytes += (uint64_t)n;
		(*received)++;
	}
	return (double)bytes / ((double)(bench_now_ns() - t0) / 1e9) / 1e6;
}

int main(int argc, char **argv)
{
	const unsigned count = 20000, size = 1400;
	unsigned got_g, got_l;
	pthread_t th;

	if (argc < 2) {
		fprintf(stderr, "usage: net GUEST_IP\n");
		return 2;
	}
	int to_guest = udp_socket("0.0.0.0", 9100), peer = udp_socket("127.0.0.1", 9200);
	int to_loop = udp_socket("127.0.0.1", 9101);
	struct sockaddr_in guest = addr(argv[1], 7), loop = addr("127.0.0.1", 9200);

	pthread_create(&th, NULL, loop_peer, &peer);
	double g_rtt = rtt_us(to_guest, guest), l_rtt = rtt_us(to_loop, loop);
	double g_tp = blast_mbps(to_guest, guest, count, size, &got_g);
	double l_tp = blast_mbps(to_loop, loop, count, size, &got_l);

	sendto(to_loop, "stop", 4, 0, (struct sockaddr *)&loop, sizeof(loop));
	pthread_join(th, NULL);
	printf("| virtio-net UDP round trip, host to guest (median of %d) | %.0f us "
	       "| two host sockets over loopback %.0f us | %.2fx |\n",
	       ROUNDS, g_rtt, l_rtt, g_rtt / l_rtt);
	printf("| virtio-net UDP guest to host, %u x %u bytes | %.0f MB/s (%u of %u arrived) "
	       "| loopback, same sender logic: %.0f MB/s (%u arrived) | %.2fx |\n",
	       count, size, g_tp, got_g, count, l_tp, got_l, g_tp / l_tp);
	return 0;
}
