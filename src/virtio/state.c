/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A device's state for snapshots and migration (include/capsule/virtio.h): saved as guest
 * addresses and indices, restored by rebuilding and re-checking each queue, plus the
 * device's own extras (a balloon's target and held buffer) through its save and restore
 * ops. Save a stopped device (virtio_dev_stop): nothing is then in flight.
 */
#include <errno.h>
#include <string.h>

#include "capsule/virtio.h"
#include "transport.h"

void virtio_save(struct virtio_dev *d, struct virtio_state *st)
{
	memset(st, 0, sizeof(*st));
	st->device_id = d->ops->device_id;
	st->status = d->status;
	st->dev_features_sel = d->dev_features_sel;
	st->drv_features_sel = d->drv_features_sel;
	st->queue_sel = d->queue_sel;
	st->int_status = d->int_status;
	st->config_gen = d->config_gen;
	st->driver_features = d->driver_features;
	st->broken = d->broken;
	for (unsigned q = 0; q < d->ops->num_queues; q++) {
		st->queue[q].num = d->qcfg[q].num;
		st->queue[q].desc = d->qcfg[q].desc;
		st->queue[q].avail = d->qcfg[q].avail;
		st->queue[q].used = d->qcfg[q].used;
		st->queue[q].ready = d->vq[q].ready;
		st->queue[q].last_avail = d->vq[q].last_avail;
		st->queue[q].used_idx = d->vq[q].used_idx;
		st->queue[q].signalled = d->vq[q].signalled;
	}
	memcpy(st->config, d->config, sizeof(st->config));
	if (d->ops->save)
		st->extra_len = (uint32_t)d->ops->save(d, st->extra, sizeof(st->extra));
}

int virtio_restore(struct virtio_dev *d, const struct virtio_state *st, const char **why)
{
	struct virtq vq[VIRTIO_MAX_QUEUES];

	if (st->device_id != d->ops->device_id) {
		*why = "the state is of another kind of device";
		return -EINVAL;
	}
	if (st->driver_features & ~virtio_offered(d)) {
		*why = "the state has features this device does not offer";
		return -EINVAL;
	}
	for (unsigned q = d->ops->num_queues; q < VIRTIO_MAX_QUEUES; q++)
		if (st->queue[q].num || st->queue[q].ready) {
			*why = "the state has a queue this device does not have";
			return -EINVAL;
		}
	/* Every live queue is checked before anything changes. */
	for (unsigned q = 0; q < d->ops->num_queues; q++) {
		memset(&vq[q], 0, sizeof(vq[q]));
		if (!st->queue[q].ready)
			continue;
		if (vq_init(&vq[q], d->mem, st->queue[q].num, st->queue[q].desc,
			    st->queue[q].avail, st->queue[q].used,
			    st->driver_features & (1ull << VIRTIO_F_EVENT_IDX),
			    st->driver_features & (1ull << VIRTIO_F_INDIRECT_DESC), why))
			return -EINVAL;
		vq[q].last_avail = st->queue[q].last_avail;
		vq[q].used_idx = st->queue[q].used_idx;
		vq[q].signalled = st->queue[q].signalled;
	}
	if (st->extra_len > sizeof(st->extra) || (st->extra_len && !d->ops->restore)) {
		*why = "the state has more of the device's own state than this device keeps";
		return -EINVAL;
	}
	/* The device's extras last among the checks: they apply themselves if valid. */
	if (d->ops->restore && d->ops->restore(d, st->extra, st->extra_len, why))
		return -EINVAL;
	d->status = st->status;
	d->dev_features_sel = st->dev_features_sel;
	d->drv_features_sel = st->drv_features_sel;
	d->queue_sel = st->queue_sel;
	d->int_status = st->int_status;
	d->config_gen = st->config_gen;
	d->driver_features = st->driver_features;
	d->broken = st->broken;
	for (unsigned q = 0; q < d->ops->num_queues; q++) {
		d->qcfg[q].num = st->queue[q].num;
		d->qcfg[q].desc = st->queue[q].desc;
		d->qcfg[q].avail = st->queue[q].avail;
		d->qcfg[q].used = st->queue[q].used;
		d->vq[q] = vq[q];
	}
	memcpy(d->config, st->config, sizeof(d->config));
	return 0;
}
