/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the CPU model (capsule run --cpu, QEMU's -cpu) shows the guest. The command line
 * says what to expect: "-NAME" a feature that must be absent, "+NAME" one that must be
 * there, "vendor=ID" the vendor string, "threads=N" threads per core and "cpus=N" logical
 * processors in leaf 0xb. With x2apic hidden the local APIC must also be in xAPIC mode
 * (IA32_APIC_BASE.EXTD clear), as a kernel that asked for xAPIC expects.
 */
#include "hvm.h"

static const struct {
	const char *name;
	uint32_t leaf;
	uint8_t reg, bit; /* reg: 1 EBX, 2 ECX, 3 EDX */
} known[] = {
	{"x2apic", 1, 2, 21}, {"pcid", 1, 2, 17}, {"xsave", 1, 2, 26}, {"cx16", 1, 2, 13},
	{"tsc-deadline", 1, 2, 24}, {"sse3", 1, 2, 0}, {"hypervisor", 1, 2, 31},
	{"sse2", 1, 3, 26}, {"apic", 1, 3, 9}, {"invpcid", 7, 1, 10}, {"fsgsbase", 7, 1, 0},
	{"smep", 7, 1, 7}, {"la57", 7, 2, 16},
};

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static int feature(const char *name, size_t len)
{
	for (unsigned i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i].name) == len && !memcmp(known[i].name, name, len)) {
			uint32_t r[4];

			cpuid(known[i].leaf, 0, r);
			return (r[known[i].reg] >> known[i].bit) & 1;
		}
	return -1;
}

static uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

int main(void)
{
	const char *p = hvm_boot.cmdline;
	uint32_t r[4];
	char vendor[13] = "";
	unsigned checks = 0;

	cpuid(0, 0, r);
	memcpy(vendor, &r[1], 4), memcpy(vendor + 4, &r[3], 4), memcpy(vendor + 8, &r[2], 4);
	cpuid(1, 0, r);
	printf("cpuid: \"%s\", leaf 1 ECX 0x%x EDX 0x%x, APIC base MSR 0x%llx\n", vendor, r[2],
	       r[3], (unsigned long long)rdmsr(0x1b));
	while (*p) {
		const char *end = p;

		while (*end && *end != ' ')
			end++;
		if (*p == '+' || *p == '-') {
			int has = feature(p + 1, (size_t)(end - p - 1));

			char name[32] = "";

			memcpy(name, p + 1, (size_t)(end - p - 1) < 31 ? (size_t)(end - p - 1) : 31);
			printf("cpuid: %s: %s\n", name, has < 0 ? "unknown" : has ? "present" : "absent");
			TEST_CHECK(has == (*p == '+'));
			if (*p == '-' && end - p - 1 == 6 && !memcmp(p + 1, "x2apic", 6))
				TEST_CHECK(!(rdmsr(0x1b) & (1u << 10))); /* xAPIC mode */
			checks++;
		} else if (!strncmp(p, "vendor=", 7)) {
			TEST_CHECK(end - p - 7 == 12 && !memcmp(p + 7, vendor, 12));
			checks++;
		} else if (!strncmp(p, "threads=", 8) || !strncmp(p, "cpus=", 5)) {
			bool threads = p[0] == 't';
			unsigned want = (unsigned)strtoul(p + (threads ? 8 : 5), NULL, 10);

			cpuid(0xb, threads ? 0 : 1, r);
			printf("cpuid: leaf 0xb level %u: %u logical processor(s), type %u\n",
			       threads ? 0 : 1, r[1] & 0xffff, (r[2] >> 8) & 0xff);
			TEST_CHECK((r[1] & 0xffff) == want);
			checks++;
		}
		p = *end ? end + 1 : end;
	}
	TEST_CHECK(checks > 0);
	test_finish(true);
}
