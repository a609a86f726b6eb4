/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HVM launch: from fork+exec to the first byte the guest writes on its serial port, and the
 * VMM's peak resident memory, for Capsule and for QEMU's microvm booting the same test
 * kernel (multiboot) with the same memory, interleaved in the same run; medians. With the
 * kernel as ELF32 as well (QEMU's pc machine wants one), the cost of fidelity: Capsule with
 * full ACPI and PCI (a virtio-pci device) against QEMU's pc machine (SeaBIOS, ACPI, PCI).
 *
 *   build/bench/hvm CAPSULE KERNEL [RUNS [KERNEL_ELF32]]
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include "kvm_floor.h"
#include "run_capsule.h"

struct sample {
	uint64_t first_byte_ns;
	long max_rss_kib;
};

static struct sample run(char **argv)
{
	struct sample s = {0};
	struct rusage ru;
	int pipefd[2], status;
	uint64_t t0;
	char c;
	pid_t pid;

	if (pipe(pipefd) < 0)
		bench_die("pipe");
	t0 = bench_now_ns();
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		if (!freopen("/dev/null", "w", stderr))
			_exit(127);
		close(pipefd[0]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &c, 1) == 1)
		s.first_byte_ns = bench_now_ns() - t0;
	while (read(pipefd[0], &c, 1) == 1) /* drain until the guest exits */
		;
	close(pipefd[0]);
	if (wait4(pid, &status, 0, &ru) < 0 || !s.first_byte_ns) {
		fprintf(stderr, "hvm: %s produced no output\n", argv[0]);
		exit(1);
	}
	s.max_rss_kib = ru.ru_maxrss;
	return s;
}

/* "median (min-max) unit" of v, sorted already by median_u64, each divided by div. */
static char *range(char *out, const uint64_t *v, int n, double div, const char *unit)
{
	snprintf(out, 64, "%.*f %s (%.*f-%.*f)", div > 1 ? 1 : 0, v[n / 2] / div, unit,
		 div > 1 ? 1 : 0, v[0] / div, div > 1 ? 1 : 0, v[n - 1] / div);
	return out;
}

int main(int argc, char **argv)
{
	enum { MAX = 100 };
	uint64_t cap_t[MAX], qemu_t[MAX], cap_rss[MAX], qemu_rss[MAX];
	uint64_t full_t[MAX], pc_t[MAX], full_rss[MAX], pc_rss[MAX];
	int runs = argc > 3 ? atoi(argv[3]) : 20;

	if (argc < 3 || runs < 1 || runs > MAX) {
		fprintf(stderr, "usage: hvm CAPSULE KERNEL [RUNS]\n");
		return 2;
	}
	char *cap[] = {argv[1], "run", "--mem", "64", "--cmdline", "hvm-test", argv[2], NULL};
	char *qemu[] = {"qemu-system-x86_64", "-M", "microvm", "-enable-kvm", "-m", "64",
			"-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio",
			"-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-kernel", argv[2],
			"-append", "hvm-test", NULL};
	char *elf32 = argc > 4 ? argv[4] : NULL;
	char *full[] = {argv[1], "run", "--mem", "64", "--acpi", "full", "--virtio-pci", "--rng",
			"--cmdline", "hvm-test", argv[2], NULL};
	char *pc[] = {"qemu-system-x86_64", "-M", "pc", "-enable-kvm", "-m", "64", "-nodefaults",
		      "-no-user-config", "-nographic", "-serial", "stdio", "-device",
		      "isa-debug-exit,iobase=0xf4,iosize=4", "-device", "virtio-rng-pci",
		      "-kernel", elf32, "-append", "hvm-test", NULL};
	char load[64];

	printf("host load before: %s\n", bench_loadavg(load, sizeof(load)));
	for (int i = 0; i < runs; i++) {
		struct sample a = run(cap), b = run(qemu);

		cap_t[i] = a.first_byte_ns, cap_rss[i] = (uint64_t)a.max_rss_kib;
		qemu_t[i] = b.first_byte_ns, qemu_rss[i] = (uint64_t)b.max_rss_kib;
		if (elf32) {
			struct sample c = run(full), e = run(pc);

			full_t[i] = c.first_byte_ns, full_rss[i] = (uint64_t)c.max_rss_kib;
			pc_t[i] = e.first_byte_ns, pc_rss[i] = (uint64_t)e.max_rss_kib;
		}
	}
	char a[64], b[64], c[64], d[64];
	uint64_t ct = median_u64(cap_t, (size_t)runs), qt = median_u64(qemu_t, (size_t)runs);
	uint64_t cr = median_u64(cap_rss, (size_t)runs), qr = median_u64(qemu_rss, (size_t)runs);
	printf("| HVM launch to first serial byte (multiboot test kernel, 64 MiB) | %s "
	       "| QEMU %s microvm, same kernel: %s | %.2fx |\n",
	       range(a, cap_t, runs, 1e6, "ms"), "7.2", range(b, qemu_t, runs, 1e6, "ms"),
	       (double)ct / (double)qt);
	printf("| VMM peak resident memory, same domain | %s | QEMU microvm: %s | %.2fx |\n",
	       range(c, cap_rss, runs, 1, "KiB"), range(d, qemu_rss, runs, 1, "KiB"),
	       (double)cr / (double)qr);
	if (!elf32)
		return 0;
	uint64_t ft = median_u64(full_t, (size_t)runs), pt = median_u64(pc_t, (size_t)runs);
	uint64_t fr = median_u64(full_rss, (size_t)runs), pr = median_u64(pc_rss, (size_t)runs);
	printf("| HVM launch, full ACPI and PCI (--acpi full --virtio-pci, virtio-rng) | %s "
	       "| QEMU pc (SeaBIOS, ACPI, PCI, virtio-rng-pci): %s | %.2fx |\n",
	       range(a, full_t, runs, 1e6, "ms"), range(b, pc_t, runs, 1e6, "ms"),
	       (double)ft / (double)pt);
	printf("| VMM peak resident memory, full ACPI and PCI | %s | QEMU pc: %s | %.2fx |\n",
	       range(c, full_rss, runs, 1, "KiB"), range(d, pc_rss, runs, 1, "KiB"),
	       (double)fr / (double)pr);
	printf("| Capsule's cost of fidelity: full ACPI and PCI against reduced ACPI and MMIO "
	       "| %.1f ms | %.1f ms | %.2fx |\n", ft / 1e6, ct / 1e6, (double)ft / (double)ct);
	printf("host load after: %s\n", bench_loadavg(a, sizeof(a)));
	return 0;
}
