/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CPU models (--cpu): what CPUID tells an HVM guest. A model is a base, "host" (all KVM
 * supports: KVM_GET_SUPPORTED_CPUID) or "x86-64" (the x86-64 baseline: SSE2, no later
 * extension, no x2APIC, no PCID, no XSAVE), with "+name"/"-name" edits of the leaf 1, 7 and
 * 0x80000001 feature bits, "vendor=" (12 characters) and "threads=" (threads per core, the
 * topology of leaves 1 and 0xb). A "+name" the host cannot run is refused with a message.
 *
 * The vCPU threads set KVM's CPUID from the host's set as soon as they exist (core/cpuid.c);
 * the model is set over it while they wait to be started, which KVM allows before a vCPU's
 * first KVM_RUN.
 *
 * What a model can hide is what KVM lists: on hosts whose KVM lets hardware feature bits it
 * does not list through (this project's kvm_pvm hosts show the guest SSE3 to AVX and XSAVE
 * from the hardware although KVM_GET_SUPPORTED_CPUID has none of them), "-xsave" and the
 * x86-64 base cannot remove those; x2apic, cx16, tsc-deadline, the vendor and the topology
 * are KVM's and change everywhere (docs/hvm.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "capsule/hvm.h"
#include "capsule/log.h"

#define CPUID_MAX 256

enum { EAX, EBX, ECX, EDX };

static const struct cpu_feature {
	const char *name;
	uint8_t word, bit; /* word: HVM_CPU_WORD_* */
} features[] = {
	{"sse3", HVM_CPU_1_ECX, 0}, {"pclmulqdq", HVM_CPU_1_ECX, 1}, {"ssse3", HVM_CPU_1_ECX, 9},
	{"fma", HVM_CPU_1_ECX, 12}, {"cx16", HVM_CPU_1_ECX, 13}, {"pcid", HVM_CPU_1_ECX, 17},
	{"sse4.1", HVM_CPU_1_ECX, 19}, {"sse4.2", HVM_CPU_1_ECX, 20},
	{"x2apic", HVM_CPU_1_ECX, 21}, {"movbe", HVM_CPU_1_ECX, 22}, {"popcnt", HVM_CPU_1_ECX, 23},
	{"tsc-deadline", HVM_CPU_1_ECX, 24}, {"aes", HVM_CPU_1_ECX, 25},
	{"xsave", HVM_CPU_1_ECX, 26}, {"avx", HVM_CPU_1_ECX, 28}, {"f16c", HVM_CPU_1_ECX, 29},
	{"rdrand", HVM_CPU_1_ECX, 30}, {"hypervisor", HVM_CPU_1_ECX, 31},
	{"vme", HVM_CPU_1_EDX, 1}, {"pse", HVM_CPU_1_EDX, 3}, {"tsc", HVM_CPU_1_EDX, 4},
	{"pae", HVM_CPU_1_EDX, 6}, {"mce", HVM_CPU_1_EDX, 7}, {"cx8", HVM_CPU_1_EDX, 8},
	{"apic", HVM_CPU_1_EDX, 9}, {"mtrr", HVM_CPU_1_EDX, 12}, {"pge", HVM_CPU_1_EDX, 13},
	{"pat", HVM_CPU_1_EDX, 16}, {"pse36", HVM_CPU_1_EDX, 17}, {"clflush", HVM_CPU_1_EDX, 19},
	{"ht", HVM_CPU_1_EDX, 28},
	{"fsgsbase", HVM_CPU_7_EBX, 0}, {"bmi1", HVM_CPU_7_EBX, 3}, {"hle", HVM_CPU_7_EBX, 4},
	{"avx2", HVM_CPU_7_EBX, 5}, {"smep", HVM_CPU_7_EBX, 7}, {"bmi2", HVM_CPU_7_EBX, 8},
	{"erms", HVM_CPU_7_EBX, 9}, {"invpcid", HVM_CPU_7_EBX, 10}, {"rtm", HVM_CPU_7_EBX, 11},
	{"avx512f", HVM_CPU_7_EBX, 16}, {"rdseed", HVM_CPU_7_EBX, 18}, {"adx", HVM_CPU_7_EBX, 19},
	{"smap", HVM_CPU_7_EBX, 20}, {"clflushopt", HVM_CPU_7_EBX, 23}, {"clwb", HVM_CPU_7_EBX, 24},
	{"sha-ni", HVM_CPU_7_EBX, 29},
	{"umip", HVM_CPU_7_ECX, 2}, {"pku", HVM_CPU_7_ECX, 3}, {"la57", HVM_CPU_7_ECX, 16},
	{"rdpid", HVM_CPU_7_ECX, 22},
	{"md-clear", HVM_CPU_7_EDX, 10}, {"spec-ctrl", HVM_CPU_7_EDX, 26},
	{"arch-capabilities", HVM_CPU_7_EDX, 29},
	{"lahf-lm", HVM_CPU_X1_ECX, 0}, {"abm", HVM_CPU_X1_ECX, 5},
	{"3dnowprefetch", HVM_CPU_X1_ECX, 8},
	{"nx", HVM_CPU_X1_EDX, 20}, {"pdpe1gb", HVM_CPU_X1_EDX, 26}, {"rdtscp", HVM_CPU_X1_EDX, 27},
};

/* The x86-64 baseline (psABI x86-64 v1) of each word: what "x86-64" keeps. */
static const uint32_t baseline[HVM_CPU_WORDS] = {
	[HVM_CPU_1_ECX] = 1u << 31,   /* hypervisor present: a VM still says so */
	[HVM_CPU_1_EDX] = (0x07ffffffu | 1u << 28) & ~(1u << 10) & ~(1u << 20), /* fpu .. sse2, htt */
	[HVM_CPU_7_EBX] = 0,
	[HVM_CPU_7_ECX] = 0,
	[HVM_CPU_7_EDX] = 0,
	[HVM_CPU_X1_ECX] = 1u << 0,   /* lahf-lm */
	[HVM_CPU_X1_EDX] = (1u << 11) | (1u << 20) | (1u << 29) | 0x0183fbffu, /* syscall, nx, lm */
};

static const struct { uint32_t leaf, sub; uint8_t reg; } words[HVM_CPU_WORDS] = {
	[HVM_CPU_1_ECX] = {1, 0, ECX},  [HVM_CPU_1_EDX] = {1, 0, EDX},
	[HVM_CPU_7_EBX] = {7, 0, EBX},  [HVM_CPU_7_ECX] = {7, 0, ECX},
	[HVM_CPU_7_EDX] = {7, 0, EDX},  [HVM_CPU_X1_ECX] = {0x80000001, 0, ECX},
	[HVM_CPU_X1_EDX] = {0x80000001, 0, EDX},
};

static uint32_t *reg_of(struct kvm_cpuid_entry2 *e, uint8_t reg)
{
	return reg == EAX ? &e->eax : reg == EBX ? &e->ebx : reg == ECX ? &e->ecx : &e->edx;
}

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid_entry2 *e, unsigned n, uint32_t leaf,
				     uint32_t sub)
{
	for (unsigned i = 0; i < n; i++)
		if (e[i].function == leaf && (e[i].index == sub || !(e[i].flags & 1)))
			return &e[i];
	return NULL;
}

/* Refuse with a message (err and errlen are every caller's). */
#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

int hvm_cpu_model_parse(const char *spec, struct hvm_cpu_model *m, char *err, size_t errlen)
{
	char buf[512], *save = NULL;
	bool first = true;

	memset(m, 0, sizeof(*m));
	m->threads = 1;
	if (!spec || !*spec)
		return 0;
	if (strlen(spec) >= sizeof(buf))
		return FAIL("--cpu: the model is too long");
	snprintf(buf, sizeof(buf), "%s", spec);
	m->set = true;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save), first = false) {
		if (first && (!strcmp(t, "host") || !strcmp(t, "x86-64"))) {
			m->baseline = !strcmp(t, "x86-64");
			continue;
		}
		if (!strncmp(t, "vendor=", 7)) {
			if (strlen(t + 7) != 12)
				return FAIL("--cpu: vendor=%s is not 12 characters", t + 7);
			memcpy(m->vendor, t + 7, 12);
			continue;
		}
		if (!strncmp(t, "threads=", 8)) {
			char *end;
			unsigned long n = strtoul(t + 8, &end, 10);

			if (*end || n < 1 || n > 8 || (n & (n - 1)))
				return FAIL("--cpu: threads=%s: 1, 2, 4 or 8", t + 8);
			m->threads = (unsigned)n;
			continue;
		}
		if (t[0] != '+' && t[0] != '-')
			return FAIL("--cpu: \"%s\" is not host, x86-64, +FEATURE, "
					 "-FEATURE, vendor= or threads=", t);
		unsigned i = 0;

		while (i < sizeof(features) / sizeof(features[0]) && strcmp(features[i].name, t + 1))
			i++;
		if (i == sizeof(features) / sizeof(features[0]))
			return FAIL("--cpu: no CPU feature is called \"%s\"", t + 1);
		uint32_t bit = 1u << features[i].bit;

		if (t[0] == '+')
			m->on[features[i].word] |= bit, m->off[features[i].word] &= ~bit;
		else
			m->off[features[i].word] |= bit, m->on[features[i].word] &= ~bit;
	}
	return 0;
}

int hvm_cpu_model_check(const struct hvm_cpu_model *m, const struct kvm_cpuid2 *sup,
			unsigned nr_vcpus, char *err, size_t errlen)
{
	struct kvm_cpuid_entry2 *e = (struct kvm_cpuid_entry2 *)sup->entries;

	if (m->threads > 1 && nr_vcpus % m->threads) {
		snprintf(err, errlen, "--cpu: %u vCPUs are not whole cores of %u threads", nr_vcpus,
			 m->threads);
		return -EINVAL;
	}
	for (unsigned w = 0; w < HVM_CPU_WORDS; w++) {
		struct kvm_cpuid_entry2 *s = find(e, sup->nent, words[w].leaf, words[w].sub);
		uint32_t have = s ? *reg_of(s, words[w].reg) : 0, missing = m->on[w] & ~have;

		for (unsigned i = 0; missing && i < sizeof(features) / sizeof(features[0]); i++)
			if (features[i].word == w && (missing & (1u << features[i].bit)))
				return FAIL("--cpu: this host cannot give the guest %s "
					    "(KVM does not support it here)", features[i].name);
	}
	return 0;
}

static unsigned bits_for(unsigned n)
{
	unsigned b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

void hvm_cpu_model_apply(const struct hvm_cpu_model *m, struct kvm_cpuid_entry2 *e,
			 unsigned n, unsigned id, unsigned nr)
{
	for (unsigned w = 0; w < HVM_CPU_WORDS; w++) {
		struct kvm_cpuid_entry2 *s = find(e, n, words[w].leaf, words[w].sub);
		uint32_t *r;

		if (!s)
			continue;
		r = reg_of(s, words[w].reg);
		if (m->baseline)
			*r &= baseline[w];
		*r = (*r | m->on[w]) & ~m->off[w];
	}
	if (m->vendor[0]) {
		struct kvm_cpuid_entry2 *v = find(e, n, 0, 0);

		if (v) {
			memcpy(&v->ebx, m->vendor, 4);
			memcpy(&v->edx, m->vendor + 4, 4);
			memcpy(&v->ecx, m->vendor + 8, 4);
		}
	}
	/* Topology: nr / threads cores of `threads` threads, APIC ID = vCPU index. */
	for (unsigned i = 0; m->threads > 1 && i < n; i++) {
		if (e[i].function == 0xb || e[i].function == 0x1f) {
			if (e[i].index == 0)
				e[i].eax = bits_for(m->threads), e[i].ebx = m->threads;
		} else if (e[i].function == 4) { /* threads sharing the caches of a core */
			e[i].eax = (e[i].eax & ~(0xfffu << 14)) | ((m->threads - 1) << 14);
		}
	}
	(void)id, (void)nr;
}

/* Wait for the vCPU thread's own KVM_SET_CPUID2 (it happens once, as soon as the thread
 * starts), so that the model is not overwritten by it. */
static int wait_for_cpuid(struct vcpu *v, struct kvm_cpuid2 *c)
{
	struct timespec ms = {0, 1000000};

	for (int tries = 0; tries < 5000; tries++) {
		c->nent = CPUID_MAX;
		if (ioctl(v->fd, KVM_GET_CPUID2, c) < 0)
			return -errno;
		if (c->nent > 0)
			return 0;
		nanosleep(&ms, NULL); /* not yet: the thread is on its way */
	}
	return -ETIMEDOUT;
}

/* Leaf 0xb needs its core level (subleaf 1) for a topology; KVM may list only subleaf 0. */
static void add_core_level(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *threads = NULL;

	for (unsigned i = 0; i < c->nent; i++) {
		if (c->entries[i].function == 0xb && c->entries[i].index == 1)
			return;
		if (c->entries[i].function == 0xb && c->entries[i].index == 0)
			threads = &c->entries[i];
	}
	if (threads && c->nent < CPUID_MAX) {
		c->entries[c->nent] = *threads;
		c->entries[c->nent].index = 1;
		c->nent++;
	}
}

int hvm_cpu_model_load(struct hvm_domain *h)
{
	size_t size = sizeof(struct kvm_cpuid2) + CPUID_MAX * sizeof(struct kvm_cpuid_entry2);
	const struct kvm_cpuid2 *sup = vm_supported_cpuid(h->vm);
	struct kvm_cpuid2 *c;
	int err = 0;

	if (!h->cpu.set)
		return 0;
	if (!sup || sup->nent > CPUID_MAX)
		return -EINVAL;
	c = calloc(1, size);
	if (!c)
		return -ENOMEM;
	for (unsigned i = 0; !err && i < h->vm->nr_vcpus; i++) {
		struct vcpu *v = &h->vm->vcpus[i];

		err = wait_for_cpuid(v, c);
		if (err)
			break;
		memcpy(c, sup, sizeof(*sup) + sup->nent * sizeof(sup->entries[0]));
		add_core_level(c);
		cpuid_adjust(c->entries, c->nent, v->id, h->vm->nr_vcpus);
		hvm_cpu_model_apply(&h->cpu, c->entries, c->nent, v->id, h->vm->nr_vcpus);
		if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0)
			err = -errno;
	}
	free(c);
	if (err)
		log_err("cannot give the vCPUs their CPU model: %s", strerror(-err));
	return err;
}
