/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hypercalls against fake guest memory, no KVM: argument-address checks on the port,
 * every handler's range checks, event channel semantics, the console ring.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "capsule/pv.h"

#define MEM (8u << 20)
#define ARGS_GPA 0x200000u

struct fixture {
	struct vm vm;
	struct pv_domain pv;
};

static int setup(void **state)
{
	static struct fixture f;
	struct vm_config cfg = {.mem_bytes = MEM, .nr_vcpus = 2};

	if (vm_init_nokvm(&f.vm, &cfg) || pv_domain_init(&f.pv, &f.vm))
		return -1;
	f.vm.console = tmpfile();
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fclose(f->vm.console);
	f->vm.console = NULL;
	pv_domain_destroy(&f->pv);
	vm_destroy(&f->vm);
	return 0;
}

static int64_t call(struct fixture *f, unsigned vcpu, unsigned nr, uint64_t a0, uint64_t a1)
{
	struct cap_hcall a = {.ret = 12345, .a = {a0, a1}};

	pv_hypercall(&f->pv, &f->vm.vcpus[vcpu], nr, &a);
	return a.ret;
}

static enum exit_action action(struct fixture *f, unsigned vcpu, unsigned nr, uint64_t a0,
			       uint64_t a1)
{
	struct cap_hcall a = {.a = {a0, a1}};

	return pv_hypercall(&f->pv, &f->vm.vcpus[vcpu], nr, &a);
}

/* Through the port, as a guest `out` would arrive: the address is checked first. */
static void port_checks_argument_address(void **state)
{
	struct fixture *f = *state;
	const struct io_range *r = bus_find(&f->vm.pio, CAP_HC_PORT_BASE + CAP_HC_TIME, 4);
	struct cap_hcall *args = gmem_ptr(&f->vm.mem, ARGS_GPA, sizeof(*args));
	const uint32_t bad[] = {0, 8, CAP_GPA_GDT, CAP_GPA_START_INFO, ARGS_GPA + 4, MEM - 8,
				MEM, 0xfffffff8u};

	assert_non_null(r);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *target = gmem_ptr(&f->vm.mem, bad[i] & ~7u, 8);
		uint8_t before[8] = {0};
		uint32_t gpa = bad[i];

		if (target)
			memcpy(before, target, 8);
		assert_int_equal(r->fn(&f->vm.vcpus[0], r->opaque, CAP_HC_PORT_BASE + CAP_HC_TIME,
				       (uint8_t *)&gpa, 4, true),
				 EXIT_CONTINUE);
		if (target) /* never written through a refused address */
			assert_memory_equal(before, target, 8);
	}
	/* A good address gets its result. */
	args->ret = -1;
	uint32_t gpa = ARGS_GPA;
	r->fn(&f->vm.vcpus[0], r->opaque, CAP_HC_PORT_BASE + CAP_HC_TIME, (uint8_t *)&gpa, 4, true);
	assert_true(args->ret >= 0);
	assert_true(args->a[1] > 1600000000ull * 1000000000ull);
	/* A 1-byte write is refused without touching memory. */
	args->ret = 777;
	r->fn(&f->vm.vcpus[0], r->opaque, CAP_HC_PORT_BASE + CAP_HC_TIME, (uint8_t *)&gpa, 1, true);
	assert_int_equal(args->ret, 777);
	/* Reads float high. */
	uint32_t in = 0;
	r->fn(&f->vm.vcpus[0], r->opaque, CAP_HC_PORT_BASE, (uint8_t *)&in, 4, false);
	assert_int_equal(in, 0xffffffffu);
	/* The whole 32-bit window of the last hypercall port is claimed. */
	assert_non_null(bus_find(&f->vm.pio, CAP_HC_PORT_BASE + CAP_HC_PORT_COUNT - 1, 4));
}

static void unknown_and_bad_arguments(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(call(f, 0, CAP_HC_COUNT, 0, 0), CAP_ENOSYS);
	assert_int_equal(call(f, 0, 15, 0, 0), CAP_ENOSYS);
	assert_int_equal(call(f, 0, 1000, 0, 0), CAP_ENOSYS);
	assert_int_equal(call(f, 0, CAP_HC_SHUTDOWN, 3, 0), CAP_EINVAL);
	assert_int_equal(call(f, 0, CAP_HC_SHUTDOWN, UINT64_MAX, 0), CAP_EINVAL);
	/* power-off codes beyond 123 are refused, not wrapped into capsule's exit status */
	const uint64_t codes[] = {CAP_SHUTDOWN_CODE_MAX + 1, 255, 256, 300, 1ull << 32, UINT64_MAX};
	for (unsigned i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		assert_int_equal(call(f, 0, CAP_HC_SHUTDOWN, CAP_SHUTDOWN_POWEROFF, codes[i]),
				 CAP_EINVAL);
	assert_int_equal(call(f, 0, CAP_HC_SET_TIMER, UINT64_MAX, 0), CAP_EINVAL);
	assert_int_equal(call(f, 0, CAP_HC_VCPU_DOWN, 0, 0), CAP_EINVAL);
	assert_int_equal(action(f, 1, CAP_HC_VCPU_DOWN, 0, 0), EXIT_VCPU_STOP);
	assert_false(vm_ended(&f->vm));
}

static void vcpu_up_checks(void **state)
{
	struct fixture *f = *state;
	struct cap_hcall a;
	const uint64_t bad[][3] = {
		{0, 0x100000, 0x200000},          /* vCPU 0 is always up */
		{2, 0x100000, 0x200000},          /* only 2 vCPUs */
		{UINT64_MAX, 0x100000, 0x200000},
		{1, 0x1000, 0x200000},            /* entry in VMM tables */
		{1, MEM, 0x200000},               /* entry beyond RAM */
		{1, 0x100000, MEM + 8},           /* stack beyond RAM */
		{1, 0x100000, 0x1000},            /* stack in VMM tables */
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = (struct cap_hcall){.a = {bad[i][0], bad[i][1], bad[i][2]}};
		pv_hypercall(&f->pv, &f->vm.vcpus[0], CAP_HC_VCPU_UP, &a);
		assert_int_equal(a.ret, CAP_EINVAL);
	}
	assert_int_equal(f->vm.vcpus[1].state, VCPU_DOWN);
}

static bool pending(struct fixture *f, int64_t port)
{
	return f->pv.shared->evtchn_pending[port / 64] & (1ull << (port % 64));
}

static void event_channels(void **state)
{
	struct fixture *f = *state;
	int64_t p = call(f, 0, CAP_HC_EVTCHN_ALLOC, 1, 0);
	struct cap_vcpu_info *vi = &f->pv.shared->vcpu[1];

	assert_true(p > 0 && p < CAP_EVTCHN_PORTS);
	assert_int_equal(call(f, 0, CAP_HC_EVTCHN_SEND, (uint64_t)p, 0), 0);
	assert_true(pending(f, p));
	assert_int_equal(vi->notified, 1);
	assert_true(vi->pending_sel & (1ull << (p / 64)));
	/* vCPU 1 has an event: block returns at once; vCPU 0 has none: it times out. */
	assert_int_equal(call(f, 1, CAP_HC_BLOCK, UINT64_MAX, 0), 1);
	assert_int_equal(call(f, 0, CAP_HC_BLOCK, 1, 0), 0);

	/* masked: pending is recorded but does not count for block, unmask re-raises */
	f->pv.shared->evtchn_pending[p / 64] = 0;
	vi->notified = 0;
	assert_int_equal(call(f, 0, CAP_HC_EVTCHN_MASK, (uint64_t)p, 0), 0);
	assert_int_equal(call(f, 0, CAP_HC_EVTCHN_SEND, (uint64_t)p, 0), 0);
	assert_true(pending(f, p));
	assert_int_equal(vi->notified, 0);
	assert_int_equal(call(f, 1, CAP_HC_BLOCK, 1, 0), 0);
	assert_int_equal(call(f, 0, CAP_HC_EVTCHN_UNMASK, (uint64_t)p, 0), 0);
	assert_int_equal(vi->notified, 1);
	assert_int_equal(call(f, 1, CAP_HC_BLOCK, 1, 0), 1);

	/* a guest that scribbles all-ones over the bitmaps cannot wake a vCPU with no ports */
	memset(f->pv.shared->evtchn_pending, 0xff, sizeof(f->pv.shared->evtchn_pending));
	memset(f->pv.shared->evtchn_mask, 0, sizeof(f->pv.shared->evtchn_mask));
	assert_int_equal(call(f, 0, CAP_HC_BLOCK, 1, 0), 0);

	/* close: the port is gone */
	assert_int_equal(call(f, 0, CAP_HC_EVTCHN_CLOSE, (uint64_t)p, 0), 0);
	assert_false(pending(f, p));
	assert_int_equal(call(f, 0, CAP_HC_EVTCHN_SEND, (uint64_t)p, 0), CAP_EINVAL);
	assert_int_equal(call(f, 0, CAP_HC_EVTCHN_CLOSE, (uint64_t)p, 0), CAP_EINVAL);
	memset(f->pv.shared->evtchn_pending, 0, sizeof(f->pv.shared->evtchn_pending));
}

static void event_channel_bad_ports(void **state)
{
	struct fixture *f = *state;
	const uint64_t bad[] = {0, CAP_EVTCHN_PORTS, CAP_EVTCHN_PORTS + 1, UINT64_MAX, 500};
	const unsigned ops[] = {CAP_HC_EVTCHN_SEND, CAP_HC_EVTCHN_MASK, CAP_HC_EVTCHN_UNMASK,
				CAP_HC_EVTCHN_CLOSE};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		for (unsigned j = 0; j < sizeof(ops) / sizeof(ops[0]); j++)
			assert_int_equal(call(f, 0, ops[j], bad[i], 0), CAP_EINVAL);
	assert_int_equal(call(f, 0, CAP_HC_EVTCHN_ALLOC, 2, 0), CAP_EINVAL);
	assert_int_equal(call(f, 0, CAP_HC_EVTCHN_ALLOC, UINT64_MAX, 0), CAP_EINVAL);
}

static void event_channel_exhaustion(void **state)
{
	struct fixture *f = *state;
	int64_t p, n = 0;

	while ((p = call(f, 0, CAP_HC_EVTCHN_ALLOC, 0, 0)) > 0)
		n++;
	assert_int_equal(p, CAP_ENOSPC);
	assert_int_equal(n, CAP_EVTCHN_PORTS - 1);
	for (p = 1; p < CAP_EVTCHN_PORTS; p++)
		assert_int_equal(call(f, 0, CAP_HC_EVTCHN_CLOSE, (uint64_t)p, 0), 0);
	assert_int_equal(call(f, 0, CAP_HC_EVTCHN_ALLOC, 0, 0), 1);
	assert_int_equal(call(f, 0, CAP_HC_EVTCHN_CLOSE, 1, 0), 0);
}

static void timer_binding(void **state)
{
	struct fixture *f = *state;
	int64_t p = call(f, 1, CAP_HC_EVTCHN_BIND_TIMER, 0, 0);

	assert_true(p > 0);
	assert_int_equal(call(f, 1, CAP_HC_EVTCHN_BIND_TIMER, 0, 0), p);
	assert_int_equal(f->pv.timers[1].port, p);
	assert_int_equal(call(f, 1, CAP_HC_SET_TIMER, 123456789, 0), 0);
	assert_int_equal(f->pv.timers[1].deadline, 123456789);
	assert_int_equal(call(f, 1, CAP_HC_EVTCHN_CLOSE, (uint64_t)p, 0), 0);
	assert_int_equal(f->pv.timers[1].port, -1);
	assert_int_equal(f->pv.timers[1].deadline, 0);
}

static void console_ring(void **state)
{
	struct fixture *f = *state;
	struct cap_console_ring *ring = f->pv.console;
	char buf[64] = {0};
	const char *msg = "hello, console\n";
	uint32_t start = ring->prod;

	/* wrap around the end of the ring */
	f->pv.console_cons = ring->cons = ring->prod = CAP_CONSOLE_RING_SIZE - 4;
	start = ring->prod;
	for (size_t i = 0; i < strlen(msg); i++)
		ring->buf[(start + i) % CAP_CONSOLE_RING_SIZE] = (uint8_t)msg[i];
	ring->prod = start + (uint32_t)strlen(msg);
	rewind(f->vm.console);
	assert_int_equal(call(f, 0, CAP_HC_CONSOLE_WRITE, 0, 0), (int64_t)strlen(msg));
	assert_int_equal(ring->cons, ring->prod);
	rewind(f->vm.console);
	assert_non_null(fgets(buf, sizeof(buf), f->vm.console));
	assert_string_equal(buf, msg);
	/* nothing new: nothing written */
	assert_int_equal(call(f, 0, CAP_HC_CONSOLE_WRITE, 0, 0), 0);
	/* a lying producer index is refused and the ring resynchronised */
	ring->prod += CAP_CONSOLE_RING_SIZE + 1;
	assert_int_equal(call(f, 0, CAP_HC_CONSOLE_WRITE, 0, 0), CAP_EINVAL);
	assert_int_equal(ring->cons, ring->prod);
	/* a guest rewriting cons cannot make the VMM print old bytes again */
	ring->cons -= 100;
	assert_int_equal(call(f, 0, CAP_HC_CONSOLE_WRITE, 0, 0), 0);
}

static void shutdown_ends_domain(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(action(f, 0, CAP_HC_SHUTDOWN, CAP_SHUTDOWN_POWEROFF, 42),
			 EXIT_DOMAIN_END);
	assert_true(vm_ended(&f->vm));
	assert_int_equal(f->vm.end_reason, VM_END_POWEROFF);
	assert_int_equal(f->vm.end_code, 42);
	/* the first reason wins */
	action(f, 1, CAP_HC_SHUTDOWN, CAP_SHUTDOWN_REBOOT, 0);
	assert_int_equal(f->vm.end_reason, VM_END_POWEROFF);
	/* a blocked vCPU of an ended domain returns at once */
	assert_int_equal(call(f, 0, CAP_HC_BLOCK, 0, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(port_checks_argument_address),
		cmocka_unit_test(unknown_and_bad_arguments),
		cmocka_unit_test(vcpu_up_checks),
		cmocka_unit_test(event_channels),
		cmocka_unit_test(event_channel_bad_ports),
		cmocka_unit_test(event_channel_exhaustion),
		cmocka_unit_test(timer_binding),
		cmocka_unit_test(console_ring),
		cmocka_unit_test(shutdown_ends_domain), /* last: it ends the domain */
	};

	return cmocka_run_group_tests_name("hypercalls", tests, setup, teardown);
}
