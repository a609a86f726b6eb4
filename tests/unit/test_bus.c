/* SPDX-License-Identifier: Apache-2.0 */
/* The I/O bus: registration rules and lookup of whole accesses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "capsule/bus.h"

static enum exit_action handler(struct vcpu *v, void *opaque, uint64_t addr, uint8_t *data,
				uint32_t len, bool is_write)
{
	(void)v, (void)opaque, (void)addr, (void)data, (void)len, (void)is_write;
	return EXIT_CONTINUE;
}

static void register_and_find(void **state)
{
	struct io_bus bus;
	int a, b;

	(void)state;
	bus_init(&bus);
	assert_int_equal(bus_register(&bus, 0x3f8, 8, handler, &a, "uart"), 0);
	assert_int_equal(bus_register(&bus, 0x500, 16, handler, &b, "hc"), 0);
	assert_int_equal(bus_register(&bus, 0x100, 1, handler, NULL, "low"), 0);
	assert_ptr_equal(bus_find(&bus, 0x3f8, 1)->opaque, &a);
	assert_ptr_equal(bus_find(&bus, 0x3ff, 1)->opaque, &a);
	assert_ptr_equal(bus_find(&bus, 0x3fc, 4)->opaque, &a);
	assert_ptr_equal(bus_find(&bus, 0x50f, 1)->opaque, &b);
	assert_string_equal(bus_find(&bus, 0x100, 1)->name, "low");
	/* sorted whatever the order of registration */
	assert_true(bus.ranges[0].base < bus.ranges[1].base);
	assert_true(bus.ranges[1].base < bus.ranges[2].base);
}

static void unregister(void **state)
{
	struct io_bus bus;
	int a, b;

	(void)state;
	bus_init(&bus);
	assert_int_equal(bus_register(&bus, 0x1000, 0x200, handler, &a, "dev0"), 0);
	assert_int_equal(bus_register(&bus, 0x1200, 0x200, handler, &b, "dev1"), 0);
	assert_int_equal(bus_unregister(&bus, 0x1000), 0);
	assert_null(bus_find(&bus, 0x1000, 4));
	assert_ptr_equal(bus_find(&bus, 0x1200, 4)->opaque, &b);
	assert_int_equal(bus_unregister(&bus, 0x1000), -ENOENT);
	assert_int_equal(bus_unregister(&bus, 0x1201), -ENOENT); /* only by its base */
	/* The range is free again. */
	assert_int_equal(bus_register(&bus, 0x1000, 0x200, handler, &a, "dev0"), 0);
	assert_int_equal(bus.count, 2);
}

static void find_misses(void **state)
{
	struct io_bus bus;

	(void)state;
	bus_init(&bus);
	assert_int_equal(bus_register(&bus, 0x3f8, 8, handler, NULL, "uart"), 0);
	assert_null(bus_find(&bus, 0x3f7, 1));
	assert_null(bus_find(&bus, 0x400, 1));
	assert_null(bus_find(&bus, 0x3fe, 4)); /* straddles the end */
	assert_null(bus_find(&bus, 0x3f6, 4)); /* straddles the start */
	assert_null(bus_find(&bus, 0x3f8, 0));
	assert_null(bus_find(&bus, UINT64_MAX, 2)); /* wraps */
}

static void overlaps_refused(void **state)
{
	struct io_bus bus;

	(void)state;
	bus_init(&bus);
	assert_int_equal(bus_register(&bus, 0x1000, 0x100, handler, NULL, "a"), 0);
	assert_int_equal(bus_register(&bus, 0x1000, 1, handler, NULL, "same"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x10ff, 1, handler, NULL, "last"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0xfff, 2, handler, NULL, "before"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0xf00, 0x300, handler, NULL, "cover"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x1100, 1, handler, NULL, "after"), 0);
	assert_int_equal(bus_register(&bus, 0xfff, 1, handler, NULL, "just before"), 0);
	assert_int_equal(bus.count, 3);
}

static void bad_ranges_refused(void **state)
{
	struct io_bus bus;

	(void)state;
	bus_init(&bus);
	assert_int_equal(bus_register(&bus, 0x10, 0, handler, NULL, "empty"), -EINVAL);
	assert_int_equal(bus_register(&bus, UINT64_MAX, 2, handler, NULL, "wrap"), -EINVAL);
	assert_int_equal(bus_register(&bus, 0x10, 1, NULL, NULL, "nofn"), -EINVAL);
	for (unsigned i = 0; i < IO_BUS_MAX_RANGES; i++)
		assert_int_equal(bus_register(&bus, i * 16, 16, handler, NULL, "r"), 0);
	assert_int_equal(bus_register(&bus, 0x100000, 1, handler, NULL, "full"), -ENOSPC);
	for (unsigned i = 0; i < IO_BUS_MAX_RANGES; i++)
		assert_non_null(bus_find(&bus, i * 16 + 15, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(register_and_find),
		cmocka_unit_test(find_misses),
		cmocka_unit_test(unregister),
		cmocka_unit_test(overlaps_refused),
		cmocka_unit_test(bad_ranges_refused),
	};

	return cmocka_run_group_tests_name("io bus", tests, NULL, NULL);
}
