/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The platform device descriptor's plumbing (include/capsule/platform.h): a device is its
 * ranges on the port and MMIO buses, an optional host side to start and stop, and its
 * state as plain data for snapshots. The HVM domain keeps a table of them (src/hvm/domain.c).
 */
#include <errno.h>
#include <string.h>

#include "capsule/platform.h"
#include "capsule/vm.h"

static struct io_bus *bus_of(struct vm *vm, enum platform_bus b)
{
	return b == PLATFORM_PIO ? &vm->pio : &vm->mmio;
}

int platform_add(struct platform_dev *p, struct vm *vm, const struct platform_dev_ops *ops,
		 void *dev)
{
	*p = (struct platform_dev){.ops = ops, .dev = dev};
	for (unsigned i = 0; i < PLATFORM_MAX_RANGES && ops->ranges[i].len; i++) {
		int err = bus_register(bus_of(vm, ops->ranges[i].bus), ops->ranges[i].base,
				       ops->ranges[i].len, ops->io, dev, ops->name);

		if (err) {
			platform_remove(p, vm);
			return err;
		}
		p->on_bus++;
	}
	return 0;
}

int platform_start(struct platform_dev *p)
{
	int err = 0;

	if (!p->started && p->ops->start)
		err = p->ops->start(p->dev);
	p->started = err == 0;
	return err;
}

void platform_stop(struct platform_dev *p)
{
	if (p->started && p->ops->stop)
		p->ops->stop(p->dev);
	p->started = false;
}

void platform_remove(struct platform_dev *p, struct vm *vm)
{
	if (!p->ops)
		return;
	platform_stop(p);
	while (p->on_bus) {
		p->on_bus--;
		bus_unregister(bus_of(vm, p->ops->ranges[p->on_bus].bus),
			       p->ops->ranges[p->on_bus].base);
	}
}

size_t platform_save(const struct platform_dev *p, uint8_t *buf, size_t cap)
{
	return p->ops->save ? p->ops->save(p->dev, buf, cap) : 0;
}

int platform_restore(struct platform_dev *p, const uint8_t *buf, size_t len, const char **why)
{
	if (!p->ops->restore) {
		if (!len)
			return 0;
		*why = "the state has state for a device that keeps none";
		return -EINVAL;
	}
	return p->ops->restore(p->dev, buf, len, why);
}
