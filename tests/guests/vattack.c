/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A guest that asks its devices to write its VMM-owned pages (docs/pv-abi.md, "Guest-physical
 * ranges devices may touch"), as an attacker reaching CPL 0 would. `--cmdline ATTACK`:
 *   blk-idt      virtio-blk reads a forged IDT (every vector -> pwned) over the IDT page
 *   blk-tss      virtio-blk reads zeros over the TSS (an all-open I/O bitmap)
 *   rng-pt       virtio-rng fills the first page table with random bytes
 *   ring-idt     a virtio-rng queue whose used ring is the IDT page
 *   balloon-idt  the balloon is handed the GDT, IDT, trap code and page-table frames
 * Each device must refuse (DEVICE_NEEDS_RESET, or the balloon ignoring the frames); the
 * guest then executes ud2 (or an out to port 0x80), which Capsule's own exception stub must
 * report as a crash. Had the attack worked, pwned would power off with 99 instead.
 */
#include "virtio.h"

struct cap_hcall pwn_args = {.a = {CAP_SHUTDOWN_POWEROFF, 99}};
void pwned(void);
__asm__(".globl pwned\npwned:\n\tmov $pwn_args, %eax\n\tmov $0x503, %dx\n\tout %eax, %dx\n"
	"1:\tjmp 1b\n");

static uint8_t sector[512] __attribute__((aligned(512)));

/* Submit one raw chain and wait a second for it: true if the device completed it. */
static bool submit(struct vq *q, const struct vbuf *bufs, unsigned n)
{
	TEST_CHECK(vq_add(q, bufs, n, (void *)bufs) >= 0);
	vq_kick(q);
	return vq_wait(q, NULL, time_ns() + 1000000000ull) != NULL;
}

static bool blk_read_into(struct vblk *b, uint64_t gpa, uint32_t len)
{
	static struct virtio_blk_req_hdr hdr = {.type = VIRTIO_BLK_T_IN, .sector = 0};
	static volatile uint8_t status = 0xff;
	struct vbuf bufs[3] = {{&hdr, sizeof(hdr), false},
			       {(const void *)(uintptr_t)gpa, len, true},
			       {(const void *)&status, 1, true}};

	return submit(&b->q, bufs, 3);
}

static void refused(const char *what, struct vdev *d, bool completed)
{
	printf("%s: %s\n", what, !completed && vdev_needs_reset(d) ? "refused" : "ACCEPTED");
	TEST_CHECK(!completed && vdev_needs_reset(d));
}

static void forged_idt(void)
{
	uint64_t off = (uint64_t)(uintptr_t)pwned;

	for (unsigned v = 0; v < 32; v++) { /* 64-bit interrupt gates, DPL 3, CS = 0x08 */
		uint64_t lo = (off & 0xffff) | (0x08ull << 16) | (0xeeull << 40) |
			      ((off >> 16 & 0xffff) << 48);
		memcpy(sector + 16 * v, &lo, 8);
		memset(sector + 16 * v + 8, 0, 8);
	}
}

int main(void)
{
	const char *attack = start_info->cmdline;
	static struct vblk b;

	if (!strcmp(attack, "blk-idt") || !strcmp(attack, "blk-tss")) {
		bool idt = !strcmp(attack, "blk-idt");

		TEST_CHECK(vblk_open(&b, 0) == 0);
		if (idt)
			forged_idt();
		TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_OUT, 0, sector, 512) == VIRTIO_BLK_S_OK);
		refused(attack, &b.dev, blk_read_into(&b, idt ? CAP_GPA_IDT : CAP_GPA_TSS, 512));
		if (!idt)
			__asm__ volatile("outb %%al, $0x80" ::"a"(0));
	} else if (!strcmp(attack, "rng-pt") || !strcmp(attack, "ring-idt")) {
		static struct vdev rng;
		static struct vq q;

		TEST_CHECK(vdev_find(VIRTIO_ID_RNG, 0, &rng) == 0);
		TEST_CHECK(vdev_begin(&rng, 0) == 0);
		TEST_CHECK(vq_setup(&rng, &q, 0, 8) == 0);
		if (!strcmp(attack, "ring-idt")) { /* re-point the used ring, then go live */
			vdev_write(&rng, VIRTIO_MMIO_QUEUE_READY, 0);
			vdev_write(&rng, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)CAP_GPA_IDT);
			vdev_write(&rng, VIRTIO_MMIO_QUEUE_READY, 1);
			vdev_ready(&rng);
			struct vbuf buf = {sector, 64, true};
			refused(attack, &rng, submit(&q, &buf, 1));
		} else {
			vdev_ready(&rng);
			struct vbuf buf = {(const void *)(uintptr_t)(CAP_GPA_PAGETABLES + 0x2000),
					   4096, true};
			refused(attack, &rng, submit(&q, &buf, 1));
		}
	} else if (!strcmp(attack, "balloon-idt")) {
		static struct vballoon bl;
		static uint32_t pfns[] = {1, 2, 3, 4, 0x10, 0x60, 0x61, 0x62, 0x63};
		struct vbuf buf = {pfns, sizeof(pfns), false};

		TEST_CHECK(vballoon_open(&bl) == 0);
		TEST_CHECK(submit(&bl.inflate, &buf, 1));
		printf("%s: frames handed over\n", attack);
	} else {
		printf("unknown attack '%s'\n", attack);
		test_finish(false);
	}
	printf("%s: executing ud2\n", attack);
	__asm__ volatile("ud2");
	test_finish(false);
}
