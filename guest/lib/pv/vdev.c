/* SPDX-License-Identifier: Apache-2.0 */
/* virtio device discovery and waiting, PV flavour: start_info and event channels. */
#include "virtio.h"

int vdev_find(uint32_t type, unsigned nth, struct vdev *d)
{
	for (unsigned i = 0; i < start_info->nr_devices && i < CAP_MAX_DEVICES; i++) {
		const struct cap_device_desc *e = &start_info->devices[i];

		if (e->type != type || nth--)
			continue;
		return vdev_at(d, e->mmio_base, (int)e->evtchn, type);
	}
	return CAP_ENOENT;
}

int vdev_wait(struct vdev *d, uint64_t deadline_ns)
{
	return evtchn_wait(d->port, deadline_ns);
}
