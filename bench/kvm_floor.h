/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Raw KVM floors for the benchmarks: what the hardware and kernel cost with no VMM around.
 * Header-only so each bench program is one file; the same measurements as a host probe (docs/hosts.md).
 */
#ifndef CAPSULE_BENCH_KVM_FLOOR_H
#define CAPSULE_BENCH_KVM_FLOOR_H

#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_MEM (64u << 20)

static inline uint64_t bench_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static inline void bench_die(const char *what)
{
	perror(what);
	exit(1);
}

#define FLOOR_MAX_VCPUS 64

struct floor_vm {
	int kvm, fd, vcpu, run_size; /* vcpu, run: vCPU 0 */
	uint8_t *mem;
	struct kvm_run *run;
	unsigned nr_vcpus;
	int vcpus[FLOOR_MAX_VCPUS];
	struct kvm_run *runs[FLOOR_MAX_VCPUS];
};

/*
 * KVM_CREATE_VM + 64 MiB memslot + nr vCPUs (1..FLOOR_MAX_VCPUS), each with its kvm_run
 * mapped: what a VMM cannot avoid before a domain's first instruction. With cpuid, also
 * KVM_GET_SUPPORTED_CPUID and KVM_SET_CPUID2 on vCPU 0: a guest may ask CPUID from its
 * first instruction on (docs/pv-abi.md R-START-6), the other vCPUs only once started.
 */
static inline void floor_vm_create_n(struct floor_vm *f, unsigned nr, int cpuid)
{
	enum { NENT = 256 };
	union {
		struct kvm_cpuid2 c;
		uint8_t bytes[sizeof(struct kvm_cpuid2) + NENT * sizeof(struct kvm_cpuid_entry2)];
	} cpu;

	f->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (f->kvm < 0)
		bench_die("/dev/kvm");
	if (nr < 1 || nr > FLOOR_MAX_VCPUS) {
		fprintf(stderr, "floor: 1 to %d vCPUs\n", FLOOR_MAX_VCPUS);
		exit(2);
	}
	f->fd = ioctl(f->kvm, KVM_CREATE_VM, 0);
	f->mem = mmap(NULL, FLOOR_MEM, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct kvm_userspace_memory_region r = {
		.memory_size = FLOOR_MEM, .userspace_addr = (uint64_t)(uintptr_t)f->mem,
	};
	if (f->fd < 0 || f->mem == MAP_FAILED || ioctl(f->fd, KVM_SET_USER_MEMORY_REGION, &r))
		bench_die("create VM");
	f->run_size = ioctl(f->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	f->nr_vcpus = nr;
	for (unsigned i = 0; i < nr; i++) {
		f->vcpus[i] = ioctl(f->fd, KVM_CREATE_VCPU, (unsigned long)i);
		f->runs[i] = f->vcpus[i] < 0 ? MAP_FAILED
			     : mmap(NULL, (size_t)f->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
				    f->vcpus[i], 0);
		if (f->vcpus[i] < 0 || f->runs[i] == MAP_FAILED)
			bench_die("create vCPU");
	}
	if (cpuid) {
		cpu.c.nent = NENT;
		if (ioctl(f->kvm, KVM_GET_SUPPORTED_CPUID, &cpu.c) < 0)
			bench_die("KVM_GET_SUPPORTED_CPUID");
		if (ioctl(f->vcpus[0], KVM_SET_CPUID2, &cpu.c) < 0)
			bench_die("KVM_SET_CPUID2");
	}
	f->vcpu = f->vcpus[0];
	f->run = f->runs[0];
}

/* One vCPU, no CPUID: the floor of the hypercall and exit benchmarks. */
static inline void floor_vm_create(struct floor_vm *f)
{
	floor_vm_create_n(f, 1, 0);
}

static inline void floor_vm_destroy(struct floor_vm *f)
{
	for (unsigned i = 0; i < f->nr_vcpus; i++) {
		munmap(f->runs[i], (size_t)f->run_size);
		close(f->vcpus[i]);
	}
	close(f->fd);
	close(f->kvm);
	munmap(f->mem, FLOOR_MEM);
}

/* Real mode at 0x1000: `out %al, $0x501` then hlt. Returns after the first exit. */
static inline void floor_first_exit(struct floor_vm *f)
{
	static const uint8_t code[] = {0xba, 0x01, 0x05, 0xee, 0xf4};
	struct kvm_sregs s;
	struct kvm_regs regs = {.rip = 0x1000, .rflags = 2};

	memcpy(f->mem + 0x1000, code, sizeof(code));
	if (ioctl(f->vcpu, KVM_GET_SREGS, &s) < 0)
		bench_die("KVM_GET_SREGS");
	s.cs.base = 0;
	s.cs.selector = 0;
	if (ioctl(f->vcpu, KVM_SET_SREGS, &s) < 0 || ioctl(f->vcpu, KVM_SET_REGS, &regs) < 0)
		bench_die("set registers");
	if (ioctl(f->vcpu, KVM_RUN, 0) < 0 || f->run->exit_reason != KVM_EXIT_IO)
		bench_die("first KVM_RUN");
}

/*
 * Long mode at CPL 3, identity-mapped, running `n` times `out %al, $0x500` and then one
 * `out` to 0x501. IOPL 3 in RFLAGS, as the host probe does. Returns ns per exit.
 */
static inline double floor_out_exits(struct floor_vm *f, uint64_t n)
{
	uint64_t *pml4 = (uint64_t *)(f->mem + 0x2000), *pdpt = pml4 + 512, *pd = pml4 + 1024;
	uint8_t *c = f->mem + 0x1000;
	struct kvm_sregs s;
	int i = 0, top;
	uint64_t exits = 0, t0;

	pml4[0] = 0x3000 | 7;
	pdpt[0] = 0x4000 | 7;
	for (uint64_t k = 0; k < 32; k++)
		pd[k] = (k << 21) | 0x87;
	c[i++] = 0x48, c[i++] = 0xb9; /* mov $n, %rcx */
	memcpy(c + i, &n, 8), i += 8;
	top = i;
	c[i++] = 0x66, c[i++] = 0xba, c[i++] = 0x00, c[i++] = 0x05; /* mov $0x500, %dx */
	c[i++] = 0xee;                                              /* out %al, (%dx) */
	c[i++] = 0x48, c[i++] = 0xff, c[i++] = 0xc9;                /* dec %rcx */
	c[i++] = 0x75, c[i] = (uint8_t)(top - (i + 1)), i++;        /* jnz top */
	c[i++] = 0x66, c[i++] = 0xba, c[i++] = 0x01, c[i++] = 0x05; /* mov $0x501, %dx */
	c[i++] = 0xee;
	if (ioctl(f->vcpu, KVM_GET_SREGS, &s) < 0)
		bench_die("KVM_GET_SREGS");
	s.cr3 = 0x2000, s.cr4 = 0x620, s.cr0 = 0x80050033, s.efer = 0xd00;
	struct kvm_segment seg = {.limit = 0xffffffff, .present = 1, .s = 1, .g = 1, .dpl = 3,
				  .type = 11, .l = 1, .selector = 0x33};
	s.cs = seg;
	seg.type = 3, seg.l = 0, seg.db = 1, seg.selector = 0x2b;
	s.ds = s.es = s.fs = s.gs = s.ss = seg;
	struct kvm_regs regs = {.rip = 0x1000, .rsp = 0x200000, .rflags = 0x2 | (3u << 12)};
	if (ioctl(f->vcpu, KVM_SET_SREGS, &s) < 0 || ioctl(f->vcpu, KVM_SET_REGS, &regs) < 0)
		bench_die("set registers");
	t0 = bench_now_ns();
	for (;;) {
		if (ioctl(f->vcpu, KVM_RUN, 0) < 0)
			bench_die("KVM_RUN");
		if (f->run->exit_reason != KVM_EXIT_IO) {
			fprintf(stderr, "floor: unexpected exit %u\n", f->run->exit_reason);
			exit(1);
		}
		if (f->run->io.port == 0x501)
			break;
		exits++;
	}
	if (exits != n) {
		fprintf(stderr, "floor: %llu exits, expected %llu\n", (unsigned long long)exits,
			(unsigned long long)n);
		exit(1);
	}
	return (double)(bench_now_ns() - t0) / (double)n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static inline uint64_t median_u64(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

/*
 * What every row prints (docs/benchmarks.md): the median of at least five interleaved runs
 * with the range beside it, and the host's load before and after.
 *
 *   struct bench_stat s = bench_stat_u64(ns, runs);     // ns[] is left as it was
 *   bench_fmt(buf, s, 1e3, 0, "us")                     // "1412 us (1380-1530)"
 *   bench_fmt_ratio(buf, capsule_ns, floor_ns, runs)    // "1.38x (1.30-1.45x)": the median
 *                                                       // of the runs' own ratios
 *   bench_print_load("before")                          // "host load before: 0.78 0.50 ..."
 */
#define BENCH_FMT_LEN 96

struct bench_stat {
	double median, min, max;
	size_t n;
};

static int bench_cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median (the mean of the middle two for an even count), min and max; v is not changed. */
static inline struct bench_stat bench_stat_d(const double *v, size_t n)
{
	struct bench_stat s = {0, 0, 0, n};
	double *c = n ? malloc(n * sizeof(*c)) : NULL;

	if (!c)
		return s;
	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), bench_cmp_d);
	s.median = n & 1 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
	s.min = c[0];
	s.max = c[n - 1];
	free(c);
	return s;
}

static inline struct bench_stat bench_stat_u64(const uint64_t *v, size_t n)
{
	double *d = n ? malloc(n * sizeof(*d)) : NULL;
	struct bench_stat s = {0, 0, 0, n};

	if (!d)
		return s;
	for (size_t i = 0; i < n; i++)
		d[i] = (double)v[i];
	s = bench_stat_d(d, n);
	free(d);
	return s;
}

/* "MEDIAN UNIT (MIN-MAX)", each value divided by div, with `digits` decimals. */
static inline char *bench_fmt(char out[BENCH_FMT_LEN], struct bench_stat s, double div,
			      int digits, const char *unit)
{
	snprintf(out, BENCH_FMT_LEN, "%.*f%s%s (%.*f-%.*f)", digits, s.median / div,
		 unit && *unit ? " " : "", unit ? unit : "", digits, s.min / div, digits,
		 s.max / div);
	return out;
}

/* The ratios a[i] / b[i] of n interleaved pairs: their median and range, "1.38x (1.30-1.45x)". */
static inline struct bench_stat bench_ratio_stat(const uint64_t *a, const uint64_t *b, size_t n)
{
	double *r = n ? malloc(n * sizeof(*r)) : NULL;
	struct bench_stat s = {0, 0, 0, n};

	if (!r)
		return s;
	for (size_t i = 0; i < n; i++)
		r[i] = b[i] ? (double)a[i] / (double)b[i] : 0;
	s = bench_stat_d(r, n);
	free(r);
	return s;
}

static inline char *bench_fmt_ratio(char out[BENCH_FMT_LEN], const uint64_t *a,
				    const uint64_t *b, size_t n)
{
	struct bench_stat s = bench_ratio_stat(a, b, n);

	snprintf(out, BENCH_FMT_LEN, "%.2fx (%.2f-%.2fx)", s.median, s.min, s.max);
	return out;
}

/* The host's load (/proc/loadavg, one line), for the report beside the numbers. */
static inline char *bench_loadavg(char *out, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "r");

	out[0] = 0;
	if (f && fgets(out, (int)len, f))
		out[strcspn(out, "\n")] = 0;
	if (f)
		fclose(f);
	return out;
}

/* "host load WHEN: ..." on stdout, flushed (so that a forked child does not print it again). */
static inline void bench_print_load(const char *when)
{
	char load[128];

	printf("host load %s: %s\n", when, bench_loadavg(load, sizeof(load)));
	fflush(stdout);
}

#endif
