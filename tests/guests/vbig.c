/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Requests far larger than a device should serve, as a hostile driver sends them.
 * `--cmdline CASE`:
 *   rng-flood    one kick queues 256 virtio-rng chains of 256 overlapping 32 MiB segments
 *                (indirect), then powers off: the domain must end promptly
 *   rng-flood-spin  the same, then spins: --timeout and SIGTERM must end it promptly
 *   rng-partial  one 1 MiB rng buffer is filled only up to the device's cap, and says so
 *   blk-limits   virtio-blk: a segment over size_max, more segments than seg_max, and a
 *                huge overlapping write all fail with IOERR; a request of exactly seg_max
 *                segments of size_max succeeds and the whole of it reaches the image
 *                (the host checks the file)
 *   cons-flood   virtio-console output for ever, to a host that stopped reading it
 *   blk-enospc   writes until the host's file system is full: the write it cuts short
 *                fails with IOERR (the host checks that every acknowledged one landed)
 */
#include "virtio.h"

#define MIB (1u << 20)

static struct virtq_desc tables[256][256] __attribute__((aligned(16)));
static uint8_t chunk[128 << 10] __attribute__((aligned(4096)));

static void rng_flood(bool spin)
{
	static struct vdev rng;
	static struct vq q;

	TEST_CHECK(vdev_find(VIRTIO_ID_RNG, 0, &rng) == 0);
	TEST_CHECK(vdev_begin(&rng, 1ull << VIRTIO_F_INDIRECT_DESC) == 0);
	TEST_CHECK(vq_setup(&rng, &q, 0, 256) == 0);
	vdev_ready(&rng);
	/* Half-way up RAM, away from the rings and the stack, written over and over: 8 GiB
	 * per chain (run with --mem 256). */
	uint64_t target = start_info->mem_bytes / 2;

	TEST_CHECK(target + 32 * MIB <= start_info->free_end);
	for (unsigned c = 0; c < 256; c++) {
		for (unsigned s = 0; s < 256; s++)
			tables[c][s] = (struct virtq_desc){
				.addr = target, .len = 32 * MIB,
				.flags = VIRTQ_DESC_F_WRITE | (s < 255 ? VIRTQ_DESC_F_NEXT : 0),
				.next = (uint16_t)(s + 1)};
		struct vbuf ind = {tables[c], sizeof(tables[c]), false};
		int head = vq_add(&q, &ind, 1, tables[c]);

		TEST_CHECK(head >= 0);
		q.desc[head].flags = VIRTQ_DESC_F_INDIRECT; /* published, but not yet kicked */
	}
	vq_kick(&q);
	sleep_ns(300000000ull); /* the device thread is deep in the flood now */
	printf("rng-flood: queued 256 chains of 8 GiB; %s\n", spin ? "spinning" : "powering off");
	if (spin) /* until --timeout or a signal ends the domain */
		for (;;)
			__asm__ volatile("pause");
	poweroff(0);
}

static void rng_partial(void)
{
	static struct vdev rng;
	static struct vq q;
	uint8_t *buf = memalign(4096, MIB);
	int got;

	TEST_CHECK(buf != NULL);
	TEST_CHECK(vdev_find(VIRTIO_ID_RNG, 0, &rng) == 0);
	TEST_CHECK(vdev_begin(&rng, 0) == 0);
	TEST_CHECK(vq_setup(&rng, &q, 0, 8) == 0);
	vdev_ready(&rng);
	memset(buf, 0, MIB);
	got = vrng_read(&q, buf, MIB);
	printf("rng-partial: asked for 1 MiB, got %d bytes\n", got);
	TEST_CHECK(got > 0 && got < (int)MIB);
	for (unsigned i = (unsigned)got; i < MIB; i++)
		TEST_CHECK(buf[i] == 0); /* nothing beyond what the used length says */
	test_finish(true);
}

/* One raw request: header, `nseg` data segments of `len` bytes at `data`, status. */
static uint8_t blk_raw(struct vblk *b, uint32_t type, uint64_t sector, void *data, uint32_t len,
		       unsigned nseg)
{
	static struct virtio_blk_req_hdr hdr;
	static volatile uint8_t status;
	static struct vbuf bufs[258];
	unsigned n = 0;

	hdr = (struct virtio_blk_req_hdr){.type = type, .sector = sector};
	status = 0xff;
	bufs[n++] = (struct vbuf){&hdr, sizeof(hdr), false};
	for (unsigned i = 0; i < nseg; i++)
		bufs[n++] = (struct vbuf){data, len, type == VIRTIO_BLK_T_IN};
	bufs[n++] = (struct vbuf){(const void *)&status, 1, true};
	TEST_CHECK(vq_add(&b->q, bufs, n, &hdr) >= 0);
	vq_kick(&b->q);
	TEST_CHECK(vq_wait(&b->q, NULL, time_ns() + 30000000000ull) == &hdr);
	return status;
}

static void blk_limits(void)
{
	static struct vblk b;
	uint32_t size_max, seg_max;

	TEST_CHECK(vblk_open(&b, 0) == 0);
	size_max = vdev_read(&b.dev, VIRTIO_MMIO_CONFIG + 8);
	seg_max = vdev_read(&b.dev, VIRTIO_MMIO_CONFIG + 12);
	printf("blk-limits: size_max %u, seg_max %u\n", size_max, seg_max);
	TEST_CHECK(size_max == sizeof(chunk) && seg_max >= 2 && seg_max <= 200);
	for (unsigned i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)(i * 7 + i / 4096);
	/* 0x17FFFF000 bytes in 246 overlapping segments: refused, not half done. */
	TEST_CHECK(blk_raw(&b, VIRTIO_BLK_T_OUT, 0, (void *)(uintptr_t)(2 * MIB), 26188800u, 246) ==
		   VIRTIO_BLK_S_IOERR);
	TEST_CHECK(blk_raw(&b, VIRTIO_BLK_T_OUT, 0, chunk, size_max + 512, 1) == VIRTIO_BLK_S_IOERR);
	TEST_CHECK(blk_raw(&b, VIRTIO_BLK_T_IN, 0, chunk, size_max + 512, 1) == VIRTIO_BLK_S_IOERR);
	TEST_CHECK(blk_raw(&b, VIRTIO_BLK_T_OUT, 0, chunk, 512, seg_max + 1) == VIRTIO_BLK_S_IOERR);
	printf("blk-limits: oversized requests refused\n");
	/* The largest request the config allows: every byte of it lands. */
	TEST_CHECK(blk_raw(&b, VIRTIO_BLK_T_OUT, 8, chunk, size_max, seg_max) == VIRTIO_BLK_S_OK);
	TEST_CHECK(vblk_io(&b, VIRTIO_BLK_T_FLUSH, 0, NULL, 0) == VIRTIO_BLK_S_OK);
	printf("blk-limits: wrote %u segments of %u bytes at sector 8\n", seg_max, size_max);
	test_finish(true);
}

static void blk_enospc(void)
{
	static struct vblk b;
	unsigned ok = 0;
	uint8_t st = VIRTIO_BLK_S_OK;

	TEST_CHECK(vblk_open(&b, 0) == 0);
	for (unsigned i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)(i * 7 + i / 4096);
	/* The image is sparse on a host file system too small for it: some write is cut
	 * short by the host (ENOSPC after a partial write), and must not be acknowledged. */
	while ((ok + 1) * (sizeof(chunk) / 512) <= b.sectors &&
	       (st = blk_raw(&b, VIRTIO_BLK_T_OUT, ok * (sizeof(chunk) / 512), chunk,
			     sizeof(chunk), 1)) == VIRTIO_BLK_S_OK)
		ok++;
	printf("blk-enospc: %u chunks of 128 KiB written, then status %u\n", ok, st);
	TEST_CHECK(st == VIRTIO_BLK_S_IOERR);
	test_finish(true);
}

/* virtio-console output as fast as the device takes it, for ever (the host stops reading). */
static void cons_flood(void)
{
	static struct vcons cons;
	static char line[32 << 10];

	TEST_CHECK(vcons_open(&cons) == 0);
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	printf("cons-flood: writing\n");
	for (;;)
		vcons_write(&cons, line, sizeof(line));
}

int main(void)
{
	const char *c = start_info->cmdline;

	if (!strcmp(c, "cons-flood"))
		cons_flood();
	if (!strcmp(c, "rng-flood") || !strcmp(c, "rng-flood-spin"))
		rng_flood(c[9] != 0);
	else if (!strcmp(c, "rng-partial"))
		rng_partial();
	else if (!strcmp(c, "blk-limits"))
		blk_limits();
	else if (!strcmp(c, "blk-enospc"))
		blk_enospc();
	printf("unknown case '%s'\n", c);
	test_finish(false);
}
