/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device side of the split virtqueue and the mmio transport, against fake guest
 * memory: good chains are returned whole, every malformed ring is refused with a reason.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "capsule/devices.h"
#include "capsule/log.h"
#include "capsule/vm.h"

#define MEM (1u << 20)
#define DESC 0x1000u
#define AVAIL 0x2000u
#define USED 0x3000u
#define BUF 0x10000u
#define QSIZE 8

static struct guest_mem mem;
static struct virtq q;
static struct vq_chain chain;
static const char *why;

static struct virtq_desc *desc(unsigned i)
{
	return (struct virtq_desc *)gmem_ptr(&mem, DESC + 16 * i, 16);
}

static struct virtq_avail *avail(void)
{
	return gmem_ptr(&mem, AVAIL, VIRTQ_AVAIL_BYTES(QSIZE));
}

static struct virtq_used *used(void)
{
	return gmem_ptr(&mem, USED, VIRTQ_USED_BYTES(QSIZE));
}

static void publish(uint16_t head)
{
	avail()->ring[avail()->idx % QSIZE] = head;
	avail()->idx++;
}

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);
	return gmem_init(&mem, MEM);
}

static int teardown(void **state)
{
	(void)state;
	gmem_destroy(&mem);
	return 0;
}

static int reset(void **state)
{
	(void)state;
	memset(mem.host, 0, 0x20000);
	why = NULL;
	return vq_init(&q, &mem, QSIZE, DESC, AVAIL, USED, true, true, &why);
}

static void init_checks(void **state)
{
	(void)state;
	assert_int_equal(vq_init(&q, &mem, 0, DESC, AVAIL, USED, 0, 0, &why), -EINVAL);
	assert_int_equal(vq_init(&q, &mem, 6, DESC, AVAIL, USED, 0, 0, &why), -EINVAL);
	assert_int_equal(vq_init(&q, &mem, 512, DESC, AVAIL, USED, 0, 0, &why), -EINVAL);
	assert_int_equal(vq_init(&q, &mem, 8, DESC + 8, AVAIL, USED, 0, 0, &why), -EINVAL);
	assert_int_equal(vq_init(&q, &mem, 8, MEM - 16, AVAIL, USED, 0, 0, &why), -EINVAL);
	assert_non_null(strstr(why, "outside guest memory"));
	assert_int_equal(vq_init(&q, &mem, 8, DESC, AVAIL, UINT64_MAX - 3, 0, 0, &why), -EINVAL);
	assert_int_equal(vq_init(&q, &mem, 8, DESC, AVAIL, USED, 0, 0, &why), 0);
}

static void empty_and_simple_chain(void **state)
{
	(void)state;
	assert_int_equal(vq_pop(&q, &mem, &chain, &why), 0);
	*desc(0) = (struct virtq_desc){BUF, 16, VIRTQ_DESC_F_NEXT, 3};
	*desc(3) = (struct virtq_desc){BUF + 0x100, 100, VIRTQ_DESC_F_WRITE, 0};
	publish(0);
	assert_int_equal(vq_pop(&q, &mem, &chain, &why), 1);
	assert_int_equal(chain.head, 0);
	assert_int_equal(chain.nseg, 2);
	assert_int_equal(chain.out_bytes, 16);
	assert_int_equal(chain.in_bytes, 100);
	assert_ptr_equal(chain.seg[0].ptr, mem.host + BUF);
	assert_true(chain.seg[1].write);
	assert_int_equal(vq_pop(&q, &mem, &chain, &why), 0);
	/* completing it publishes the used element */
	vq_push(&q, chain.head, 42);
	assert_int_equal(used()->idx, 1);
	assert_int_equal(used()->ring[0].id, 0);
	assert_int_equal(used()->ring[0].len, 42);
}

static void copies_across_segments(void **state)
{
	uint8_t out[20] = {0};

	(void)state;
	memcpy(mem.host + BUF, "0123456789", 10);
	memcpy(mem.host + BUF + 0x100, "abcdefghij", 10);
	*desc(0) = (struct virtq_desc){BUF, 10, VIRTQ_DESC_F_NEXT, 1};
	*desc(1) = (struct virtq_desc){BUF + 0x100, 10, VIRTQ_DESC_F_NEXT, 2};
	*desc(2) = (struct virtq_desc){BUF + 0x200, 8, VIRTQ_DESC_F_WRITE, 0};
	publish(0);
	assert_int_equal(vq_pop(&q, &mem, &chain, &why), 1);
	assert_int_equal(vq_copy_from(&chain, 5, out, 10), 10);
	assert_memory_equal(out, "56789abcde", 10);
	assert_int_equal(vq_copy_from(&chain, 15, out, 100), 5); /* only 5 left */
	assert_int_equal(vq_copy_to(&chain, 0, "WXYZWXYZWXYZ", 12), 8); /* capped at 8 */
	assert_memory_equal(mem.host + BUF + 0x200, "WXYZWXYZ", 8);
}

static void indirect_chain(void **state)
{
	struct virtq_desc *t = (struct virtq_desc *)(mem.host + 0x5000);

	(void)state;
	t[0] = (struct virtq_desc){BUF, 16, VIRTQ_DESC_F_NEXT, 1};
	t[1] = (struct virtq_desc){BUF + 16, 16, VIRTQ_DESC_F_NEXT, 2};
	t[2] = (struct virtq_desc){BUF + 32, 1, VIRTQ_DESC_F_WRITE, 0};
	*desc(5) = (struct virtq_desc){0x5000, 48, VIRTQ_DESC_F_INDIRECT, 0};
	publish(5);
	assert_int_equal(vq_pop(&q, &mem, &chain, &why), 1);
	assert_int_equal(chain.head, 5);
	assert_int_equal(chain.nseg, 3);
	assert_int_equal(chain.out_bytes, 32);
	assert_int_equal(chain.in_bytes, 1);
}

/* Each malformed ring is refused, with a reason that names the fault. */
static void expect_bad(const char *reason)
{
	assert_int_equal(vq_pop(&q, &mem, &chain, &why), -EINVAL);
	assert_non_null(why);
	assert_non_null(strstr(why, reason));
}

static void malformed_rings(void **state)
{
	struct virtq_desc *t = (struct virtq_desc *)(mem.host + 0x5000);
	struct {
		struct virtq_desc d;
		uint16_t head, bump;
		const char *reason;
	} cases[] = {
		{{BUF, 8, VIRTQ_DESC_F_NEXT, 0}, 0, 1, "loops"},
		{{BUF, 8, VIRTQ_DESC_F_NEXT, 8}, 0, 1, "past the queue"},
		{{MEM, 8, 0, 0}, 0, 1, "outside guest memory"},
		{{MEM - 4, 8, 0, 0}, 0, 1, "outside guest memory"},
		{{UINT64_MAX - 3, 8, 0, 0}, 0, 1, "outside guest memory"},
		{{BUF, UINT32_MAX, 0, 0}, 0, 1, "outside guest memory"},
		{{BUF, 8, 0, 0}, 8, 1, "past the queue"},
		{{BUF, 8, 0, 0}, 0, QSIZE + 1, "more than the queue size"},
		{{0x5000, 17, VIRTQ_DESC_F_INDIRECT, 0}, 0, 1, "bad length"},
		{{0x5000, 0, VIRTQ_DESC_F_INDIRECT, 0}, 0, 1, "bad length"},
		{{0x5000, 16 * 300, VIRTQ_DESC_F_INDIRECT, 0}, 0, 1, "bad length"},
		{{MEM - 16, 32, VIRTQ_DESC_F_INDIRECT, 0}, 0, 1, "indirect table lies outside"},
		{{0x5000, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1}, 0, 1, "chained"},
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reset(NULL);
		*desc(0) = cases[i].d;
		avail()->ring[0] = cases[i].head;
		avail()->idx = cases[i].bump;
		expect_bad(cases[i].reason);
	}
	/* Inside indirect tables. */
	reset(NULL);
	t[0] = (struct virtq_desc){0x5000, 16, VIRTQ_DESC_F_INDIRECT, 0};
	*desc(0) = (struct virtq_desc){0x5000, 16, VIRTQ_DESC_F_INDIRECT, 0};
	publish(0);
	expect_bad("nested");
	reset(NULL);
	t[0] = (struct virtq_desc){BUF, 8, VIRTQ_DESC_F_NEXT, 1};
	t[1] = (struct virtq_desc){BUF, 8, VIRTQ_DESC_F_NEXT, 0};
	*desc(0) = (struct virtq_desc){0x5000, 32, VIRTQ_DESC_F_INDIRECT, 0};
	publish(0);
	expect_bad("loops");
	reset(NULL);
	t[0] = (struct virtq_desc){BUF, 8, VIRTQ_DESC_F_NEXT, 5};
	*desc(0) = (struct virtq_desc){0x5000, 32, VIRTQ_DESC_F_INDIRECT, 0};
	publish(0);
	expect_bad("past its table");
	/* Indirect without the feature. */
	vq_init(&q, &mem, QSIZE, DESC, AVAIL, USED, true, false, &why);
	t[0] = (struct virtq_desc){BUF, 8, 0, 0};
	*desc(0) = (struct virtq_desc){0x5000, 16, VIRTQ_DESC_F_INDIRECT, 0};
	publish(0);
	expect_bad("not negotiated");
	/* Readable after writable. */
	reset(NULL);
	*desc(0) = (struct virtq_desc){BUF, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1};
	*desc(1) = (struct virtq_desc){BUF, 8, 0, 0};
	publish(0);
	expect_bad("readable descriptor after a writable");
}

static void event_index(void **state)
{
	(void)state;
	/* The driver asks for an interrupt only when used reaches 2. */
	*virtq_used_event(avail(), QSIZE) = 1;
	for (int i = 0; i < 3; i++) {
		*desc(i) = (struct virtq_desc){BUF, 8, VIRTQ_DESC_F_WRITE, 0};
		publish((uint16_t)i);
	}
	assert_int_equal(vq_pop(&q, &mem, &chain, &why), 1);
	vq_push(&q, chain.head, 8);
	assert_false(vq_need_interrupt(&q)); /* used idx 1: not past event 1 */
	assert_int_equal(vq_pop(&q, &mem, &chain, &why), 1);
	vq_push(&q, chain.head, 8);
	assert_true(vq_need_interrupt(&q));  /* used idx 2 crossed it */
	/* Re-enabling notifications tells the driver where we are, and sees the third. */
	assert_true(vq_enable_notify(&q));
	assert_int_equal(*virtq_avail_event(used(), QSIZE), 2);
	assert_int_equal(vq_pop(&q, &mem, &chain, &why), 1);
	assert_false(vq_enable_notify(&q));
	vq_unpop(&q, 1);
	assert_int_equal(vq_pop(&q, &mem, &chain, &why), 1);
	assert_int_equal(chain.head, 2);
}

static void blk_request_parsing(void **state)
{
	struct virtio_blk_req_hdr h = {.type = VIRTIO_BLK_T_IN, .sector = 77};
	struct blk_request r;

	(void)state;
	memcpy(mem.host + BUF, &h, sizeof(h));
	*desc(0) = (struct virtq_desc){BUF, 16, VIRTQ_DESC_F_NEXT, 1};
	*desc(1) = (struct virtq_desc){BUF + 0x100, 1024, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2};
	*desc(2) = (struct virtq_desc){BUF + 0x800, 1, VIRTQ_DESC_F_WRITE, 0};
	publish(0);
	assert_int_equal(vq_pop(&q, &mem, &chain, &why), 1);
	assert_int_equal(blk_parse(&chain, &r), 0);
	assert_int_equal(r.type, VIRTIO_BLK_T_IN);
	assert_int_equal(r.sector, 77);
	assert_int_equal(r.data_len, 1024);
	assert_ptr_equal(r.status, mem.host + BUF + 0x800);
	/* a header cut short, or no status byte: not a request */
	*desc(3) = (struct virtq_desc){BUF, 8, VIRTQ_DESC_F_NEXT, 4};
	*desc(4) = (struct virtq_desc){BUF + 0x800, 1, VIRTQ_DESC_F_WRITE, 0};
	publish(3);
	assert_int_equal(vq_pop(&q, &mem, &chain, &why), 1);
	assert_int_equal(blk_parse(&chain, &r), -EINVAL);
	*desc(5) = (struct virtq_desc){BUF, 16, 0, 0};
	publish(5);
	assert_int_equal(vq_pop(&q, &mem, &chain, &why), 1);
	assert_int_equal(blk_parse(&chain, &r), -EINVAL);
}

static void balloon_pfns(void **state)
{
	uint32_t in[5] = {1, 2, 3, 0xffffffff, 7}, out[8];

	(void)state;
	memcpy(mem.host + BUF, in, sizeof(in));
	*desc(0) = (struct virtq_desc){BUF, 18, 0, 0}; /* 4.5 PFNs: the half is ignored */
	publish(0);
	assert_int_equal(vq_pop(&q, &mem, &chain, &why), 1);
	assert_int_equal(balloon_parse_pfns(&chain, out, 8), 4);
	assert_memory_equal(out, in, 16);
	assert_int_equal(balloon_parse_pfns(&chain, out, 2), 2);
}

/* The transport: feature negotiation, queue setup, config space, reset. */
static void mmio_transport(void **state)
{
	struct vm_config cfg = {.mem_bytes = MEM, .nr_vcpus = 1};
	static struct virtio_dev d;
	struct vm vm;
	uint32_t v;

	(void)state;
	assert_int_equal(vm_init_nokvm(&vm, &cfg), 0);
	assert_int_equal(virtio_mmio_add(&d, &vm, &virtio_rng_ops, NULL, 0x40000000,
					 (struct irq_sink){0}), 0);
#define RD(off) (virtio_mmio_access(&d, off, (uint8_t *)&v, 4, false), v)
#define WR(off, val) (v = (val), virtio_mmio_access(&d, off, (uint8_t *)&v, 4, true))
	assert_int_equal(RD(VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
	assert_int_equal(RD(VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(RD(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	WR(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_true(RD(VIRTIO_MMIO_DEVICE_FEATURES) & 1); /* VERSION_1 */
	/* A driver that does not accept VERSION_1, or wants more, gets no FEATURES_OK. */
	WR(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	WR(VIRTIO_MMIO_DRIVER_FEATURES, 0);
	WR(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				       VIRTIO_STATUS_FEATURES_OK);
	assert_false(RD(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	WR(VIRTIO_MMIO_DRIVER_FEATURES, 1 | 0x80);
	WR(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				       VIRTIO_STATUS_FEATURES_OK);
	assert_false(RD(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	WR(VIRTIO_MMIO_DRIVER_FEATURES, 1);
	WR(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				       VIRTIO_STATUS_FEATURES_OK);
	assert_true(RD(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	/* queue 1 does not exist; queue 0 set up outside RAM breaks the device */
	WR(VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(RD(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	WR(VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(RD(VIRTIO_MMIO_QUEUE_NUM_MAX), VQ_MAX_SIZE);
	WR(VIRTIO_MMIO_QUEUE_NUM, 8);
	WR(VIRTIO_MMIO_QUEUE_DESC_LOW, 0);
	WR(VIRTIO_MMIO_QUEUE_DESC_HIGH, 1); /* 4 GiB: outside the 1 MiB of RAM */
	WR(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(RD(VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(RD(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	/* reset clears it; a proper queue comes up */
	WR(VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(RD(VIRTIO_MMIO_STATUS), 0);
	WR(VIRTIO_MMIO_QUEUE_NUM, 8);
	WR(VIRTIO_MMIO_QUEUE_DESC_LOW, DESC);
	WR(VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL);
	WR(VIRTIO_MMIO_QUEUE_USED_LOW, USED);
	WR(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(RD(VIRTIO_MMIO_QUEUE_READY), 1);
	/* odd widths on registers do nothing; config reads past the end read zero */
	uint8_t b = 0xaa;
	virtio_mmio_access(&d, VIRTIO_MMIO_STATUS, &b, 1, true);
	assert_int_equal(RD(VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(RD(VIRTIO_MMIO_CONFIG + 0x40), 0);
	virtio_mmio_remove(&d);
	vm_destroy(&vm);
}

/* Save a live device, restore it on a fresh one: the same registers and queue indices;
 * a state naming rings outside RAM, in VMM pages or of another device is refused whole. */
static void save_restore(void **state)
{
	struct vm_config cfg = {.mem_bytes = MEM, .nr_vcpus = 1};
	static struct virtio_dev d, e;
	struct virtio_state st, bad;
	const char *reason = NULL;
	struct vm vm;
	uint32_t v;

	(void)state;
	assert_int_equal(vm_init_nokvm(&vm, &cfg), 0);
	assert_int_equal(virtio_mmio_add(&d, &vm, &virtio_rng_ops, NULL, 0x40000000,
					 (struct irq_sink){0}), 0);
	assert_int_equal(virtio_mmio_add(&e, &vm, &virtio_rng_ops, NULL, 0x40000200,
					 (struct irq_sink){0}), 0);
	WR(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	WR(VIRTIO_MMIO_DRIVER_FEATURES, 1);
	WR(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				       VIRTIO_STATUS_FEATURES_OK);
	WR(VIRTIO_MMIO_QUEUE_NUM, 8);
	WR(VIRTIO_MMIO_QUEUE_DESC_LOW, DESC);
	WR(VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL);
	WR(VIRTIO_MMIO_QUEUE_USED_LOW, USED);
	WR(VIRTIO_MMIO_QUEUE_READY, 1);
	WR(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				       VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	d.vq[0].last_avail = 5; /* as if five requests had been served */
	d.vq[0].used_idx = 5;
	virtio_save(&d, &st);
	assert_int_equal(virtio_restore(&e, &st, &reason), 0);
	assert_int_equal(e.status, d.status);
	assert_int_equal(e.driver_features, d.driver_features);
	assert_true(e.vq[0].ready);
	assert_int_equal(e.vq[0].size, 8);
	assert_int_equal(e.vq[0].last_avail, 5);
	assert_int_equal(e.vq[0].used_idx, 5);
	assert_ptr_equal(e.vq[0].desc, d.vq[0].desc);
	/* Hostile states: nothing of them is taken. */
	e.status = 0x77;
	bad = st;
	bad.queue[0].desc = (uint64_t)MEM + 4096;
	assert_int_equal(virtio_restore(&e, &bad, &reason), -EINVAL);
	assert_non_null(strstr(reason, "outside guest memory"));
	assert_int_equal(e.status, 0x77);
	assert_int_equal(gmem_reserve(&vm.mem, 0x80000, 0x1000), 0);
	bad = st;
	bad.queue[0].used = 0x80000;
	assert_int_equal(virtio_restore(&e, &bad, &reason), -EINVAL);
	bad = st;
	bad.queue[0].num = 7;
	assert_int_equal(virtio_restore(&e, &bad, &reason), -EINVAL);
	bad = st;
	bad.device_id = VIRTIO_ID_BLOCK;
	assert_int_equal(virtio_restore(&e, &bad, &reason), -EINVAL);
	assert_non_null(strstr(reason, "another kind of device"));
	bad = st;
	bad.driver_features |= 1ull << 60;
	assert_int_equal(virtio_restore(&e, &bad, &reason), -EINVAL);
	bad = st;
	bad.queue[2].num = 8;
	assert_int_equal(virtio_restore(&e, &bad, &reason), -EINVAL);
	assert_int_equal(e.status, 0x77);
	virtio_mmio_remove(&d);
	virtio_mmio_remove(&e);
	/* Removed: off the bus, so the range can be taken again. */
	assert_null(bus_find(&vm.mmio, 0x40000000, 4));
	assert_int_equal(virtio_mmio_add(&d, &vm, &virtio_rng_ops, NULL, 0x40000000,
					 (struct irq_sink){0}), 0);
	virtio_mmio_remove(&d);
	vm_destroy(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(init_checks, reset),
		cmocka_unit_test_setup(empty_and_simple_chain, reset),
		cmocka_unit_test_setup(copies_across_segments, reset),
		cmocka_unit_test_setup(indirect_chain, reset),
		cmocka_unit_test_setup(malformed_rings, reset),
		cmocka_unit_test_setup(event_index, reset),
		cmocka_unit_test_setup(blk_request_parsing, reset),
		cmocka_unit_test_setup(balloon_pfns, reset),
		cmocka_unit_test_setup(mmio_transport, reset),
		cmocka_unit_test_setup(save_restore, reset),
	};

	return cmocka_run_group_tests_name("virtqueue", tests, setup, teardown);
}
