/* SPDX-License-Identifier: Apache-2.0 */
/* The VMM's dirty bitmap: what the guest-memory door marks, fetch-and-clear, start, stop. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "capsule/dirty.h"
#include "capsule/vm.h"

#define SIZE (1u << 20) /* 256 pages: 4 words */
#define WORDS (SIZE / DIRTY_PAGE / 64)

static void off_marks_nothing(void **state)
{
	struct guest_mem m;
	uint64_t bits[WORDS] = {0};

	(void)state;
	assert_int_equal(gmem_init(&m, SIZE), 0);
	assert_non_null(gmem_ptr(&m, 0, 4096));
	assert_false(gmem_dirty_on(&m));
	assert_null(m.dirty);
	assert_int_equal(gmem_dirty_start(&m), 0);
	gmem_dirty_fetch(&m, bits);
	assert_int_equal(dirty_count(bits, SIZE / DIRTY_PAGE), 0);
	gmem_destroy(&m);
}

static void door_marks_ranges(void **state)
{
	struct guest_mem m;
	uint64_t bits[WORDS] = {0};

	(void)state;
	assert_int_equal(gmem_init(&m, SIZE), 0);
	assert_int_equal(gmem_dirty_start(&m), 0);
	assert_non_null(gmem_ptr(&m, 4096 + 100, 8));      /* page 1 */
	assert_non_null(gmem_vmm_ptr(&m, 63 * 4096 + 4095, 2)); /* pages 63, 64: two words */
	assert_int_equal(gmem_write(&m, 200 * 4096, "x", 1), 0);   /* page 200 */
	assert_non_null(gmem_ptr(&m, 100 * 4096, 0));      /* empty: nothing */
	assert_null(gmem_ptr(&m, SIZE - 8, 16));           /* refused: nothing */
	gmem_discard(&m, 250 * 4096, 2 * 4096);            /* a balloon's pages: 250, 251 */
	gmem_dirty_fetch(&m, bits);
	assert_int_equal(dirty_count(bits, SIZE / DIRTY_PAGE), 6);
	assert_int_equal(bits[0], (1ull << 1) | (1ull << 63));
	assert_int_equal(bits[1], 1ull);
	assert_int_equal(bits[3], (1ull << (200 - 192)) | (3ull << (250 - 192)));
	/* Fetched means cleared. */
	memset(bits, 0, sizeof(bits));
	gmem_dirty_fetch(&m, bits);
	assert_int_equal(dirty_count(bits, SIZE / DIRTY_PAGE), 0);
	/* A whole-memory range marks every page, and an unfetch puts pages back. */
	assert_non_null(gmem_ptr(&m, 0, SIZE));
	gmem_dirty_fetch(&m, bits);
	assert_int_equal(dirty_count(bits, SIZE / DIRTY_PAGE), SIZE / DIRTY_PAGE);
	memset(bits, 0, sizeof(bits));
	bits[2] = 0x5;
	gmem_dirty_unfetch(&m, bits);
	memset(bits, 0, sizeof(bits));
	gmem_dirty_fetch(&m, bits);
	assert_int_equal(dirty_count(bits, SIZE / DIRTY_PAGE), 2);
	/* Stopped: no marks; started again: cleared. */
	gmem_dirty_stop(&m);
	assert_non_null(gmem_ptr(&m, 0, 4096));
	assert_int_equal(gmem_dirty_start(&m), 0);
	memset(bits, 0, sizeof(bits));
	gmem_dirty_fetch(&m, bits);
	assert_int_equal(dirty_count(bits, SIZE / DIRTY_PAGE), 0);
	gmem_destroy(&m);
	assert_null(m.dirty);
}

static void vm_without_kvm(void **state)
{
	struct vm_config cfg = {.mem_bytes = SIZE, .nr_vcpus = 1};
	uint64_t bits[WORDS];
	struct vm vm;

	(void)state;
	assert_int_equal(vm_init_nokvm(&vm, &cfg), 0);
	assert_int_equal(vm_dirty_fetch(&vm, bits), -ENOENT);
	assert_int_equal(vm_dirty_start(&vm), 0);
	assert_non_null(gmem_ptr(&vm.mem, 5 * 4096, 4096));
	assert_int_equal(vm_dirty_fetch(&vm, bits), 0);
	assert_int_equal(bits[0], 1ull << 5);
	assert_int_equal(vm_dirty_fetch(&vm, bits), 0);
	assert_int_equal(bits[0], 0);
	vm_dirty_stop(&vm);
	assert_int_equal(vm_dirty_fetch(&vm, bits), -ENOENT);
	vm_destroy(&vm);
}

/*
 * Two users of one log (include/capsule/dirty.h): each fetch sees every page written since
 * that user's own previous fetch, whatever the other fetched meanwhile; stopping one
 * leaves the other logging; put-back pages go to the tracker alone.
 */
static void two_users_each_see_every_page(void **state)
{
	struct vm_config cfg = {.mem_bytes = SIZE, .nr_vcpus = 1};
	uint64_t track[WORDS], sample[WORDS], back[WORDS] = {0};
	struct vm vm;

	(void)state;
	assert_int_equal(vm_init_nokvm(&vm, &cfg), 0);
	assert_int_equal(vm_dirty_sample_fetch(&vm, NULL, sample), -ENOENT);
	assert_int_equal(vm_dirty_sample_start(&vm, NULL), 0);
	assert_true(gmem_dirty_marking(&vm.mem));
	assert_false(gmem_dirty_on(&vm.mem)); /* the tracker's view: no snapshot chain */
	assert_int_equal(vm_dirty_fetch(&vm, track), -ENOENT);
	assert_non_null(gmem_ptr(&vm.mem, 5 * 4096, 1));
	/* The tracker starts: page 5 was before its start, but is the sampler's. */
	assert_int_equal(vm_dirty_start(&vm), 0);
	assert_non_null(gmem_ptr(&vm.mem, 7 * 4096, 1));
	assert_int_equal(vm_dirty_sample_fetch(&vm, NULL, sample), 0);
	assert_int_equal(sample[0], (1ull << 5) | (1ull << 7));
	/* The sampler's fetch took nothing from the tracker. */
	assert_int_equal(vm_dirty_fetch(&vm, track), 0);
	assert_int_equal(track[0], 1ull << 7);
	assert_non_null(gmem_ptr(&vm.mem, 9 * 4096, 1));
	assert_int_equal(vm_dirty_fetch(&vm, track), 0);
	assert_int_equal(track[0], 1ull << 9);
	assert_int_equal(vm_dirty_sample_fetch(&vm, NULL, sample), 0);
	assert_int_equal(sample[0], 1ull << 9);
	/* A failed snapshot puts its pages back: the tracker's next fetch has them. */
	back[1] = 1;
	gmem_dirty_unfetch(&vm.mem, back);
	assert_int_equal(vm_dirty_sample_fetch(&vm, NULL, sample), 0);
	assert_int_equal(dirty_count(sample, SIZE / DIRTY_PAGE), 0);
	assert_int_equal(vm_dirty_fetch(&vm, track), 0);
	assert_int_equal(track[1], 1);
	/* The tracker stops; the sampler logs on. */
	vm_dirty_stop(&vm);
	assert_true(gmem_dirty_marking(&vm.mem));
	assert_non_null(gmem_ptr(&vm.mem, 11 * 4096, 1));
	assert_int_equal(vm_dirty_sample_fetch(&vm, NULL, sample), 0);
	assert_int_equal(sample[0], 1ull << 11);
	vm_dirty_sample_stop(&vm);
	assert_false(gmem_dirty_marking(&vm.mem));
	assert_int_equal(vm_dirty_sample_fetch(&vm, NULL, sample), -ENOENT);
	vm_destroy(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(off_marks_nothing),
		cmocka_unit_test(door_marks_ranges),
		cmocka_unit_test(vm_without_kvm),
		cmocka_unit_test(two_users_each_see_every_page),
	};

	return cmocka_run_group_tests_name("dirty tracking", tests, NULL, NULL);
}
