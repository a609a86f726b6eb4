/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Block throughput of virtio-blk against a host process doing the same access pattern on
 * the same file in the same run (synchronous pread/pwrite of the same block size: what a
 * program on the host gets). The file is in the page cache for both (warmed first). Each
 * pattern runs RUNS times (default 5) interleaved: host, guest polling for completions,
 * guest blocking on its event channel; each row is the median with the range, and the
 * ratio the median of the rounds' own ratios. The host's load is printed before and after.
 *
 *   build/bench/blk CAPSULE BLKBENCH_GUEST FILE [RUNS] [DISK_OPTIONS]
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "blk_pattern.h"
#include "kvm_floor.h"
#include "run_capsule.h"

#define FILE_MIB 256
#define MAX_RUNS 15

static double host_run(const char *path, int is_random, int is_write, uint64_t bs,
		       uint64_t total)
{
	int fd = open(path, O_RDWR);
	uint8_t *buf = aligned_alloc(4096, bs);
	uint64_t ops = total / bs, t0;

	if (fd < 0 || !buf)
		bench_die("host run");
	memset(buf, 0x3c, bs);
	t0 = bench_now_ns();
	for (uint64_t i = 0; i < ops; i++) {
		off_t off = (off_t)blk_pattern_offset(is_random, i, (uint64_t)FILE_MIB << 20, bs);
		ssize_t n = is_write ? pwrite(fd, buf, bs, off) : pread(fd, buf, bs, off);

		if (n != (ssize_t)bs)
			bench_die("host I/O");
	}
	t0 = bench_now_ns() - t0;
	close(fd);
	free(buf);
	return (double)(ops * bs) / ((double)t0 / 1e9) / 1e6; /* MB/s */
}

/* One guest run: MB/s, and requests per kick into *per_kick. */
static double guest_run(const char *cmd, double *per_kick)
{
	unsigned long long bytes = 0, ns = 0, reqs = 0, kicks = 0;
	char line[512];
	FILE *p = popen(cmd, "r");

	while (p && fgets(line, sizeof(line), p)) {
		char *s = strstr(line, "bytes=");

		if (s)
			sscanf(s, "bytes=%llu ns=%llu", &bytes, &ns);
		if ((s = strstr(line, "virtio-blk: ")))
			sscanf(s, "virtio-blk: %llu requests, %llu kicks", &reqs, &kicks);
	}
	if (!p || pclose(p) != 0 || !ns) {
		fprintf(stderr, "blk: '%s' failed\n", cmd);
		exit(1);
	}
	*per_kick = kicks ? (double)reqs / (double)kicks : 0;
	return (double)bytes / ((double)ns / 1e9) / 1e6;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *mode;
		unsigned bs_kib, total_mib, depth;
	} runs[] = {
		{"seqread", 64, 512, 64},  {"randread", 4, 64, 64},
		{"seqwrite", 64, 512, 64}, {"randwrite", 4, 64, 64},
	};
	static const char *const wait[2] = {"poll", "block"};
	int n = argc > 4 ? atoi(argv[4]) : 5;
	const char *opts = argc > 5 ? argv[5] : "";
	char cmd[1024], a[BENCH_FMT_LEN], b[BENCH_FMT_LEN], r[BENCH_FMT_LEN];

	if (argc < 4 || n < 1 || n > MAX_RUNS) {
		fprintf(stderr, "usage: blk CAPSULE BLKBENCH_GUEST FILE [RUNS (1-%d)] [,DISK_OPTS]\n",
			MAX_RUNS);
		return 2;
	}
	int fd = open(argv[3], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)FILE_MIB << 20) < 0)
		bench_die(argv[3]);
	close(fd);
	host_run(argv[3], 0, 1, 1 << 20, (uint64_t)FILE_MIB << 20); /* allocate and cache it */
	host_run(argv[3], 0, 0, 1 << 20, (uint64_t)FILE_MIB << 20);
	bench_print_load("before");
	for (unsigned k = 0; k < sizeof(runs) / sizeof(runs[0]); k++) {
		int is_random = runs[k].mode[0] == 'r', is_write = strstr(runs[k].mode, "write") != 0;
		uint64_t bs = runs[k].bs_kib * 1024ull, total = (uint64_t)runs[k].total_mib << 20;
		double host[MAX_RUNS], guest[2][MAX_RUNS], ratio[2][MAX_RUNS], per_kick[2] = {0};

		for (int i = 0; i < n; i++) { /* interleaved: host, polling guest, blocking guest */
			host[i] = host_run(argv[3], is_random, is_write, bs, total);
			for (int w = 0; w < 2; w++) {
				snprintf(cmd, sizeof(cmd),
					 "%s run --stats --mem 256 --disk %s%s --cmdline '%s %u %u %u %s' "
					 "%s 2>&1", argv[1], argv[3], opts, runs[k].mode, runs[k].bs_kib,
					 runs[k].total_mib, runs[k].depth, wait[w], argv[2]);
				guest[w][i] = guest_run(cmd, &per_kick[w]);
				ratio[w][i] = guest[w][i] / host[i];
			}
		}
		for (int w = 0; w < 2; w++) {
			struct bench_stat rs = bench_stat_d(ratio[w], (size_t)n);

			bench_fmt(a, bench_stat_d(guest[w], (size_t)n), 1, 0, "MB/s");
			bench_fmt(b, bench_stat_d(host, (size_t)n), 1, 0, "MB/s");
			snprintf(r, sizeof(r), "%.2fx (%.2f-%.2fx)", rs.median, rs.min, rs.max);
			printf("| virtio-blk%s %s, %u KiB x %u in flight, guest %s (median of %d) | %s, "
			       "%.1f requests per kick | host process, same file and pattern: %s | %s |\n",
			       opts, runs[k].mode, runs[k].bs_kib, runs[k].depth,
			       w ? "blocking" : "polling", n, a, per_kick[w], b, r);
		}
		fflush(stdout);
	}
	bench_print_load("after");
	unlink(argv[3]);
	return 0;
}
