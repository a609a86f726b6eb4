/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules: R-DEV-3 R-DEV-4 R-DEV-5 R-EV-13
 * What devices may touch, through a minimal virtio-mmio driver (xtf_virtio.c): rings and
 * buffers in VMM-owned pages put the device in DEVICE_NEEDS_RESET, the balloon ignores
 * frames below 1 MiB, and the guest's own pages below 1 MiB work like any RAM. Run with
 * --rng (part=ring, buffer, guestlow) or --balloon 0 (part=balloon).
 */
#include "xtf.h"

const char test_title[] = "guest-physical ranges devices may touch";

#define MS 1000000ull

static struct xv_queue vq;
static uint8_t buf[64] __attribute__((aligned(64)));

static int rng(void)
{
	int d = xv_find(XV_ID_RNG);

	if (d < 0)
		xtf_skip("run with --rng");
	return d;
}

static void post_one(unsigned d, struct xv_queue *q, uint64_t addr, uint32_t len, uint16_t flags)
{
	q->desc[0] = (struct xv_desc){.addr = addr, .len = len, .flags = flags};
	xv_post(d, 0, &q->avail, 0);
}

/* A ring in VMM-owned pages: the device refuses the queue and needs a reset. */
static void ring_vmm(void)
{
	unsigned d = (unsigned)rng();
	const uint64_t at[][3] = {
		{CAP_GPA_GDT, (uintptr_t)&vq.avail, (uintptr_t)&vq.used},     /* descriptors */
		{(uintptr_t)vq.desc, CAP_GPA_IDT, (uintptr_t)&vq.used},       /* available ring */
		{(uintptr_t)vq.desc, (uintptr_t)&vq.avail, CAP_GPA_PAGETABLES}, /* used ring */
		{(uintptr_t)vq.desc, (uintptr_t)&vq.avail, 0x9f000},          /* unused VMM page */
	};

	for (unsigned i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		CHECK(xv_begin(d, 0));
		xv_queue_at(d, 0, at[i][0], at[i][1], at[i][2]);
		if (!(xv_read(d, XV_STATUS) & XV_S_NEEDS_RESET))
			xtf_fail(__FILE__, __LINE__, "queue %u at VMM pages accepted", i);
	}
	/* After a reset the device works again, with rings of our own. */
	memset(&vq, 0, sizeof(vq));
	CHECK(xv_begin(d, 0));
	xv_queue_at(d, 0, (uintptr_t)vq.desc, (uintptr_t)&vq.avail, (uintptr_t)&vq.used);
	xv_write(d, XV_STATUS, XV_S_ACKNOWLEDGE | XV_S_DRIVER | XV_S_FEATURES_OK | XV_S_DRIVER_OK);
	CHECK(!(xv_read(d, XV_STATUS) & XV_S_NEEDS_RESET));
	post_one(d, &vq, (uintptr_t)buf, sizeof(buf), XV_DESC_F_WRITE);
	CHECK_EQ(xv_wait(d, &vq.used, 1, 5000 * MS), 1);
}

/* A buffer, or an indirect table, in VMM-owned pages: needs a reset on use. */
static void buffer_vmm(void)
{
	unsigned d = (unsigned)rng();
	static const uint64_t targets[] = {CAP_GPA_IDT, CAP_GPA_TRAP_STACKS, 0xff000};

	for (unsigned i = 0; i < sizeof(targets) / sizeof(targets[0]) + 1; i++) {
		bool indirect = i == sizeof(targets) / sizeof(targets[0]);

		memset(&vq, 0, sizeof(vq));
		CHECK(xv_begin(d, indirect ? XV_F_INDIRECT_DESC : 0));
		xv_queue_at(d, 0, (uintptr_t)vq.desc, (uintptr_t)&vq.avail, (uintptr_t)&vq.used);
		xv_write(d, XV_STATUS,
			 XV_S_ACKNOWLEDGE | XV_S_DRIVER | XV_S_FEATURES_OK | XV_S_DRIVER_OK);
		if (indirect) /* a table of one descriptor, in the VMM's exception stubs */
			post_one(d, &vq, CAP_GPA_TRAP_CODE, 16, XV_DESC_F_INDIRECT);
		else
			post_one(d, &vq, targets[i], 16, XV_DESC_F_WRITE);
		if (xv_wait(d, &vq.used, 1, 2000 * MS) != -1)
			xtf_fail(__FILE__, __LINE__, "%s at VMM page 0x%llx accepted",
				 indirect ? "indirect table" : "buffer",
				 (unsigned long long)(indirect ? CAP_GPA_TRAP_CODE : targets[i]));
	}
}

/* Rings and buffers in the console pages and start_info's page (R-DEV-5); the device's
 * port is raised for vCPU 0 when it is done (R-EV-13). */
static void guest_low(void)
{
	unsigned d = (unsigned)rng(), port = si->devices[d].evtchn;
	uint64_t low = CAP_GPA_CONSOLE + 0x2100; /* past the ring, inside the console pages */
	struct xv_desc *desc = (struct xv_desc *)(uintptr_t)low;
	struct xv_avail *avail = (struct xv_avail *)(uintptr_t)(low + 0x100);
	struct xv_used *used = (struct xv_used *)(uintptr_t)(low + 0x200);
	uint8_t *b1 = (uint8_t *)(uintptr_t)(low + 0x400), *b2 = (uint8_t *)(uintptr_t)0x50800;
	unsigned nonzero = 0;

	memset(desc, 0, 0x300);
	memset(b1, 0, 64);
	memset(b2, 0, 64);
	ev_test_and_clear(port);
	CHECK(xv_begin(d, 0));
	xv_queue_at(d, 0, (uintptr_t)desc, (uintptr_t)avail, (uintptr_t)used);
	xv_write(d, XV_STATUS, XV_S_ACKNOWLEDGE | XV_S_DRIVER | XV_S_FEATURES_OK | XV_S_DRIVER_OK);
	CHECK(!(xv_read(d, XV_STATUS) & XV_S_NEEDS_RESET));
	desc[0] = (struct xv_desc){.addr = (uintptr_t)b1, .len = 32,
				   .flags = XV_DESC_F_WRITE | XV_DESC_F_NEXT, .next = 1};
	desc[1] = (struct xv_desc){.addr = (uintptr_t)b2, .len = 32, .flags = XV_DESC_F_WRITE};
	xv_post(d, 0, avail, 0);
	CHECK_EQ(xv_wait(d, used, 1, 5000 * MS), 1);
	for (int i = 0; i < 32; i++)
		nonzero += (b1[i] != 0) + (b2[i] != 0);
	CHECK(nonzero > 8); /* 64 random bytes are not mostly zero */
	CHECK(used->ring[0].len > 0);
	CHECK(hc1(CAP_HC_BLOCK, now_ns() + 2000 * MS) == 1 && ev_pending(port));
	CHECK(shared->vcpu[0].notified);
}

/* Inflate frames below 1 MiB and one of free RAM: only the free one is released. */
static void balloon(void)
{
	int d = xv_find(XV_ID_BALLOON);
	uint64_t page = (si->free_start + 0xffff) & ~0xffffull;
	volatile uint64_t *free_page = (volatile uint64_t *)(uintptr_t)page;
	volatile uint64_t *si_spare = (volatile uint64_t *)(uintptr_t)(CAP_GPA_START_INFO + 0x800);
	volatile uint64_t *con_spare = (volatile uint64_t *)(uintptr_t)(CAP_GPA_CONSOLE + 0x2800);
	static uint32_t pfns[8] __attribute__((aligned(64)));

	static struct cap_start_info copy;

	if (d < 0)
		xtf_skip("run with --balloon 0");
	/* Work from a copy: a balloon that wrongly released start_info must fail the checks
	 * below, not crash the driver. */
	copy = *si;
	si = &copy;
	*free_page = 0xf4ee;
	*si_spare = 0x51;
	*con_spare = 0x52;
	pfns[0] = (uint32_t)(page >> 12);
	pfns[1] = CAP_GPA_START_INFO >> 12;
	pfns[2] = (CAP_GPA_CONSOLE >> 12) + 2;
	pfns[3] = CAP_GPA_GDT >> 12;
	pfns[4] = CAP_GPA_PAGETABLES >> 12;
	pfns[5] = (CAP_GPA_PAGETABLES >> 12) + 1;
	pfns[6] = 0xff;
	pfns[7] = 0;
	memset(&vq, 0, sizeof(vq));
	CHECK(xv_begin((unsigned)d, 0));
	xv_queue_at((unsigned)d, 0, (uintptr_t)vq.desc, (uintptr_t)&vq.avail, (uintptr_t)&vq.used);
	xv_write((unsigned)d, XV_STATUS,
		 XV_S_ACKNOWLEDGE | XV_S_DRIVER | XV_S_FEATURES_OK | XV_S_DRIVER_OK);
	post_one((unsigned)d, &vq, (uintptr_t)pfns, sizeof(pfns), 0);
	CHECK_EQ(xv_wait((unsigned)d, &vq.used, 1, 5000 * MS), 1);
	CHECK_EQ(*free_page, 0);   /* released: it comes back zero */
	CHECK_EQ(*si_spare, 0x51); /* below 1 MiB: left alone, guest pages too */
	CHECK_EQ(*con_spare, 0x52);
	CHECK_EQ(((struct cap_start_info *)(uintptr_t)CAP_GPA_START_INFO)->magic, CAP_START_MAGIC);
	/* The page tables, GDT and IDT are intact, or this vCPU could not have got here:
	 * exercise them once more through a TLB-missing walk of fresh memory. */
	for (uint64_t a = si->free_start + (4u << 20); a < si->free_start + (8u << 20); a += 4096)
		*(volatile uint8_t *)(uintptr_t)a = 1;
}

void test_main(void)
{
	char part[16];

	if (!xtf_arg("part", part, sizeof(part)))
		xtf_skip("no part= on the command line");
	if (!strcmp(part, "ring"))
		ring_vmm();
	else if (!strcmp(part, "buffer"))
		buffer_vmm();
	else if (!strcmp(part, "guestlow"))
		guest_low();
	else if (!strcmp(part, "balloon"))
		balloon();
	else
		xtf_skip("unknown part");
}
