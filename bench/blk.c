/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Block throughput of virtio-blk against a host process doing the same access pattern on
 * the same file in the same run (synchronous pread/pwrite of the same block size: what a
 * program on the host gets). The file is in the page cache for both (warmed first).
 *
 *   build/bench/blk CAPSULE BLKBENCH_GUEST FILE
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "blk_pattern.h"
#include "kvm_floor.h"
#include "run_capsule.h"

#define FILE_MIB 256

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

int main(int argc, char **argv)
{
	static const struct {
		const char *mode;
		unsigned bs_kib, total_mib, depth;
	} runs[] = {
		{"seqread", 64, 512, 64},  {"randread", 4, 64, 64},
		{"seqwrite", 64, 512, 64}, {"randwrite", 4, 64, 64},
	};
	char cmd[1024], line[512];

	if (argc < 4) {
		fprintf(stderr, "usage: blk CAPSULE BLKBENCH_GUEST FILE\n");
		return 2;
	}
	int fd = open(argv[3], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)FILE_MIB << 20) < 0)
		bench_die(argv[3]);
	close(fd);
	host_run(argv[3], 0, 1, 1 << 20, (uint64_t)FILE_MIB << 20); /* allocate and cache it */
	host_run(argv[3], 0, 0, 1 << 20, (uint64_t)FILE_MIB << 20);
	for (unsigned r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
		int is_random = runs[r].mode[0] == 'r', is_write = strstr(runs[r].mode, "write") != 0;
		uint64_t bs = runs[r].bs_kib * 1024ull, total = (uint64_t)runs[r].total_mib << 20;
		double host[3], guest[3], req_per_kick = 0;

		for (int k = 0; k < 3; k++) {
			FILE *p;
			unsigned long long bytes = 0, ns = 0, reqs = 0, kicks = 0;

			host[k] = host_run(argv[3], is_random, is_write, bs, total);
			snprintf(cmd, sizeof(cmd),
				 "%s run --stats --mem 256 --disk %s --cmdline '%s %u %u %u' %s 2>&1",
				 argv[1], argv[3], runs[r].mode, runs[r].bs_kib, runs[r].total_mib,
				 runs[r].depth, argv[2]);
			p = popen(cmd, "r");
			while (p && fgets(line, sizeof(line), p)) {
				char *s = strstr(line, "bytes=");

				if (s)
					sscanf(s, "bytes=%llu ns=%llu", &bytes, &ns);
				if ((s = strstr(line, "virtio-blk: ")))
					sscanf(s, "virtio-blk: %llu requests, %llu kicks", &reqs, &kicks);
			}
			if (!p || pclose(p) != 0 || !ns) {
				fprintf(stderr, "blk: '%s' failed\n", cmd);
				return 1;
			}
			guest[k] = (double)bytes / ((double)ns / 1e9) / 1e6;
			req_per_kick = kicks ? (double)reqs / (double)kicks : 0;
		}
		/* medians of three */
		for (int i = 0; i < 3; i++)
			for (int j = i + 1; j < 3; j++) {
				if (host[j] < host[i]) { double t = host[i]; host[i] = host[j]; host[j] = t; }
				if (guest[j] < guest[i]) { double t = guest[i]; guest[i] = guest[j]; guest[j] = t; }
			}
		printf("| virtio-blk %s, %u KiB blocks, %u in flight | %.0f MB/s (%.1f requests per kick) "
		       "| host process, same file and pattern: %.0f MB/s | %.2fx |\n",
		       runs[r].mode, runs[r].bs_kib, runs[r].depth, guest[1], req_per_kick, host[1],
		       guest[1] / host[1]);
	}
	unlink(argv[3]);
	return 0;
}
