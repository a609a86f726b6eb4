/* SPDX-License-Identifier: Apache-2.0 */
/* start_info, shared_info and time as the ABI promises them. Run with --vcpus 2 --mem 96. */
#include "kit.h"

extern char _end[];

int main(void)
{
	const struct cap_start_info *si = start_info;
	uint64_t t0, t1, wall;

	TEST_CHECK(si->magic == CAP_START_MAGIC);
	TEST_CHECK(si->version == CAP_PV_ABI_VERSION);
	TEST_CHECK(si->mem_bytes == 96ull << 20);
	TEST_CHECK(si->nr_vcpus == 2);
	TEST_CHECK(!strcmp(si->cmdline, "abi test cmdline"));
	TEST_CHECK(si->shared_info_gpa == CAP_GPA_SHARED_INFO);
	TEST_CHECK(si->console_gpa == CAP_GPA_CONSOLE);
	TEST_CHECK(si->image_start == CAP_GPA_IMAGE_MIN);
	TEST_CHECK(si->image_end == (uint64_t)(uintptr_t)_end);
	TEST_CHECK(si->free_start >= si->image_end && si->free_start % 4096 == 0);
	TEST_CHECK(si->free_end > si->free_start && si->free_end <= si->mem_bytes);
	TEST_CHECK(si->nr_devices == 0);
	TEST_CHECK(this_cpu() == 0);

	/* Free RAM is usable up to its end; the allocator hands it out. */
	volatile uint8_t *last = (volatile uint8_t *)(uintptr_t)(si->free_end - 1);
	*last = 0x5a;
	TEST_CHECK(*last == 0x5a);
	void *p = malloc(1000), *q = malloc(1000);
	TEST_CHECK(p && q && p != q);
	free(p);
	TEST_CHECK(malloc(1000) == p); /* reused from its size class */
	TEST_CHECK(memalign(4096, 100) != NULL);
	TEST_CHECK(((uintptr_t)memalign(65536, 100) & 0xffff) == 0);
	TEST_CHECK(malloc((size_t)1 << 40) == NULL);

	/* Domain time moves forward and agrees with the TSC clock; wall clock is plausible. */
	t0 = time_ns();
	for (volatile int i = 0; i < 1000000; i++)
		;
	t1 = time_ns();
	TEST_CHECK(t1 > t0);
	wall = wallclock_ns();
	TEST_CHECK(wall > 1600000000ull * 1000000000ull); /* after 2020 */
	if (si->tsc_khz) {
		uint64_t tsc = tsc_ns(), now = time_ns();
		uint64_t diff = tsc > now ? tsc - now : now - tsc;

		printf("tsc_khz=%llu tsc_ns-time_ns=%llu ns\n", (unsigned long long)si->tsc_khz,
		       (unsigned long long)diff);
		TEST_CHECK(diff < 50000000ull); /* same clock within 50 ms */
	}
	printf("abi: start_info and time ok\n");
	test_finish(true);
}
