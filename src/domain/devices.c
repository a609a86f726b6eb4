/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device table: every kind of device a domain can have, one row each. The CLI's
 * options, --help, the configuration checks and the domain's boot all read it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsule/devices.h"
#include "capsule/domain.h"

static void *disk_open(const char *arg, char *err, size_t len)
{
	return blk_open(arg, err, len);
}

static struct virtio_dev *disk_attach(struct domain *d, void *b)
{
	struct virtio_dev *dev = d->ops->add_device(d, &virtio_blk_ops, b);

	if (dev)
		blk_init_config(b, dev);
	return dev;
}

static void disk_close(void *b)
{
	blk_close(b);
}

static void blk_io_of(const void *b, struct dev_io *out)
{
	blk_io(b, out);
}

static void net_io_of(const void *n, struct dev_io *out)
{
	net_io(n, out);
}

static void *net_open_spec(const char *arg, char *err, size_t len)
{
	return net_open(arg, err, len);
}

static struct virtio_dev *net_attach(struct domain *d, void *n)
{
	struct virtio_dev *dev = d->ops->add_device(d, net_device_ops(n), n);

	if (dev)
		net_init_config(n, dev);
	return dev;
}

static void net_close_dev(void *n)
{
	net_close(n);
}

/* virtio-rng has no backend state: a marker stands for it. */
static char rng_marker;

static void *rng_open(const char *arg, char *err, size_t len)
{
	(void)arg, (void)err, (void)len;
	return &rng_marker;
}

static struct virtio_dev *rng_attach(struct domain *d, void *b)
{
	(void)b;
	return d->ops->add_device(d, &virtio_rng_ops, NULL);
}

static void rng_close(void *b)
{
	(void)b;
}

static void *console_open_dev(const char *arg, char *err, size_t len)
{
	void *c = console_open(0, stdout);

	(void)arg;
	if (!c)
		snprintf(err, len, "--virtio-console: out of memory");
	return c;
}

static struct virtio_dev *console_attach(struct domain *d, void *c)
{
	struct virtio_dev *dev = d->ops->add_device(d, &virtio_console_ops, c);

	if (dev)
		console_init_config(dev);
	return dev;
}

static void console_close_dev(void *c)
{
	console_close(c);
}

static void *balloon_open_dev(const char *arg, char *err, size_t len)
{
	char *end;
	unsigned long long mib = strtoull(arg, &end, 10);
	void *b;

	if (!*arg || *end || strspn(arg, "0123456789") != strlen(arg) || mib > (PV_MAX_MEM >> 20)) {
		snprintf(err, len, "--balloon expects a number from 0 to %llu (MiB), got '%s'",
			 (unsigned long long)(PV_MAX_MEM >> 20), arg);
		return NULL;
	}
	b = balloon_open(mib);
	if (!b)
		snprintf(err, len, "--balloon: out of memory");
	return b;
}

static struct virtio_dev *balloon_attach(struct domain *d, void *b)
{
	struct virtio_dev *dev = d->ops->add_device(d, &virtio_balloon_ops, b);

	if (dev) {
		balloon_start(b, dev);
		d->balloon = dev;
	}
	return dev;
}

static void balloon_close_dev(void *b)
{
	balloon_close(b);
}

static const struct device_kind disk = {
	.name = "disk", .option = "--disk", .has_arg = true, .max = 8,
	.usage = "PATH[,readonly][,serial=ID][,direct=on][,queues=N]   virtio-blk on a raw image (up to 8)",
	.open = disk_open, .attach = disk_attach, .close = disk_close, .io = blk_io_of,
};
static const struct device_kind net = {
	.name = "net", .option = "--net", .has_arg = true, .max = 1,
	.usage = "tap=NAME[,mac=MAC][,queues=N] virtio-net on a TAP device",
	.open = net_open_spec, .attach = net_attach, .close = net_close_dev, .io = net_io_of,
};
static const struct device_kind rng = {
	.name = "rng", .option = "--rng", .max = 1,
	.usage = "                              virtio-rng from getrandom()",
	.open = rng_open, .attach = rng_attach, .close = rng_close,
};
static const struct device_kind console = {
	.name = "virtio-console", .option = "--virtio-console", .max = 1,
	.usage = "                   virtio-console on stdin/stdout",
	.open = console_open_dev, .attach = console_attach, .close = console_close_dev,
};
static const struct device_kind balloon = {
	.name = "balloon", .option = "--balloon", .has_arg = true, .max = 1,
	.usage = "MiB                        virtio-balloon, initial target MiB",
	.open = balloon_open_dev, .attach = balloon_attach, .close = balloon_close_dev,
};

/* The order of the table is the order devices get their slots at every boot. */
const struct device_kind *const device_kinds[] = {&disk, &net, &console, &rng, &balloon, NULL};

const struct device_kind *device_kind_by_option(const char *option)
{
	for (unsigned i = 0; device_kinds[i]; i++)
		if (!strcmp(device_kinds[i]->option, option))
			return device_kinds[i];
	return NULL;
}

const struct device_kind *device_kind_by_name(const char *name)
{
	for (unsigned i = 0; device_kinds[i]; i++)
		if (!strcmp(device_kinds[i]->name, name))
			return device_kinds[i];
	return NULL;
}

void device_kinds_usage(FILE *out)
{
	for (unsigned i = 0; device_kinds[i]; i++)
		fprintf(out, "      %s %s\n", device_kinds[i]->option, device_kinds[i]->usage);
}
