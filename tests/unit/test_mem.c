/* SPDX-License-Identifier: Apache-2.0 */
/* The checked guest-physical accessor: bounds, overflow, and the copies built on it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule/mem.h"

#define SIZE (2u << 20)

static int setup(void **state)
{
	static struct guest_mem m;

	if (gmem_init(&m, SIZE))
		return -1;
	*state = &m;
	return 0;
}

static int teardown(void **state)
{
	gmem_destroy(*state);
	return 0;
}

static void ptr_in_range(void **state)
{
	struct guest_mem *m = *state;

	assert_ptr_equal(gmem_ptr(m, 0, 1), m->host);
	assert_ptr_equal(gmem_ptr(m, 4096, 4096), m->host + 4096);
	assert_ptr_equal(gmem_ptr(m, SIZE - 1, 1), m->host + SIZE - 1);
	assert_ptr_equal(gmem_ptr(m, 0, SIZE), m->host);
	assert_ptr_equal(gmem_ptr(m, SIZE - 8, 8), m->host + SIZE - 8);
}

static void ptr_out_of_range(void **state)
{
	struct guest_mem *m = *state;

	assert_null(gmem_ptr(m, SIZE, 1));
	assert_null(gmem_ptr(m, SIZE - 1, 2));
	assert_null(gmem_ptr(m, 0, SIZE + 1));
	assert_null(gmem_ptr(m, SIZE + 4096, 0));
	assert_null(gmem_ptr(m, UINT64_MAX, 1));
}

static void ptr_overflow(void **state)
{
	struct guest_mem *m = *state;

	/* gpa + len wraps to a small number: must still be refused */
	assert_null(gmem_ptr(m, 16, UINT64_MAX - 8));
	assert_null(gmem_ptr(m, UINT64_MAX - 3, 8));
	assert_null(gmem_ptr(m, 1, UINT64_MAX));
}

static void copies(void **state)
{
	struct guest_mem *m = *state;
	uint8_t buf[16] = "capsule-guest-!", out[16];

	assert_int_equal(gmem_write(m, 0x1000, buf, sizeof(buf)), 0);
	assert_memory_equal(m->host + 0x1000, buf, sizeof(buf));
	assert_int_equal(gmem_read(m, 0x1000, out, sizeof(out)), 0);
	assert_memory_equal(out, buf, sizeof(buf));
	memset(out, 0x5a, sizeof(out));
	assert_int_equal(gmem_read(m, SIZE - 8, out, sizeof(out)), -EFAULT);
	assert_int_equal(gmem_write(m, SIZE - 8, buf, sizeof(buf)), -EFAULT);
	for (size_t i = 0; i < sizeof(out); i++) /* a failed read leaves dst alone */
		assert_int_equal(out[i], 0x5a);
}

static void init_rejects_bad_sizes(void **state)
{
	struct guest_mem m;

	(void)state;
	assert_int_equal(gmem_init(&m, 0), -EINVAL);
	assert_int_equal(gmem_init(&m, 4097), -EINVAL);
	assert_null(gmem_ptr(&m, 0, 1)); /* a failed init leaves nothing reachable */
	assert_int_equal(m.fd, -1);
}

static void memfd_backed(void **state)
{
	struct guest_mem *m = *state;
	uint8_t b = 0;

	/* The memfd and the mapping are the same memory (what snapshots will rely on). */
	m->host[12345] = 0xab;
	assert_int_equal(pread(m->fd, &b, 1, 12345), 1);
	assert_int_equal(b, 0xab);
}

/* VMM-owned ranges: the guest's door refuses every overlap, the VMM's door does not. */
static void reserved_ranges(void **state)
{
	struct guest_mem *m = *state;

	m->nr_vmm_owned = 0;
	assert_int_equal(gmem_reserve(m, 0x2000, 0x1000), 0);
	assert_null(gmem_ptr(m, 0x2000, 1));
	assert_null(gmem_ptr(m, 0x2fff, 1));
	assert_null(gmem_ptr(m, 0x1fff, 2));      /* straddles the start */
	assert_null(gmem_ptr(m, 0x2fff, 0x100));  /* straddles the end */
	assert_null(gmem_ptr(m, 0x1000, 0x3000)); /* covers it */
	assert_null(gmem_ptr(m, 0, SIZE));
	assert_ptr_equal(gmem_ptr(m, 0x1000, 0x1000), m->host + 0x1000); /* just below */
	assert_ptr_equal(gmem_ptr(m, 0x3000, 8), m->host + 0x3000);       /* just above */
	assert_null(gmem_ptr(m, 0x2800, 0));                 /* not even an empty range */
	assert_ptr_equal(gmem_ptr(m, 0x3000, 0), m->host + 0x3000);
	assert_ptr_equal(gmem_vmm_ptr(m, 0x2000, 0x1000), m->host + 0x2000);
	assert_int_equal(gmem_write(m, 0x2100, "x", 1), -EFAULT);
	/* Out of RAM, empty, or no slot left: refused. */
	assert_int_equal(gmem_reserve(m, SIZE - 4096, 8192), -EINVAL);
	assert_int_equal(gmem_reserve(m, 0x5000, 0), -EINVAL);
	for (unsigned i = 1; i < GMEM_MAX_VMM_RANGES; i++)
		assert_int_equal(gmem_reserve(m, 0x10000 * (i + 1), 4096), 0);
	assert_int_equal(gmem_reserve(m, 0x100000, 4096), -EINVAL);
	m->nr_vmm_owned = 0;
	assert_non_null(gmem_ptr(m, 0x2000, 1));
}

/* A region of 6 MiB with a hole [2 MiB, 4 MiB): two RAM ranges, the door refuses the hole
 * (a byte of it, a range across either edge, an empty range inside it), and the pages on
 * both sides are memory of their own. */
static void hole(void **state)
{
	struct guest_mem m;
	struct gmem_range r[2];
	const uint64_t M = 1u << 20;

	(void)state;
	assert_int_equal(gmem_init(&m, 6 * M), 0);
	assert_int_equal(gmem_ram_ranges(&m, r), 1);
	assert_int_equal(gmem_low_end(&m), 6 * M);
	assert_int_equal(gmem_set_hole(&m, 0, 2 * M), -EINVAL);      /* no RAM below */
	assert_int_equal(gmem_set_hole(&m, 2 * M, 6 * M), -EINVAL);  /* no RAM above */
	assert_int_equal(gmem_set_hole(&m, 4 * M, 2 * M), -EINVAL);
	assert_int_equal(gmem_set_hole(&m, 2 * M + 1, 4 * M), -EINVAL);
	assert_int_equal(gmem_set_hole(&m, 2 * M, 4 * M), 0);
	assert_int_equal(gmem_ram_ranges(&m, r), 2);
	assert_int_equal(r[0].start, 0);
	assert_int_equal(r[0].end, 2 * M);
	assert_int_equal(r[1].start, 4 * M);
	assert_int_equal(r[1].end, 6 * M);
	assert_int_equal(gmem_low_end(&m), 2 * M);
	assert_ptr_equal(gmem_ptr(&m, 2 * M - 8, 8), m.host + 2 * M - 8);
	assert_ptr_equal(gmem_ptr(&m, 4 * M, 8), m.host + 4 * M);
	assert_ptr_equal(gmem_ptr(&m, 6 * M - 1, 1), m.host + 6 * M - 1);
	assert_null(gmem_ptr(&m, 2 * M, 1));
	assert_null(gmem_ptr(&m, 3 * M, 4096));
	assert_null(gmem_ptr(&m, 4 * M - 1, 1));
	assert_null(gmem_ptr(&m, 2 * M - 8, 9));     /* across the bottom edge */
	assert_null(gmem_ptr(&m, 4 * M - 8, 16));    /* across the top edge */
	assert_null(gmem_ptr(&m, 0, 6 * M));         /* across the whole hole */
	assert_null(gmem_ptr(&m, 3 * M, 0));         /* empty, inside */
	assert_null(gmem_vmm_ptr(&m, 3 * M, 8));     /* the VMM's door too */
	assert_int_equal(gmem_write(&m, 3 * M, "x", 1), -EFAULT);
	assert_int_equal(gmem_write(&m, 4 * M, "high", 4), 0);
	assert_int_equal(gmem_write(&m, 0, "low.", 4), 0);
	assert_memory_equal(m.host + 4 * M, "high", 4);
	assert_memory_equal(m.host, "low.", 4);
	assert_int_equal(gmem_reserve(&m, 3 * M, 4096), -EINVAL);
	gmem_destroy(&m);
	assert_int_equal(m.hole_end, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ptr_in_range),
		cmocka_unit_test(ptr_out_of_range),
		cmocka_unit_test(ptr_overflow),
		cmocka_unit_test(copies),
		cmocka_unit_test(init_rejects_bad_sizes),
		cmocka_unit_test(memfd_backed),
		cmocka_unit_test(reserved_ranges),
		cmocka_unit_test(hole),
	};

	return cmocka_run_group_tests_name("guest memory", tests, setup, teardown);
}
