/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-domain API (docs/api.md) under load: `GET /api/v1/vm.info` round trips over
 * keep-alive connections to a real `capsule run --api-sock`, against a bare Unix-socket echo
 * served by a thread of this process in the same run, with messages as long as the vm.info
 * answer (head and body). Each round runs, interleaved and in alternating order: 1 client
 * and 100 concurrent clients, on the echo and on the API. A client is one connection with
 * one request in flight; the 100 are driven by one thread through epoll, the same code for
 * both peers. Connections are opened, and warmed by one request, before the clock starts.
 * Each round is run with everything on one CPU and with the clients and the server on two
 * (needs 2 CPUs).
 *
 *   build/bench/api CAPSULE GUEST [ROUNDS]     (GUEST: build/tests/guests/ticker.elf)
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "kvm_floor.h"

enum { MANY = 100, ONE_REQS = 2000, MANY_REQS = 20000, MAX_ROUNDS = 50, BUF = 16384 };

static const char request[] = "GET /api/v1/vm.info HTTP/1.1\r\nHost: localhost\r\n\r\n";
static size_t echo_len; /* the length of a whole vm.info answer, measured first */
static char echo_msg[BUF];

struct conn {
	int fd;
	size_t have;
	uint64_t sent;
	char buf[BUF];
};

static int connect_to(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd < 0)
		bench_die("socket");
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			bench_die("send");
		p += w, n -= (size_t)w;
	}
}

/* Whole HTTP answer in c->buf: its length, or 0 while incomplete. Anything but 200 ends us. */
static size_t http_complete(struct conn *c)
{
	char *end = memmem(c->buf, c->have, "\r\n\r\n", 4), *p;
	size_t head, len = 0;

	if (!end)
		return 0;
	head = (size_t)(end - c->buf) + 4;
	if (strncmp(c->buf, "HTTP/1.1 200 ", 13)) {
		fprintf(stderr, "api: unexpected answer: %.*s\n", (int)head, c->buf);
		exit(1);
	}
	for (p = c->buf; p && p < end; p = memmem(p, (size_t)(end - p), "\r\n", 2)) {
		p += 2;
		if (!strncasecmp(p, "Content-Length:", 15))
			len = strtoul(p + 15, NULL, 10);
	}
	return c->have >= head + len ? head + len : 0;
}

/* Reads what is there; 1 when the answer to the request in flight is whole. */
static int feed(struct conn *c, int http)
{
	ssize_t r = recv(c->fd, c->buf + c->have, sizeof(c->buf) - 1 - c->have, 0);
	size_t whole;

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (r <= 0) {
		fprintf(stderr, "api: connection closed by the %s\n", http ? "API" : "echo");
		exit(1);
	}
	c->have += (size_t)r;
	c->buf[c->have] = 0;
	whole = http ? http_complete(c) : (c->have >= echo_len ? echo_len : 0);
	if (!whole)
		return 0;
	if (c->have != whole) {
		fprintf(stderr, "api: %zu bytes more than one answer\n", c->have - whole);
		exit(1);
	}
	c->have = 0;
	return 1;
}

static void issue(struct conn *c, int http)
{
	c->sent = bench_now_ns();
	if (http)
		send_all(c->fd, request, sizeof(request) - 1);
	else
		send_all(c->fd, echo_msg, echo_len);
}

struct result {
	uint64_t lat_median, rps;
};

/* n clients, `total` requests between them, one in flight each. */
static struct result round_trips(const char *path, int http, int n, int total)
{
	static struct conn conns[MANY];
	static uint64_t lat[MANY_REQS];
	struct epoll_event ev[MANY];
	int ep = -1, issued = 0, done = 0;
	uint64_t t0, t;

	for (int i = 0; i < n; i++) {
		conns[i].fd = connect_to(path);
		conns[i].have = 0;
		if (conns[i].fd < 0)
			bench_die(path);
		issue(&conns[i], http);
		while (!feed(&conns[i], http))
			;
	}
	if (n > 1) {
		ep = epoll_create1(EPOLL_CLOEXEC);
		for (int i = 0; i < n; i++) {
			struct epoll_event e = {.events = EPOLLIN, .data.ptr = &conns[i]};

			if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &e) < 0)
				bench_die("epoll_ctl");
		}
	}
	t0 = bench_now_ns();
	for (int i = 0; i < n; i++, issued++)
		issue(&conns[i], http);
	while (done < total) {
		if (n == 1) { /* blocking: one send, one receive, no poll in the way */
			if (!feed(&conns[0], http))
				continue;
			t = bench_now_ns();
			lat[done++] = t - conns[0].sent;
			if (issued < total)
				issue(&conns[0], http), issued++;
			continue;
		}
		int k = epoll_wait(ep, ev, MANY, 10000);

		if (k <= 0) {
			fprintf(stderr, "api: no answer in 10 s (%d of %d done)\n", done, total);
			exit(1);
		}
		for (int j = 0; j < k; j++) {
			struct conn *c = ev[j].data.ptr;

			if (!feed(c, http))
				continue;
			t = bench_now_ns();
			lat[done++] = t - c->sent;
			if (issued < total)
				issue(c, http), issued++;
		}
	}
	t = bench_now_ns() - t0;
	for (int i = 0; i < n; i++)
		close(conns[i].fd);
	if (ep >= 0)
		close(ep);
	return (struct result){median_u64(lat, (size_t)total),
			       (uint64_t)((double)total * 1e9 / (double)t)};
}

/* The peer: a bare echo on a Unix socket, one thread on epoll (as the API server is). */
static volatile pid_t echo_tid;

static void *echo_server(void *arg)
{
	int lfd = *(int *)arg, ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event e = {.events = EPOLLIN, .data.fd = lfd}, ev[64];
	char buf[BUF];

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e) < 0)
		bench_die("echo: epoll");
	echo_tid = gettid();
	for (;;) {
		int k = epoll_wait(ep, ev, 64, -1);

		for (int j = 0; j < k; j++) {
			int fd = ev[j].data.fd;

			if (fd == lfd) {
				int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};

				if (c >= 0)
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
				continue;
			}
			ssize_t r = recv(fd, buf, sizeof(buf), 0);

			if (r < 0 && errno == EAGAIN)
				continue;
			if (r <= 0) {
				close(fd); /* leaves the epoll set with its last descriptor */
				continue;
			}
			send_all(fd, buf, (size_t)r);
		}
	}
	return NULL;
}

static int listen_on(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0)
		bench_die(path);
	return fd;
}

/* capsule's stderr: shown only if the benchmark fails (exit with anything but 0). */
static char capsule_log[128];
static int finished;

static void show_capsule_log(void)
{
	char line[512];
	FILE *f;

	if (!finished && capsule_log[0] && (f = fopen(capsule_log, "r"))) {
		while (fgets(line, sizeof(line), f))
			fprintf(stderr, "api: capsule said: %s", line);
		fclose(f);
	}
	if (capsule_log[0])
		unlink(capsule_log);
}

static pid_t start_capsule(const char *capsule, const char *guest, const char *sock)
{
	pid_t pid;

	snprintf(capsule_log, sizeof(capsule_log), "/tmp/capsule-bench-api-%d.log", (int)getpid());
	atexit(show_capsule_log);
	pid = fork();
	if (pid < 0)
		bench_die("fork");
	if (pid == 0) {
		/* Never outlives us; and capsule destroys the domain after 120 s whatever. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "r", stdin) ||
		    !freopen(capsule_log, "w", stderr))
			_exit(127);
		execl(capsule, capsule, "run", "--timeout", "120", "--api-sock", sock, guest,
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) { /* up to 5 s for the socket */
		int fd = connect_to(sock);
		int status;

		if (fd >= 0) {
			close(fd);
			return pid;
		}
		if (waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr, "api: capsule ended before serving %s\n", sock);
			exit(1);
		}
		usleep(10000);
	}
	kill(pid, SIGKILL);
	fprintf(stderr, "api: capsule did not serve %s in 5 s\n", sock);
	exit(1);
}

static void stop_capsule(pid_t pid)
{
	int status;

	kill(pid, SIGTERM);
	for (int i = 0; i < 500; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

static void pin(pid_t tid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(tid, sizeof(set), &set) && errno != ESRCH)
		bench_die("sched_setaffinity");
}

/* Every thread of process `pid` on `cpu`. */
static void pin_process(pid_t pid, int cpu)
{
	char dir[64];
	struct dirent *t;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	if (!(d = opendir(dir)))
		bench_die(dir);
	while ((t = readdir(d)))
		if (t->d_name[0] != '.')
			pin(atoi(t->d_name), cpu);
	closedir(d);
}

static uint64_t med_range(uint64_t *v, int n, uint64_t *lo, uint64_t *hi)
{
	uint64_t s[MAX_ROUNDS];

	memcpy(s, v, sizeof(*v) * (size_t)n);
	qsort(s, (size_t)n, sizeof(*s), cmp_u64);
	*lo = s[0], *hi = s[n - 1];
	return s[n / 2];
}

struct figures {
	uint64_t e1[MAX_ROUNDS], a1[MAX_ROUNDS], em[MAX_ROUNDS], am[MAX_ROUNDS];
	uint64_t e1r[MAX_ROUNDS], a1r[MAX_ROUNDS], emr[MAX_ROUNDS], amr[MAX_ROUNDS];
};

/* One round: the four measurements, in the order given by `odd`. */
static void one_round(struct figures *f, int i, const char *echo_sock, const char *api_sock)
{
	for (int step = 0; step < 4; step++) {
		int which = i & 1 ? 3 - step : step;
		struct result r;

		switch (which) {
		case 0:
			r = round_trips(echo_sock, 0, 1, ONE_REQS);
			f->e1[i] = r.lat_median, f->e1r[i] = r.rps;
			break;
		case 1:
			r = round_trips(api_sock, 1, 1, ONE_REQS);
			f->a1[i] = r.lat_median, f->a1r[i] = r.rps;
			break;
		case 2:
			r = round_trips(echo_sock, 0, MANY, MANY_REQS);
			f->em[i] = r.lat_median, f->emr[i] = r.rps;
			break;
		default:
			r = round_trips(api_sock, 1, MANY, MANY_REQS);
			f->am[i] = r.lat_median, f->amr[i] = r.rps;
			break;
		}
	}
}

/* Medians over the rounds with their ranges; ratios are the median of the rounds' own. */
static void report(const struct figures *f, int rounds, const char *where)
{
	uint64_t r1[MAX_ROUNDS], rm[MAX_ROUNDS], rt[MAX_ROUNDS], rte[MAX_ROUNDS], rte1[MAX_ROUNDS];
	uint64_t lo[12], hi[12], m[12];

	for (int i = 0; i < rounds; i++) {
		r1[i] = f->a1[i] * 1000 / f->e1[i];
		rm[i] = f->am[i] * 1000 / f->em[i];
		rt[i] = f->amr[i] * 1000 / f->a1r[i];
		rte[i] = f->amr[i] * 1000 / f->emr[i];
		rte1[i] = f->emr[i] * 1000 / f->e1r[i];
	}
	const uint64_t *all[12] = {f->a1,  f->e1,  r1, f->am,  f->em, rm,
				   f->amr, f->a1r, rt, f->emr, rte,   f->e1r};

	for (int k = 0; k < 12; k++)
		m[k] = med_range((uint64_t *)all[k], rounds, &lo[k], &hi[k]);
	printf("api, %s: echo throughput 1 client %llu req/s, %d clients %llu req/s (%.2fx)\n",
	       where, (unsigned long long)m[11], MANY, (unsigned long long)m[9],
	       med_range(rte1, rounds, &lo[11], &hi[11]) / 1e3);
	printf("| vm.info round trip, 1 keep-alive client, %s | %.1f us (%.1f-%.1f) | bare "
	       "Unix-socket echo, %zu bytes: %.1f us (%.1f-%.1f) | %.2fx (%.2f-%.2f) |\n",
	       where, m[0] / 1e3, lo[0] / 1e3, hi[0] / 1e3, echo_len, m[1] / 1e3, lo[1] / 1e3,
	       hi[1] / 1e3, m[2] / 1e3, lo[2] / 1e3, hi[2] / 1e3);
	printf("| vm.info latency, %d keep-alive clients, %s (median) | %.0f us (%.0f-%.0f) | "
	       "echo, %d clients: %.0f us (%.0f-%.0f) | %.2fx (%.2f-%.2f) |\n",
	       MANY, where, m[3] / 1e3, lo[3] / 1e3, hi[3] / 1e3, MANY, m[4] / 1e3, lo[4] / 1e3,
	       hi[4] / 1e3, m[5] / 1e3, lo[5] / 1e3, hi[5] / 1e3);
	printf("| vm.info throughput, %d clients, %s | %llu req/s (%llu-%llu) | same API, 1 "
	       "client: %llu req/s (%llu-%llu) | %.2fx (%.2f-%.2f) |\n",
	       MANY, where, (unsigned long long)m[6], (unsigned long long)lo[6],
	       (unsigned long long)hi[6], (unsigned long long)m[7], (unsigned long long)lo[7],
	       (unsigned long long)hi[7], m[8] / 1e3, lo[8] / 1e3, hi[8] / 1e3);
	printf("| vm.info throughput, %d clients, %s, against the echo | %llu req/s (%llu-%llu) | "
	       "echo, %d clients: %llu req/s (%llu-%llu) | %.2fx (%.2f-%.2f) |\n",
	       MANY, where, (unsigned long long)m[6], (unsigned long long)lo[6],
	       (unsigned long long)hi[6], MANY, (unsigned long long)m[9], (unsigned long long)lo[9],
	       (unsigned long long)hi[9], m[10] / 1e3, lo[10] / 1e3, hi[10] / 1e3);
}

int main(int argc, char **argv)
{
	static struct figures one_cpu, two_cpus;
	int rounds = argc > 3 ? atoi(argv[3]) : 7;
	char api_sock[108], api_lock[120], echo_sock[108];
	pthread_t echo;
	int lfd;

	if (argc < 3 || rounds < 5 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: api CAPSULE GUEST [ROUNDS 5-%d]\n", MAX_ROUNDS);
		return 2;
	}
	snprintf(api_sock, sizeof(api_sock), "/tmp/capsule-bench-api-%d.sock", (int)getpid());
	snprintf(api_lock, sizeof(api_lock), "%s.lock", api_sock);
	snprintf(echo_sock, sizeof(echo_sock), "/tmp/capsule-bench-echo-%d.sock", (int)getpid());
	pid_t pid = start_capsule(argv[1], argv[2], api_sock);

	lfd = listen_on(echo_sock);
	if (pthread_create(&echo, NULL, echo_server, &lfd))
		bench_die("pthread_create");
	pthread_detach(echo);
	while (!echo_tid)
		usleep(1000);

	/* One answer first, for its length: the echo moves as many bytes each way. */
	struct conn probe = {.fd = connect_to(api_sock)};
	size_t whole = 0;

	if (probe.fd < 0)
		bench_die(api_sock);
	send_all(probe.fd, request, sizeof(request) - 1);
	while (!whole) {
		ssize_t n =
		    recv(probe.fd, probe.buf + probe.have, sizeof(probe.buf) - 1 - probe.have, 0);

		if (n <= 0)
			bench_die("api: first answer");
		probe.have += (size_t)n;
		probe.buf[probe.have] = 0;
		whole = http_complete(&probe);
	}
	close(probe.fd);
	echo_len = whole;
	memset(echo_msg, 'x', echo_len);

	/*
	 * Two placements, interleaved round by round. On one CPU (every thread of both
	 * processes on CPU 0) a round trip is two context switches on that CPU. On two CPUs
	 * the clients stay on CPU 0 and the server, the echo thread or every thread of
	 * capsule, is on CPU 1: each round trip then wakes the other CPU, for both peers.
	 */
	for (int i = 0; i < rounds; i++) {
		pin(gettid(), 0);
		pin(echo_tid, 0);
		pin_process(pid, 0);
		one_round(&one_cpu, i, echo_sock, api_sock);
		pin(echo_tid, 1);
		pin_process(pid, 1);
		one_round(&two_cpus, i, echo_sock, api_sock);
	}
	stop_capsule(pid);
	unlink(api_sock);
	unlink(api_lock);
	unlink(echo_sock);

	printf("api (median of %d interleaved rounds; %d round trips with 1 client, %d with %d "
	       "clients; vm.info answer and echo message %zu bytes)\n",
	       rounds, ONE_REQS, MANY_REQS, MANY, echo_len);
	report(&one_cpu, rounds, "one CPU");
	report(&two_cpus, rounds, "two CPUs");
	finished = 1;
	return 0;
}
