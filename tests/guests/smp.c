/* SPDX-License-Identifier: Apache-2.0 */
/* Every vCPU comes up with its own id and stack; bad vCPU numbers are refused. */
#include "kit.h"

static volatile unsigned arrived;
static volatile unsigned seen[CAP_MAX_VCPUS];
static volatile uint64_t work[CAP_MAX_VCPUS];

static void secondary(void *arg)
{
	unsigned me = this_cpu();

	TEST_CHECK((uintptr_t)arg == me + 100);
	for (uint64_t i = 0; i < 1000000; i++) /* real work, natively at CPL 3 */
		work[me] += i;
	seen[me]++;
	printf("vCPU %u up\n", me);
	__atomic_fetch_add(&arrived, 1, __ATOMIC_SEQ_CST);
}

int main(void)
{
	unsigned n = nr_cpus();
	uint64_t deadline;

	TEST_CHECK(n >= 2);
	TEST_CHECK(hypercall(CAP_HC_VCPU_UP, 0, 0x100000, 0x200000, 0) == CAP_EINVAL);
	TEST_CHECK(hypercall(CAP_HC_VCPU_UP, n, 0x100000, 0x200000, 0) == CAP_EINVAL);
	TEST_CHECK(hypercall(CAP_HC_VCPU_UP, 1, 0x10, 0x200000, 0) == CAP_EINVAL);
	TEST_CHECK(hypercall(CAP_HC_VCPU_UP, 1, 0x100000, 1ull << 50, 0) == CAP_EINVAL);
	TEST_CHECK(hypercall(CAP_HC_VCPU_DOWN, 0, 0, 0, 0) == CAP_EINVAL);
	for (unsigned i = 1; i < n; i++)
		TEST_CHECK(smp_start(i, secondary, (void *)(uintptr_t)(i + 100)) == 0);
	TEST_CHECK(smp_start(1, secondary, NULL) == CAP_EBUSY || arrived > 0);
	deadline = time_ns() + 10000000000ull;
	while (__atomic_load_n(&arrived, __ATOMIC_SEQ_CST) != n - 1 && time_ns() < deadline)
		yield();
	TEST_CHECK(arrived == n - 1);
	for (unsigned i = 1; i < n; i++)
		TEST_CHECK(seen[i] == 1 && work[i] == 499999500000ull);
	printf("smp: %u vCPUs ran\n", n);
	test_finish(true);
}
