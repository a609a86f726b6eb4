/* SPDX-License-Identifier: Apache-2.0 */
/* Start-up, hypercall wrappers, time and vCPUs. */
#include "kit_internal.h"

const struct cap_start_info *start_info;
struct cap_shared_info *shared_info;
uint8_t kit_boot_stack[KIT_STACK_SIZE] __attribute__((aligned(KIT_STACK_SIZE)));

void kit_main(const struct cap_start_info *si);
void kit_ap_main(struct kit_cpu *c, uint64_t id);
extern char kit_ap_entry[];

/* Per-vCPU argument structs in .bss: below 4 GiB, as `out %eax` needs. */
static struct cap_hcall hc_args[CAP_MAX_VCPUS] __attribute__((aligned(64)));

int64_t hypercall_raw(unsigned nr, uint32_t arg_gpa)
{
	uint64_t rax = arg_gpa;

	__asm__ volatile("outl %%eax, %%dx"
			 : "+a"(rax)
			 : "d"((uint16_t)(CAP_HC_PORT_BASE + nr))
			 : "memory");
	/* RAX changes only when the VMM could not use the argument struct. */
	if (rax != arg_gpa)
		return (int64_t)rax;
	return ((volatile struct cap_hcall *)(uintptr_t)arg_gpa)->ret;
}

int64_t hypercall(unsigned nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	struct cap_hcall *a = &hc_args[this_cpu()];

	a->ret = 0;
	a->a[0] = a0;
	a->a[1] = a1;
	a->a[2] = a2;
	a->a[3] = a3;
	a->a[4] = 0;
	return hypercall_raw(nr, (uint32_t)(uintptr_t)a);
}

noreturn void poweroff(int code)
{
	console_flush();
	/* The ABI refuses codes above CAP_SHUTDOWN_CODE_MAX (docs/pv-abi.md R-SD-2): rather
	 * than go on or exit with something that looks like success, crash with the code. */
	if (code < 0 || (unsigned)code > CAP_SHUTDOWN_CODE_MAX)
		crash(code);
	hypercall(CAP_HC_SHUTDOWN, CAP_SHUTDOWN_POWEROFF, (uint64_t)code, 0, 0);
	for (;;)
		;
}

noreturn void reboot(void)
{
	console_flush();
	hypercall(CAP_HC_SHUTDOWN, CAP_SHUTDOWN_REBOOT, 0, 0, 0);
	for (;;)
		;
}

noreturn void crash(int code)
{
	console_flush();
	hypercall(CAP_HC_SHUTDOWN, CAP_SHUTDOWN_CRASH, (uint64_t)code, 0, 0);
	for (;;)
		;
}

void yield(void)
{
	hypercall(CAP_HC_YIELD, 0, 0, 0, 0);
}

static void default_request(uint32_t req)
{
	printf("guest: the host asked for a %s\n", req == CAP_REQUEST_REBOOT ? "reboot" : "power off");
	if (req == CAP_REQUEST_REBOOT)
		reboot();
	poweroff(0);
}

static void (*request_handler)(uint32_t req) = default_request;

void on_host_request(void (*fn)(uint32_t req))
{
	request_handler = fn ? fn : default_request;
}

bool host_request_check(void)
{
	uint32_t req;

	if (!start_info->control_port || !evtchn_test_and_clear((int)start_info->control_port))
		return false;
	req = __atomic_load_n(&shared_info->host_request, __ATOMIC_ACQUIRE);
	if (req != CAP_REQUEST_POWEROFF && req != CAP_REQUEST_REBOOT)
		return false;
	request_handler(req);
	return true;
}

int64_t block(uint64_t deadline_ns)
{
	int64_t r = hypercall(CAP_HC_BLOCK, deadline_ns, 0, 0, 0);

	/* Every wait goes through here: a host request is answered wherever the guest waits. */
	host_request_check();
	return r;
}

uint64_t time_ns(void)
{
	return (uint64_t)hypercall(CAP_HC_TIME, 0, 0, 0, 0);
}

uint64_t wallclock_ns(void)
{
	struct cap_hcall *a = &hc_args[this_cpu()];

	hypercall(CAP_HC_TIME, 0, 0, 0, 0);
	return a->a[1];
}

uint64_t tsc_ns(void)
{
	uint32_t lo, hi;
	uint64_t ticks;

	if (!start_info->tsc_khz)
		return time_ns();
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	ticks = (((uint64_t)hi << 32) | lo) - start_info->boot_tsc;
	/* split to avoid overflow: ns = ticks * 1e6 / khz */
	return ticks / start_info->tsc_khz * 1000000ull +
	       ticks % start_info->tsc_khz * 1000000ull / start_info->tsc_khz;
}

unsigned this_cpu(void)
{
	return kit_cpu()->id;
}

unsigned nr_cpus(void)
{
	return start_info->nr_vcpus;
}

int smp_start(unsigned cpu, void (*fn)(void *arg), void *arg)
{
	uint8_t *stack = memalign(KIT_STACK_SIZE, KIT_STACK_SIZE);
	struct kit_cpu *c = (struct kit_cpu *)stack;
	int64_t rc;

	if (!stack)
		return CAP_ENOSPC;
	*c = (struct kit_cpu){.id = cpu, .fn = fn, .arg = arg};
	rc = hypercall(CAP_HC_VCPU_UP, cpu, (uint64_t)(uintptr_t)kit_ap_entry,
		       (uint64_t)(uintptr_t)(stack + KIT_STACK_SIZE), (uint64_t)(uintptr_t)c);
	if (rc < 0)
		free(stack);
	return (int)rc;
}

noreturn void vcpu_down(void)
{
	console_flush();
	hypercall(CAP_HC_VCPU_DOWN, 0, 0, 0, 0);
	for (;;) /* vCPU 0 cannot go down: it waits for the end instead */
		block(0);
}

void kit_ap_main(struct kit_cpu *c, uint64_t id)
{
	(void)id; /* the id is already in c, which sits at the bottom of this stack */
	c->fn(c->arg);
	vcpu_down();
}

void kit_main(const struct cap_start_info *si)
{
	struct kit_cpu *boot = (struct kit_cpu *)kit_boot_stack;

	boot->id = 0;
	start_info = si;
	shared_info = (struct cap_shared_info *)(uintptr_t)si->shared_info_gpa;
	heap_init(si->free_start, si->free_end);
	poweroff(main());
}

noreturn void test_finish(bool ok)
{
	printf("Test result: %s\n", ok ? "SUCCESS" : "FAILURE");
	poweroff(ok ? 0 : 1);
}
