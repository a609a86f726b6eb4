/* Device options of `capsule run`: backends are opened once, devices made at every boot. */
#include <stdio.h>
#include <unistd.h>

#include "capsule/cli.h"
#include "capsule/log.h"

int devices_add_disk(struct run_devices *rd, const char *spec)
{
	char err[256];

	if (rd->nr_disks == MAX_DISKS) {
		fprintf(stderr, "capsule run: at most %d --disk options\n", MAX_DISKS);
		return -1;
	}
	rd->disks[rd->nr_disks] = blk_open(spec, err, sizeof(err));
	if (!rd->disks[rd->nr_disks]) {
		fprintf(stderr, "capsule run: %s\n", err);
		return -1;
	}
	rd->nr_disks++;
	return 0;
}

int devices_add_net(struct run_devices *rd, const char *spec)
{
	char err[256];

	if (rd->net) {
		fprintf(stderr, "capsule run: only one --net is supported\n");
		return -1;
	}
	rd->net = net_open(spec, err, sizeof(err));
	if (!rd->net) {
		fprintf(stderr, "capsule run: %s\n", err);
		return -1;
	}
	return 0;
}

int devices_add_balloon(struct run_devices *rd, const char *mib)
{
	uint64_t v;

	if (parse_u64("--balloon", mib, 0, PV_MAX_MEM >> 20, &v))
		return -1;
	balloon_close(rd->balloon);
	rd->balloon = balloon_open(v);
	return rd->balloon ? 0 : -1;
}

static struct virtio_dev *add(struct run_devices *rd, add_device_fn fn, void *domain,
			      const struct virtio_dev_ops *ops, void *priv)
{
	struct virtio_dev *d = fn(domain, ops, priv);

	if (d)
		rd->active[rd->nr_active++] = d;
	return d;
}

int devices_attach(struct run_devices *rd, add_device_fn fn, void *domain)
{
	struct virtio_dev *d;

	rd->nr_active = 0;
	for (unsigned i = 0; i < rd->nr_disks; i++) {
		if (!(d = add(rd, fn, domain, &virtio_blk_ops, rd->disks[i])))
			return -1;
		blk_init_config(rd->disks[i], d);
	}
	if (rd->net) {
		if (!(d = add(rd, fn, domain, &virtio_net_ops, rd->net)))
			return -1;
		net_init_config(rd->net, d);
	}
	if (rd->console && !add(rd, fn, domain, &virtio_console_ops, rd->console))
		return -1;
	if (rd->rng && !add(rd, fn, domain, &virtio_rng_ops, NULL))
		return -1;
	if (rd->balloon) {
		if (!(rd->balloon_dev = add(rd, fn, domain, &virtio_balloon_ops, rd->balloon)))
			return -1;
		balloon_start(rd->balloon, rd->balloon_dev);
	}
	return 0;
}

void devices_start(struct run_devices *rd)
{
	for (unsigned i = 0; i < rd->nr_active; i++) {
		struct virtio_dev *d = rd->active[i];

		if (d->ops == &virtio_net_ops)
			net_start(rd->net, d);
		else if (d->ops == &virtio_console_ops)
			console_start(rd->console, d);
	}
}

void devices_detach(struct run_devices *rd)
{
	net_stop(rd->net);
	console_stop(rd->console);
	rd->balloon_dev = NULL; /* active[] stays for the statistics; attach resets it */
}

void devices_close(struct run_devices *rd)
{
	devices_detach(rd);
	for (unsigned i = 0; i < rd->nr_disks; i++)
		blk_close(rd->disks[i]);
	net_close(rd->net);
	console_close(rd->console);
	balloon_close(rd->balloon);
}

void devices_print_stats(const struct run_devices *rd)
{
	for (unsigned i = 0; i < rd->nr_active; i++) {
		const struct virtio_dev *d = rd->active[i];
		const struct virtio_stats *s = &d->stats;

		fprintf(stderr,
			"capsule: stats: %s: %llu requests, %llu kicks (%.1f requests per kick), "
			"%llu interrupts\n",
			d->ops->name, (unsigned long long)s->requests, (unsigned long long)s->kicks,
			s->kicks ? (double)s->requests / (double)s->kicks : 0.0,
			(unsigned long long)s->interrupts);
	}
}
