/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network benchmark, run inside a network namespace holding the guest's TAP. Each of RUNS
 * runs measures, interleaved, the guest and its peer in this process over loopback:
 *   - UDP round trip host -> guest -> host (median of ROUNDS), against two loopback UDP
 *     sockets, and against a bare `out` exit of a raw KVM vCPU (bench/kvm_floor.h);
 *   - UDP guest to host ("blast"), against the same sender logic over loopback;
 *   - bulk TCP guest to host (tests/guests/vnet.c's "tcp PORT BYTES": 64 KiB TSO segments
 *     with partial checksums when the guest took the offloads) into a real socket here,
 *     data checked, against the same transfer between two loopback TCP sockets;
 *   - bulk TCP host to guest ("tcprecv PORT BYTES": the guest's kit takes 64 KiB GSO
 *     frames over its mergeable buffers and checks the data), against the same.
 * Each row prints the median with min-max over the runs and the host load.
 *
 *   ip netns exec NS build/bench/net GUEST_IP [RUNS]   (bench/run.sh sets it up)
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <sys/socket.h>

#include "kvm_floor.h"

#define ROUNDS 500
#define BLAST 10000u
#define BLAST_SIZE 1400u
#define TCP_BYTES (32u << 20)
#define RUNS_MAX 31

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

static uint8_t pattern[251 + (1u << 20)];

/* TCP_BYTES of the pattern over fd in writes of up to 64 KiB (what = who dies if it fails). */
static void send_pattern(int fd, const char *what)
{
	uint64_t off = 0;

	while (off < TCP_BYTES) {
		size_t len = TCP_BYTES - off < 65536 ? TCP_BYTES - off : 65536;
		ssize_t n = send(fd, pattern + off % 251, len, 0);

		if (n <= 0)
			bench_die(what);
		off += (uint64_t)n;
	}
}

/* The loopback TCP sender: what the guest does, from this process. */
static void tcp_send_loop(uint16_t port)
{
	struct sockaddr_in to = addr("127.0.0.1", port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0)
		bench_die("connect");
	send_pattern(fd, "send");
	close(fd);
}

static int loop_recv_listener = -1; /* the loopback peer's "tcprecv" socket */

/* The loopback TCP receiver: what the guest does with "tcprecv", from this process. */
static void tcp_recv_loop(void)
{
	static uint8_t buf[1u << 20];
	uint64_t got = 0;
	int c = accept(loop_recv_listener, NULL, NULL);
	ssize_t n;

	if (c < 0)
		bench_die("accept");
	while ((n = recv(c, buf, sizeof(buf), 0)) > 0) {
		if (memcmp(buf, pattern + got % 251, (size_t)n))
			bench_die("tcprecv: the data arrived corrupt");
		got += (uint64_t)n;
	}
	close(c);
}

/* The loopback peer: echoes, answers "blast N SIZE", "tcp PORT BYTES" and "tcprecv PORT
 * BYTES" like the guest. */
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
		} else if (sscanf(buf, "tcprecv %lu", &count) == 1) {
			tcp_recv_loop();
			sendto(fd, "tcprecv: got", 12, 0, (struct sockaddr *)&from, fl);
		} else if (sscanf(buf, "tcp %lu", &count) == 1) {
			tcp_send_loop((uint16_t)count);
			sendto(fd, "tcp: sent", 9, 0, (struct sockaddr *)&from, fl);
		} else if (!strcmp(buf, "stop")) {
			return NULL;
		} else {
			sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
		}
	}
}

static uint64_t rtt_ns(int fd, struct sockaddr_in to)
{
	static uint64_t t[ROUNDS];
	char buf[64];

	for (int i = 0; i < ROUNDS; i++) {
		uint64_t t0 = bench_now_ns();

		sendto(fd, "ping-0123456789", 15, 0, (struct sockaddr *)&to, sizeof(to));
		if (recv(fd, buf, sizeof(buf), 0) != 15)
			bench_die("echo");
		t[i] = bench_now_ns() - t0;
	}
	return median_u64(t, ROUNDS);
}

/* ns to receive the blast of `count` datagrams asked for (and how many came). */
static uint64_t blast_ns(int fd, struct sockaddr_in to, unsigned *received)
{
	char cmd[64], buf[2048];
	uint64_t t0;

	snprintf(cmd, sizeof(cmd), "blast %u %u", BLAST, BLAST_SIZE);
	t0 = bench_now_ns();
	sendto(fd, cmd, strlen(cmd), 0, (struct sockaddr *)&to, sizeof(to));
	*received = 0;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n <= 0 || (n == 4 && !memcmp(buf, "done", 4)))
			break;
		(*received)++;
	}
	return bench_now_ns() - t0;
}

/* ns from accepting the sender's connection to its end, the data checked. */
static uint64_t tcp_ns(int udp, struct sockaddr_in to, int lfd, uint16_t port)
{
	static uint8_t buf[1u << 20];
	char cmd[64];
	uint64_t got = 0, t0;
	int c;

	snprintf(cmd, sizeof(cmd), "tcp %u %u", port, TCP_BYTES);
	sendto(udp, cmd, strlen(cmd), 0, (struct sockaddr *)&to, sizeof(to));
	c = accept(lfd, NULL, NULL);
	if (c < 0)
		bench_die("accept");
	t0 = bench_now_ns();
	for (;;) {
		ssize_t n = recv(c, buf, sizeof(buf), 0);

		if (n <= 0)
			break;
		if (memcmp(buf, pattern + got % 251, (size_t)n))
			bench_die("tcp: the data arrived corrupt");
		got += (uint64_t)n;
	}
	t0 = bench_now_ns() - t0;
	close(c);
	if (got != TCP_BYTES)
		bench_die("tcp: the transfer ended short");
	if (recv(udp, cmd, sizeof(cmd), 0) <= 0) /* the sender's report */
		bench_die("tcp: no report");
	return t0;
}

/* ns from connecting to the receiver (the guest, or the loopback peer) to its close. */
static uint64_t tcp_to_ns(int udp, struct sockaddr_in to, const char *ip, uint16_t port)
{
	struct sockaddr_in a = addr(ip, port);
	char cmd[96];
	uint64_t t0;
	int fd = -1;

	snprintf(cmd, sizeof(cmd), "tcprecv %u %u", port, TCP_BYTES);
	sendto(udp, cmd, strlen(cmd), 0, (struct sockaddr *)&to, sizeof(to));
	for (int i = 0; i < 100; i++) { /* until the receiver listens */
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			break;
		close(fd);
		fd = -1;
		usleep(20000);
	}
	if (fd < 0)
		bench_die("tcprecv: connect");
	t0 = bench_now_ns();
	send_pattern(fd, "tcprecv: send");
	shutdown(fd, SHUT_WR);
	while (recv(fd, cmd, sizeof(cmd), 0) > 0) /* its close: everything was taken */
		;
	t0 = bench_now_ns() - t0;
	close(fd);
	if (recv(udp, cmd, sizeof(cmd) - 1, 0) <= 0 || strncmp(cmd, "tcprecv: got", 12))
		bench_die("tcprecv: no report");
	if (strstr(cmd, "corrupt"))
		bench_die("tcprecv: the guest got corrupt data");
	return t0;
}

static int tcp_listen(const char *ip, uint16_t port)
{
	struct sockaddr_in a = addr(ip, port);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct timeval tv = {.tv_sec = 10};

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0)
		bench_die("tcp listen");
	return fd;
}

int main(int argc, char **argv)
{
	uint64_t g_rtt[RUNS_MAX], l_rtt[RUNS_MAX], exit_ns[RUNS_MAX], g_bl[RUNS_MAX],
		l_bl[RUNS_MAX], g_tcp[RUNS_MAX], l_tcp[RUNS_MAX], bl_bytes[RUNS_MAX],
		g_in[RUNS_MAX], l_in[RUNS_MAX];
	char a[BENCH_FMT_LEN], b[BENCH_FMT_LEN], r[BENCH_FMT_LEN], r2[BENCH_FMT_LEN];
	unsigned runs = argc > 2 ? (unsigned)atoi(argv[2]) : 5, got_g = 0, got_l = 0;
	struct floor_vm f;
	pthread_t th;

	if (argc < 2 || runs < 1 || runs > RUNS_MAX) {
		fprintf(stderr, "usage: net GUEST_IP [RUNS]\n");
		return 2;
	}
	for (unsigned i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i % 251);
	int to_guest = udp_socket("0.0.0.0", 9100), peer = udp_socket("127.0.0.1", 9200);
	int to_loop = udp_socket("127.0.0.1", 9101);
	int lg = tcp_listen("0.0.0.0", 5001), ll = tcp_listen("127.0.0.1", 5002);

	loop_recv_listener = tcp_listen("127.0.0.1", 5004);
	struct sockaddr_in guest = addr(argv[1], 7), loop = addr("127.0.0.1", 9200);

	pthread_create(&th, NULL, loop_peer, &peer);
	floor_vm_create(&f);
	bench_print_load("before");
	for (unsigned i = 0; i < runs; i++) {
		g_rtt[i] = rtt_ns(to_guest, guest);
		l_rtt[i] = rtt_ns(to_loop, loop);
		exit_ns[i] = (uint64_t)floor_out_exits(&f, 2000);
		g_bl[i] = blast_ns(to_guest, guest, &got_g);
		l_bl[i] = blast_ns(to_loop, loop, &got_l);
		bl_bytes[i] = (uint64_t)got_g * BLAST_SIZE;
		g_tcp[i] = tcp_ns(to_guest, guest, lg, 5001);
		l_tcp[i] = tcp_ns(to_loop, loop, ll, 5002);
		g_in[i] = tcp_to_ns(to_guest, guest, argv[1], 5003);
		l_in[i] = tcp_to_ns(to_loop, loop, "127.0.0.1", 5004);
	}
	bench_print_load("after");
	floor_vm_destroy(&f);
	sendto(to_loop, "stop", 4, 0, (struct sockaddr *)&loop, sizeof(loop));
	pthread_join(th, NULL);
	printf("| virtio-net UDP round trip, host to guest (median of %d, %u runs) | %s "
	       "| two host sockets over loopback %s | %s |\n",
	       ROUNDS, runs, bench_fmt(a, bench_stat_u64(g_rtt, runs), 1e3, 0, "us"),
	       bench_fmt(b, bench_stat_u64(l_rtt, runs), 1e3, 1, "us"),
	       bench_fmt_ratio(r, g_rtt, l_rtt, runs));
	printf("| virtio-net UDP round trip in bare exits | %s | bare `out` exit, raw KVM %s "
	       "| %s |\n",
	       a, bench_fmt(b, bench_stat_u64(exit_ns, runs), 1e3, 0, "us"),
	       bench_fmt_ratio(r, g_rtt, exit_ns, runs));
	for (unsigned i = 0; i < runs; i++) /* throughput ratio = time ratio, inverted */
		bl_bytes[i] = bl_bytes[i] ? l_bl[i] * ((uint64_t)BLAST * BLAST_SIZE) / bl_bytes[i]
					  : 0;
	printf("| virtio-net UDP guest to host, %u x %u bytes (%u of %u arrived, last run) "
	       "| %s | loopback, same sender logic: %s (%u arrived) | %s |\n",
	       BLAST, BLAST_SIZE, got_g, BLAST, bench_fmt(a, bench_stat_u64(g_bl, runs), 1e6, 1, "ms"),
	       bench_fmt(b, bench_stat_u64(l_bl, runs), 1e6, 1, "ms"), got_l,
	       bench_fmt_ratio(r, bl_bytes, g_bl, runs));
	printf("| virtio-net TCP guest to host, %u MiB, 64 KiB TSO segments (throughput) "
	       "| %s | two loopback TCP sockets %s | %s |\n",
	       TCP_BYTES >> 20, bench_fmt(a, bench_stat_u64(g_tcp, runs), 1e6, 1, "ms"),
	       bench_fmt(b, bench_stat_u64(l_tcp, runs), 1e6, 1, "ms"),
	       bench_fmt_ratio(r2, l_tcp, g_tcp, runs));
	printf("| virtio-net TCP host to guest, %u MiB, 64 KiB GSO frames over mergeable buffers "
	       "(throughput) | %s | two loopback TCP sockets %s | %s |\n",
	       TCP_BYTES >> 20, bench_fmt(a, bench_stat_u64(g_in, runs), 1e6, 1, "ms"),
	       bench_fmt(b, bench_stat_u64(l_in, runs), 1e6, 1, "ms"),
	       bench_fmt_ratio(r2, l_in, g_in, runs));
	return 0;
}
