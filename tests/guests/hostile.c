/* SPDX-License-Identifier: Apache-2.0 */
/* Garbage hypercall pointers, widths, numbers and arguments: errors, never a dead VMM. */
#include "kit.h"

static struct cap_hcall args __attribute__((aligned(8)));

static int64_t out_width(unsigned nr, int width)
{
	uint64_t rax = 0x12345678;
	uint16_t port = (uint16_t)(CAP_HC_PORT_BASE + nr);

	if (width == 1)
		__asm__ volatile("outb %%al, %%dx" : "+a"(rax) : "d"(port));
	else
		__asm__ volatile("outw %%ax, %%dx" : "+a"(rax) : "d"(port));
	return (int64_t)rax;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static bool known_result(int64_t r)
{
	return r >= 0 || r == CAP_EINVAL || r == CAP_EFAULT || r == CAP_ENOSYS ||
	       r == CAP_ENOSPC || r == CAP_EBUSY;
}

int main(void)
{
	uint64_t mem = start_info->mem_bytes;
	uint32_t in;
	int port;

	/* Argument addresses: beyond RAM, straddling its end, misaligned, in VMM tables. */
	TEST_CHECK(hypercall_raw(CAP_HC_TIME, 0xfffffff8u) == CAP_EFAULT);
	TEST_CHECK(hypercall_raw(CAP_HC_TIME, (uint32_t)(mem - 8)) == CAP_EFAULT);
	TEST_CHECK(hypercall_raw(CAP_HC_TIME, (uint32_t)(uintptr_t)&args + 3) == CAP_EFAULT);
	TEST_CHECK(hypercall_raw(CAP_HC_TIME, 0) == CAP_EFAULT);
	TEST_CHECK(hypercall_raw(CAP_HC_TIME, CAP_GPA_GDT) == CAP_EFAULT);
	TEST_CHECK(hypercall_raw(CAP_HC_TIME, CAP_GPA_PAGETABLES) == CAP_EFAULT);
	TEST_CHECK(hypercall_raw(CAP_HC_TIME, CAP_GPA_START_INFO) == CAP_EFAULT);
	/* A good address still works after all that. */
	TEST_CHECK(hypercall_raw(CAP_HC_TIME, (uint32_t)(uintptr_t)&args) > 0);

	/* Wrong widths and directions on the hypercall ports. */
	TEST_CHECK(out_width(CAP_HC_TIME, 1) == CAP_EINVAL);
	TEST_CHECK(out_width(CAP_HC_TIME, 2) == CAP_EINVAL);
	__asm__ volatile("inl %%dx, %%eax" : "=a"(in) : "d"((uint16_t)CAP_HC_PORT_BASE));
	TEST_CHECK(in == 0xffffffffu);

	/* Unknown hypercalls and bad arguments. */
	TEST_CHECK(hypercall(14, 0, 0, 0, 0) == CAP_ENOSYS);
	TEST_CHECK(hypercall(15, 1, 2, 3, 4) == CAP_ENOSYS);
	TEST_CHECK(hypercall(CAP_HC_SHUTDOWN, 99, 0, 0, 0) == CAP_EINVAL);
	TEST_CHECK(hypercall(CAP_HC_SHUTDOWN, ~0ull, 0, 0, 0) == CAP_EINVAL);

	/* An absurd deadline with an event already pending returns at once. */
	port = evtchn_alloc(0);
	TEST_CHECK(port > 0 && evtchn_send(port) == 0);
	TEST_CHECK(block(~0ull) == 1);
	TEST_CHECK(evtchn_test_and_clear(port));

	/* A corrupted console ring is refused and then works again. */
	{
		struct cap_console_ring *r = (void *)(uintptr_t)start_info->console_gpa;

		r->prod += 100000;
		TEST_CHECK(hypercall(CAP_HC_CONSOLE_WRITE, 0, 0, 0, 0) == CAP_EINVAL);
		printf("hostile: console recovered\n");
	}

	/* Random arguments to every hypercall that cannot end or park this vCPU. */
	static const unsigned nrs[] = {
		CAP_HC_CONSOLE_WRITE, CAP_HC_YIELD, CAP_HC_SET_TIMER, CAP_HC_VCPU_UP,
		CAP_HC_EVTCHN_ALLOC, CAP_HC_EVTCHN_BIND_TIMER, CAP_HC_EVTCHN_SEND,
		CAP_HC_EVTCHN_MASK, CAP_HC_EVTCHN_UNMASK, CAP_HC_EVTCHN_CLOSE, CAP_HC_TIME, 14, 15,
	};
	for (int i = 0; i < 3000; i++) {
		unsigned nr = nrs[next_random() % (sizeof(nrs) / sizeof(nrs[0]))];
		uint64_t a0 = next_random() >> (next_random() % 64);
		int64_t r = hypercall(nr, a0, next_random(), next_random(), next_random());

		if (!known_result(r)) {
			printf("hypercall %u(0x%llx) returned %lld\n", nr, (unsigned long long)a0,
			       (long long)r);
			test_finish(false);
		}
	}
	timer_set(0);
	printf("hostile: 3000 random hypercalls answered\n");
	test_finish(true);
}
