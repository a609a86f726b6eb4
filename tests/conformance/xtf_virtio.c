/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A minimal virtio-mmio driver for the device rules (R-DEV-*): find a device in
 * start_info, negotiate VERSION_1, place a split queue wherever the test says, post one
 * chain and wait. Registers are 32-bit accesses to the device's page in the window after
 * RAM (docs/pv-abi.md, "Devices").
 */
#include "xtf.h"

int xv_find(uint32_t type)
{
	for (unsigned i = 0; i < si->nr_devices && i < CAP_MAX_DEVICES; i++)
		if (si->devices[i].type == type)
			return (int)i;
	return -1;
}

static volatile uint32_t *reg(unsigned dev, unsigned off)
{
	return (volatile uint32_t *)(uintptr_t)(si->devices[dev].mmio_base + off);
}

uint32_t xv_read(unsigned dev, unsigned off)
{
	return *reg(dev, off);
}

void xv_write(unsigned dev, unsigned off, uint32_t v)
{
	*reg(dev, off) = v;
}

bool xv_begin(unsigned dev, uint32_t lo)
{
	xv_write(dev, XV_STATUS, 0);
	xv_write(dev, XV_STATUS, XV_S_ACKNOWLEDGE | XV_S_DRIVER);
	xv_write(dev, XV_DRIVER_FEATURES_SEL, 1);
	xv_write(dev, XV_DRIVER_FEATURES, 1); /* VIRTIO_F_VERSION_1 is feature bit 32 */
	xv_write(dev, XV_DRIVER_FEATURES_SEL, 0);
	xv_write(dev, XV_DRIVER_FEATURES, lo);
	xv_write(dev, XV_STATUS, XV_S_ACKNOWLEDGE | XV_S_DRIVER | XV_S_FEATURES_OK);
	return xv_read(dev, XV_STATUS) & XV_S_FEATURES_OK;
}

void xv_queue_at(unsigned dev, unsigned q, uint64_t desc, uint64_t avail, uint64_t used)
{
	xv_write(dev, XV_QUEUE_SEL, q);
	xv_write(dev, XV_QUEUE_NUM, XV_QSIZE);
	xv_write(dev, XV_QUEUE_DESC, (uint32_t)desc);
	xv_write(dev, XV_QUEUE_DESC + 4, (uint32_t)(desc >> 32));
	xv_write(dev, XV_QUEUE_AVAIL, (uint32_t)avail);
	xv_write(dev, XV_QUEUE_AVAIL + 4, (uint32_t)(avail >> 32));
	xv_write(dev, XV_QUEUE_USED, (uint32_t)used);
	xv_write(dev, XV_QUEUE_USED + 4, (uint32_t)(used >> 32));
	xv_write(dev, XV_QUEUE_READY, 1);
}

void xv_post(unsigned dev, unsigned q, volatile struct xv_avail *avail, uint16_t head)
{
	uint16_t idx = avail->idx;

	avail->ring[idx % XV_QSIZE] = head;
	__atomic_store_n(&avail->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
	xv_write(dev, XV_QUEUE_NOTIFY, q);
}

int xv_wait(unsigned dev, volatile struct xv_used *used, uint16_t idx, uint64_t timeout_ns)
{
	uint64_t end = now_ns() + timeout_ns;

	for (;;) {
		if (__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE) == idx)
			return 1;
		if (xv_read(dev, XV_STATUS) & XV_S_NEEDS_RESET)
			return -1;
		if (now_ns() > end)
			return 0;
		hc0(CAP_HC_YIELD);
	}
}
