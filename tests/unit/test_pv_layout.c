/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A PV domain's VMM-owned pages (docs/pv-abi.md): the page tables map none of them to CPL 3,
 * guest memory refuses them to devices and hypercalls, and a virtqueue pointed at them
 * breaks the device instead of writing the IDT, the TSS or the page tables.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "capsule/devices.h"
#include "capsule/log.h"
#include "capsule/pv.h"

#define MEM (64u << 20)
#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_US 0x4ull
#define PTE_PS 0x80ull
#define ADDR(e) ((e) & 0x000ffffffffff000ull)

struct fixture {
	struct vm vm;
	struct pv_domain pv;
};

static int setup(void **state)
{
	static struct fixture f;
	struct vm_config cfg = {.mem_bytes = MEM, .nr_vcpus = 4};

	log_set_level(LOG_ERROR);
	if (vm_init_nokvm(&f.vm, &cfg) || pv_domain_init(&f.pv, &f.vm) ||
	    pv_build_cpu_tables(&f.vm))
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pv_domain_destroy(&f->pv);
	vm_destroy(&f->vm);
	return 0;
}

static uint64_t entry(struct vm *vm, uint64_t table, unsigned i)
{
	const void *p = gmem_vmm_ptr(&vm->mem, table + i * 8, 8);
	uint64_t e;

	assert_non_null(p);
	memcpy(&e, p, 8);
	return e;
}

/* The effective user/write permission of a page, walking the tables as the CPU does. */
static uint64_t walk(struct vm *vm, uint64_t va)
{
	uint64_t perm = PTE_US | PTE_RW, e = CAP_GPA_PAGETABLES;
	static const unsigned shifts[] = {39, 30, 21, 12};

	for (unsigned l = 0; l < 4; l++) {
		e = entry(vm, ADDR(e), (unsigned)(va >> shifts[l]) & 511);
		if (!(e & PTE_P))
			return 0;
		perm &= e;
		if (l == 2 && (e & PTE_PS))
			break;
	}
	return perm | PTE_P;
}

static void no_vmm_page_is_user_mapped(void **state)
{
	struct fixture *f = *state;
	unsigned vmm = 0, user = 0;

	for (uint64_t gpa = 0; gpa < MEM; gpa += 4096) {
		uint64_t perm = walk(&f->vm, gpa);
		bool owned = pv_vmm_owned(gpa);

		if (owned) {
			vmm++;
			assert_false(perm & PTE_US); /* CPL 3 can neither read nor write it */
			assert_null(gmem_ptr(&f->vm.mem, gpa, 1));
		} else if (gpa) {
			user++;
			assert_true((perm & (PTE_P | PTE_US | PTE_RW)) == (PTE_P | PTE_US | PTE_RW));
			assert_non_null(gmem_ptr(&f->vm.mem, gpa, 4096));
		}
	}
	/* The structures the VMM builds are all inside what it owns. */
	assert_true(pv_vmm_owned(CAP_GPA_GDT) && pv_vmm_owned(CAP_GPA_IDT));
	assert_true(pv_vmm_owned(CAP_GPA_TRAP_CODE) && pv_vmm_owned(CAP_GPA_TSS));
	assert_true(pv_vmm_owned(CAP_GPA_TRAP_STACKS + CAP_MAX_VCPUS * 4096 - 1));
	assert_true(pv_vmm_owned(CAP_GPA_PAGETABLES) && pv_vmm_owned(CAP_GPA_IMAGE_MIN - 1));
	assert_false(pv_vmm_owned(CAP_GPA_START_INFO) || pv_vmm_owned(CAP_GPA_CONSOLE));
	assert_int_equal(vmm, (CAP_GPA_IMAGE_MIN - (CAP_GPA_GUEST_LOW_END - CAP_GPA_GUEST_LOW)) / 4096);
	assert_int_equal(user, MEM / 4096 - vmm);
}

/*
 * The attack of the hostile-findings issue: a virtio-rng request whose buffer is the IDT
 * (or the TSS, or a page table). The device must fail and leave the page as it was.
 */
static void device_cannot_write_vmm_pages(void **state)
{
	static const uint64_t targets[] = {CAP_GPA_GDT, CAP_GPA_IDT, CAP_GPA_TSS,
					    CAP_GPA_TRAP_STACKS, CAP_GPA_PAGETABLES + 0x2000,
					    CAP_GPA_IMAGE_MIN - 8};
	struct fixture *f = *state;
	struct virtio_dev d;
	const uint64_t desc = 0x200000, avail = 0x201000, used = 0x202000;
	uint8_t before[4096];

	for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
		struct virtq_desc *ring = gmem_ptr(&f->vm.mem, desc, 16);
		struct virtq_avail *av = gmem_ptr(&f->vm.mem, avail, 8);
		struct virtq_used *u = gmem_ptr(&f->vm.mem, used, 16);
		const char *why = NULL;

		memset(&d, 0, sizeof(d));
		d.ops = &virtio_rng_ops;
		d.vm = &f->vm;
		d.mem = &f->vm.mem;
		for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
			d.kick_fd[i] = -1;
		pthread_mutex_init(&d.lock, NULL);
		d.status = VIRTIO_STATUS_DRIVER_OK;
		memset(av, 0, 8);
		memset(u, 0, 16);
		assert_int_equal(vq_init(&d.vq[0], d.mem, 1, desc, avail, used, false, false, &why), 0);
		ring[0] = (struct virtq_desc){.addr = targets[t], .len = 8, .flags = VIRTQ_DESC_F_WRITE};
		av->ring[0] = 0;
		av->idx = 1;
		memcpy(before, gmem_vmm_ptr(&f->vm.mem, targets[t] & ~4095ull, 4096), 4096);
		pthread_mutex_lock(&d.lock);
		virtio_rng_ops.queue_notify(&d, 0);
		pthread_mutex_unlock(&d.lock);
		assert_true(d.broken);
		assert_true(d.status & VIRTIO_STATUS_NEEDS_RESET);
		assert_int_equal(u->idx, 0); /* nothing completed */
		assert_memory_equal(before, gmem_vmm_ptr(&f->vm.mem, targets[t] & ~4095ull, 4096), 4096);
		/* Rings themselves may not live there either. */
		assert_int_equal(vq_init(&d.vq[0], d.mem, 1, targets[t] & ~4095ull, avail, used,
					 false, false, &why), -EINVAL);
		assert_int_equal(vq_init(&d.vq[0], d.mem, 1, desc, avail, targets[t] & ~4095ull,
					 false, false, &why), -EINVAL);
		pthread_mutex_destroy(&d.lock);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_vmm_page_is_user_mapped),
		cmocka_unit_test(device_cannot_write_vmm_pages),
	};

	return cmocka_run_group_tests_name("PV layout", tests, setup, teardown);
}
