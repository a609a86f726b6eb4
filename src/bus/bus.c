/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "capsule/bus.h"

void bus_init(struct io_bus *bus)
{
	memset(bus, 0, sizeof(*bus));
}

int bus_register(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn fn,
		 void *opaque, const char *name)
{
	unsigned i;

	if (len == 0 || base + len < base || !fn)
		return -EINVAL;
	if (bus->count == IO_BUS_MAX_RANGES)
		return -ENOSPC;
	/* Find the insertion point; the neighbours on both sides must not overlap. */
	for (i = 0; i < bus->count && bus->ranges[i].base < base; i++)
		;
	if (i > 0 && bus->ranges[i - 1].base + bus->ranges[i - 1].len > base)
		return -EEXIST;
	if (i < bus->count && base + len > bus->ranges[i].base)
		return -EEXIST;
	memmove(&bus->ranges[i + 1], &bus->ranges[i], (bus->count - i) * sizeof(bus->ranges[0]));
	bus->ranges[i] = (struct io_range){base, len, fn, opaque, name};
	bus->count++;
	return 0;
}

int bus_unregister(struct io_bus *bus, uint64_t base)
{
	for (unsigned i = 0; i < bus->count; i++)
		if (bus->ranges[i].base == base) {
			memmove(&bus->ranges[i], &bus->ranges[i + 1],
				(bus->count - i - 1) * sizeof(bus->ranges[0]));
			bus->count--;
			return 0;
		}
	return -ENOENT;
}

const struct io_range *bus_find(const struct io_bus *bus, uint64_t addr, uint32_t len)
{
	unsigned lo = 0, hi = bus->count;

	if (len == 0 || addr + len < addr)
		return NULL;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct io_range *r = &bus->ranges[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else /* addr is inside r: the whole access must be too */
			return len <= r->len - (addr - r->base) ? r : NULL;
	}
	return NULL;
}
