/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CPU models without KVM: parsing (bases, edits, vendor, threads; every refusal), the
 * check against what the host supports, and what a model does to CPUID entries.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capsule/hvm.h"

static void parse(void **state)
{
	struct hvm_cpu_model m;
	char err[160];

	(void)state;
	assert_int_equal(hvm_cpu_model_parse(NULL, &m, err, sizeof(err)), 0);
	assert_false(m.set);
	assert_int_equal(hvm_cpu_model_parse("host,-x2apic,+cx16,vendor=CapsuleVirt!,threads=2", &m,
					     err, sizeof(err)), 0);
	assert_true(m.set);
	assert_false(m.baseline);
	assert_int_equal(m.off[HVM_CPU_1_ECX], 1u << 21);
	assert_int_equal(m.on[HVM_CPU_1_ECX], 1u << 13);
	assert_string_equal(m.vendor, "CapsuleVirt!");
	assert_int_equal(m.threads, 2);
	/* the last edit of a feature wins; the base may be left out */
	assert_int_equal(hvm_cpu_model_parse("+pcid,-pcid,-la57,-invpcid", &m, err, sizeof(err)), 0);
	assert_int_equal(m.on[HVM_CPU_1_ECX], 0);
	assert_int_equal(m.off[HVM_CPU_1_ECX], 1u << 17);
	assert_int_equal(m.off[HVM_CPU_7_ECX], 1u << 16);
	assert_int_equal(m.off[HVM_CPU_7_EBX], 1u << 10);
	assert_int_equal(hvm_cpu_model_parse("x86-64", &m, err, sizeof(err)), 0);
	assert_true(m.baseline);
	static const struct {
		const char *spec, *msg;
	} bad[] = {
		{"host,+warp", "no CPU feature is called \"warp\""},
		{"host,x2apic", "is not host, x86-64"},
		{"pentium", "is not host, x86-64"},
		{"host,vendor=short", "is not 12 characters"},
		{"host,threads=3", "1, 2, 4 or 8"},
		{"host,threads=0", "1, 2, 4 or 8"},
		{"host,threads=2x", "1, 2, 4 or 8"},
		{"host,x86-64", "is not host, x86-64"}, /* a base only first */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(hvm_cpu_model_parse(bad[i].spec, &m, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].msg))
			fail_msg("%s: \"%s\"", bad[i].spec, err);
	}
}

static struct kvm_cpuid2 *table(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 8 * sizeof(c->entries[0]));

	c->nent = 4;
	c->entries[0] = (struct kvm_cpuid_entry2){.function = 0, .eax = 0xd, .ebx = 0x756e6547,
						  .ecx = 0x6c65746e, .edx = 0x49656e69};
	c->entries[1] = (struct kvm_cpuid_entry2){.function = 1, .ecx = 0x81202000, .edx = 0x1f8bfbff};
	c->entries[2] = (struct kvm_cpuid_entry2){.function = 7, .flags = 1, .ebx = 0x01802852};
	c->entries[3] = (struct kvm_cpuid_entry2){.function = 0xb, .flags = 1, .edx = 0};
	return c;
}

static void check_and_apply(void **state)
{
	struct kvm_cpuid2 *c = table();
	struct hvm_cpu_model m;
	char err[160];

	(void)state;
	assert_int_equal(hvm_cpu_model_parse("host,+cx16,-x2apic", &m, err, sizeof(err)), 0);
	assert_int_equal(hvm_cpu_model_check(&m, c, 2, err, sizeof(err)), 0);
	assert_int_equal(hvm_cpu_model_parse("host,+xsave", &m, err, sizeof(err)), 0);
	assert_int_equal(hvm_cpu_model_check(&m, c, 1, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cannot give the guest xsave"));
	assert_int_equal(hvm_cpu_model_parse("host,threads=2", &m, err, sizeof(err)), 0);
	assert_int_equal(hvm_cpu_model_check(&m, c, 4, err, sizeof(err)), 0);
	assert_int_equal(hvm_cpu_model_check(&m, c, 3, err, sizeof(err)), -EINVAL);
	/* applied: features off, the vendor, the threads of leaf 0xb */
	assert_int_equal(hvm_cpu_model_parse("host,-x2apic,-tsc-deadline,-invpcid,vendor=CapsuleVirt!,"
					     "threads=2", &m, err, sizeof(err)), 0);
	hvm_cpu_model_apply(&m, c->entries, c->nent, 0, 2);
	assert_int_equal(c->entries[1].ecx, 0x81202000u & ~(1u << 21) & ~(1u << 24));
	assert_int_equal(c->entries[2].ebx, 0x01802852u & ~(1u << 10));
	assert_memory_equal(&c->entries[0].ebx, "Caps", 4);
	assert_memory_equal(&c->entries[0].edx, "uleV", 4);
	assert_memory_equal(&c->entries[0].ecx, "irt!", 4);
	assert_int_equal(c->entries[3].ebx, 2);
	assert_int_equal(c->entries[3].eax, 1);
	/* the x86-64 base: nothing past SSE2, the hypervisor bit kept */
	free(c);
	c = table();
	assert_int_equal(hvm_cpu_model_parse("x86-64", &m, err, sizeof(err)), 0);
	hvm_cpu_model_apply(&m, c->entries, c->nent, 0, 1);
	assert_int_equal(c->entries[1].ecx, 1u << 31);
	assert_int_equal(c->entries[2].ebx, 0);
	assert_true(c->entries[1].edx & (1u << 26)); /* sse2 */
	/* and back on top of it */
	free(c);
	c = table();
	assert_int_equal(hvm_cpu_model_parse("x86-64,+x2apic", &m, err, sizeof(err)), 0);
	hvm_cpu_model_apply(&m, c->entries, c->nent, 0, 1);
	assert_int_equal(c->entries[1].ecx, (1u << 31) | (1u << 21));
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse),
		cmocka_unit_test(check_and_apply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
