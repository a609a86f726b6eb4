/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-pci transport without KVM, on a real device thread (virtio-rng) over fake guest
 * memory: its PCI identity and capability chain; the common configuration a driver walks
 * (features, FEATURES_OK, queue size, vectors, ring addresses in halves, enable, DRIVER_OK);
 * MSI-X routed to what the table says when it is turned on, a completion firing the queue's
 * vector, a masked vector held in the PBA until unmasked; with MSI-X off, INTx raised by a
 * completion and dropped by the ISR read; and a reset that forgets the vectors.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule/devices.h"
#include "capsule/log.h"
#include "capsule/virtio.h"
#include "capsule/vm.h"

#define DESC 0x1000u
#define AVAIL 0x2000u
#define USED 0x3000u
#define BUF 0x10000u
#define QSIZE 8

static struct {
	int intx;
	unsigned routes, fires[VIRTIO_PCI_VECTORS];
	uint64_t addr[VIRTIO_PCI_VECTORS];
	uint32_t data[VIRTIO_PCI_VECTORS];
	bool on[VIRTIO_PCI_VECTORS];
} seen;

static void fake_intx(void *o, unsigned slot, bool level)
{
	(void)o, (void)slot;
	__atomic_store_n(&seen.intx, level, __ATOMIC_SEQ_CST);
}

static void fake_route(void *o, unsigned v, uint64_t addr, uint32_t data, bool on)
{
	(void)o;
	seen.routes++, seen.addr[v] = addr, seen.data[v] = data, seen.on[v] = on;
}

static void fake_fire(void *o, unsigned v)
{
	(void)o;
	__atomic_fetch_add(&seen.fires[v], 1, __ATOMIC_SEQ_CST);
}

static struct vm vm;
static uint64_t bar;

static uint32_t mmio(uint64_t off, uint32_t len, bool is_write, uint32_t v)
{
	const struct io_range *r = bus_find(&vm.mmio, bar + off, len);
	uint8_t b[4];

	assert_non_null(r);
	memcpy(b, &v, 4);
	r->fn(NULL, r->opaque, bar + off, b, len, is_write);
	memcpy(&v, b, 4);
	return len == 4 ? v : v & ((1u << (8 * len)) - 1);
}

static volatile struct virtq_used *used(void)
{
	return gmem_ptr(&vm.mem, USED, VIRTQ_USED_BYTES(QSIZE));
}

/* One 64-byte buffer for the rng; kick; wait for the used ring to reach idx. */
static bool request(uint16_t idx)
{
	struct virtq_desc *d = gmem_ptr(&vm.mem, DESC, 16 * QSIZE);
	struct virtq_avail *a = gmem_ptr(&vm.mem, AVAIL, VIRTQ_AVAIL_BYTES(QSIZE));
	struct timespec ms = {0, 1000000};

	d[0] = (struct virtq_desc){.addr = BUF, .len = 64, .flags = VIRTQ_DESC_F_WRITE};
	a->ring[(idx - 1) % QSIZE] = 0;
	__atomic_store_n(&a->idx, idx, __ATOMIC_RELEASE);
	mmio(VIRTIO_PCI_NOTIFY, 2, true, 0); /* no ioeventfd here: the transport kicks */
	for (int i = 0; i < 2000 && __atomic_load_n(&used()->idx, __ATOMIC_ACQUIRE) != idx; i++)
		nanosleep(&ms, NULL);
	nanosleep(&ms, NULL); /* the interrupt follows the used index */
	return used()->idx == idx;
}

static void transport(void **state)
{
	struct vm_config cfg = {.mem_bytes = 8u << 20, .nr_vcpus = 1};
	struct virtio_pci_irq irq = {NULL, fake_intx, fake_route, fake_fire};
	static struct pci_host host;
	static struct virtio_pci vp;
	static struct virtio_dev d;
	struct platform_dev pd;
	unsigned cap, types = 0;

	(void)state;
	log_set_level(LOG_ERROR);
	assert_int_equal(vm_init_nokvm(&vm, &cfg), 0);
	memset(vm.mem.host, 0, 0x20000);
	pci_host_init(&host, &vm);
	host.enabled = true;
	assert_int_equal(platform_add(&pd, &vm, &pci_host_ops, &host), 0);
	assert_int_equal(virtio_pci_add(&vp, &d, &vm, &host, &virtio_rng_ops, NULL, irq), 0);
	assert_int_equal(vp.fn.slot, 1);
	/* identity and capabilities */
	assert_int_equal(pci_config_read(&host, 1, 0, 0, 4), 0x10441af4u);
	assert_int_equal(pci_config_read(&host, 1, 0, 0x08, 1), 1);
	assert_int_equal(pci_config_read(&host, 1, 0, 0x2e, 2), 0x1100);
	assert_true(pci_config_read(&host, 1, 0, 0x06, 2) & 0x10);
	for (cap = pci_config_read(&host, 1, 0, 0x34, 1); cap; cap = pci_config_read(&host, 1, 0, cap + 1, 1)) {
		if (pci_config_read(&host, 1, 0, cap, 1) == 0x09) {
			types |= 1u << pci_config_read(&host, 1, 0, cap + 3, 1);
			assert_int_equal(pci_config_read(&host, 1, 0, cap + 4, 1), VIRTIO_PCI_BAR);
		} else {
			assert_int_equal(pci_config_read(&host, 1, 0, cap, 1), 0x11); /* MSI-X */
			assert_int_equal(pci_config_read(&host, 1, 0, cap + 2, 2), 1); /* 2 vectors */
			break;
		}
	}
	assert_int_equal(types, 0x1e); /* common, notify, ISR, device */
	bar = pci_config_read(&host, 1, 0, 0x20, 4) & ~0xfu;
	assert_int_equal(bar, PCI_MMIO_BASE);
	/* the common configuration, as a driver walks it */
	assert_int_equal(mmio(0x12, 2, false, 0), 1); /* num_queues */
	mmio(0x00, 4, true, 1);
	assert_true(mmio(0x04, 4, false, 0) & 1);     /* VERSION_1 (bit 32) */
	mmio(0x08, 4, true, 1);
	mmio(0x0c, 4, true, 1);
	mmio(0x14, 1, true, 1 | 2 | 8);
	assert_int_equal(mmio(0x14, 1, false, 0), 1 | 2 | 8);
	assert_int_equal(mmio(0x18, 2, false, 0), VQ_MAX_SIZE);
	mmio(0x18, 2, true, QSIZE);
	mmio(0x1a, 2, true, 5); /* no such vector */
	assert_int_equal(mmio(0x1a, 2, false, 0), VIRTIO_PCI_NO_VECTOR);
	mmio(0x1a, 2, true, 1);
	assert_int_equal(mmio(0x1a, 2, false, 0), 1);
	mmio(0x10, 2, true, 0);
	mmio(0x20, 4, true, DESC), mmio(0x24, 4, true, 0);
	mmio(0x28, 4, true, AVAIL), mmio(0x2c, 4, true, 0);
	mmio(0x30, 4, true, USED), mmio(0x34, 4, true, 0);
	assert_int_equal(mmio(0x20, 4, false, 0), DESC);
	mmio(0x1c, 2, true, 1);
	mmio(0x14, 1, true, 1 | 2 | 8 | 4);
	assert_true(d.vq[0].ready);
	mmio(0x20, 4, true, 0x5000); /* a live queue's layout stays */
	assert_int_equal(mmio(0x20, 4, false, 0), DESC);
	/* MSI-X: the table, then on; routes follow what the table says */
	for (unsigned v = 0; v < 2; v++) {
		mmio(VIRTIO_PCI_MSIX_TABLE + 16 * v + 0, 4, true, 0xfee00000u);
		mmio(VIRTIO_PCI_MSIX_TABLE + 16 * v + 8, 4, true, 0x40 + v);
		mmio(VIRTIO_PCI_MSIX_TABLE + 16 * v + 12, 4, true, 0);
	}
	assert_int_equal(seen.routes, 0); /* off: nothing routed */
	pci_config_write(&host, 1, 0, 0x84 + 2, 2, 0x8000);
	assert_true(seen.on[0] && seen.on[1]);
	assert_int_equal(seen.addr[1], 0xfee00000u);
	assert_int_equal(seen.data[1], 0x41);
	assert_true(request(1));
	assert_int_equal(seen.fires[1], 1);
	assert_int_equal(seen.fires[0], 0);
	assert_int_equal(seen.intx, 0);
	/* masked: held in the PBA, delivered on unmask */
	mmio(VIRTIO_PCI_MSIX_TABLE + 16 + 12, 4, true, 1);
	assert_true(request(2));
	assert_int_equal(seen.fires[1], 1);
	assert_int_equal(mmio(VIRTIO_PCI_MSIX_PBA, 4, false, 0), 2);
	mmio(VIRTIO_PCI_MSIX_TABLE + 16 + 12, 4, true, 0);
	assert_int_equal(seen.fires[1], 2);
	assert_int_equal(mmio(VIRTIO_PCI_MSIX_PBA, 4, false, 0), 0);
	/* MSI-X off: INTx, a level until the ISR is read */
	pci_config_write(&host, 1, 0, 0x84 + 2, 2, 0);
	assert_false(seen.on[1]);
	mmio(VIRTIO_PCI_ISR, 1, false, 0);
	assert_true(request(3));
	assert_int_equal(seen.intx, 1);
	assert_int_equal(mmio(VIRTIO_PCI_ISR, 1, false, 0), 1);
	assert_int_equal(seen.intx, 0);
	assert_int_equal(mmio(VIRTIO_PCI_ISR, 1, false, 0), 0);
	/* a reset forgets the vectors */
	mmio(0x14, 1, true, 0);
	assert_int_equal(mmio(0x14, 1, false, 0), 0);
	assert_int_equal(mmio(0x1a, 2, false, 0), VIRTIO_PCI_NO_VECTOR);
	assert_int_equal(mmio(0x10, 2, false, 0), VIRTIO_PCI_NO_VECTOR);
	assert_false(d.vq[0].ready);
	virtio_pci_remove(&vp);
	assert_int_equal(pci_config_read(&host, 1, 0, 0, 4), 0xffffffffu);
	platform_remove(&pd, &vm);
	pci_host_destroy(&host);
	vm_destroy(&vm);
}

/*
 * Snapshots: the transport's state (a moved BAR, MSI-X on with a masked vector pending, the
 * vectors) saved, and restored onto the same kind of device freshly added (whose BAR the
 * host put elsewhere): the BAR decodes where it was, the vectors are routed again, the
 * registers read as saved. Hostile states are refused whole: the fresh device is unchanged.
 */
static void spoil(struct virtio_pci_state *s, unsigned how)
{
	switch (how) {
	case 0: s->slot = 2; break;
	case 1: s->cfg[0] ^= 1; break;              /* the vendor ID */
	case 2: s->cfg[0x84 + 2] = 5; break;        /* MSI-X table size, read-only */
	case 3: s->queue_vector[0] = 7; break;
	case 4: s->queue_vector[3] = 0; break;      /* a queue the device does not have */
	case 5: s->config_vector = 2; break;
	case 6: s->msix[0].ctrl = 3; break;
	case 7: s->msix[4].data = 1; break;         /* beyond the device's 2 vectors */
	default: s->pba = 0x80; break;
	}
}

static void snapshot_round_trip(void **state)
{
	struct vm_config cfg = {.mem_bytes = 8u << 20, .nr_vcpus = 1};
	struct virtio_pci_irq irq = {NULL, fake_intx, fake_route, fake_fire};
	static struct pci_host host;
	static struct virtio_pci vp;
	static struct virtio_dev d;
	static struct virtio_pci_state st, bad, before, after;
	const uint64_t moved = PCI_MMIO_BASE + 0x100000;
	struct platform_dev pd;
	const char *why;

	(void)state;
	log_set_level(LOG_ERROR);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(vm_init_nokvm(&vm, &cfg), 0);
	pci_host_init(&host, &vm);
	host.enabled = true;
	assert_int_equal(platform_add(&pd, &vm, &pci_host_ops, &host), 0);
	assert_int_equal(virtio_pci_add(&vp, &d, &vm, &host, &virtio_rng_ops, NULL, irq), 0);
	pci_config_write(&host, 1, 0, 0x20, 4, (uint32_t)moved | 4); /* the guest moves BAR 4 */
	bar = moved;
	mmio(0x10, 2, true, 0);        /* config vector 0 */
	mmio(0x16, 2, true, 0);
	mmio(0x1a, 2, true, 1);        /* queue 0: vector 1 */
	for (unsigned v = 0; v < 2; v++) {
		mmio(VIRTIO_PCI_MSIX_TABLE + 16 * v + 0, 4, true, 0xfee01000u);
		mmio(VIRTIO_PCI_MSIX_TABLE + 16 * v + 8, 4, true, 0x60 + v);
		mmio(VIRTIO_PCI_MSIX_TABLE + 16 * v + 12, 4, true, v); /* vector 1 masked */
	}
	pci_config_write(&host, 1, 0, 0x84 + 2, 2, 0x8000);
	vp.pba = 2; /* a completion held while masked */
	virtio_pci_save(&vp, &st);
	assert_int_equal(st.slot, 1);
	virtio_pci_remove(&vp);

	assert_int_equal(virtio_pci_add(&vp, &d, &vm, &host, &virtio_rng_ops, NULL, irq), 0);
	assert_int_equal(vp.fn.slot, 1);
	assert_true(vp.fn.bar_addr[VIRTIO_PCI_BAR] != moved); /* the host put it elsewhere */
	virtio_pci_save(&vp, &before);
	/* hostile or foreign states: each refused, nothing changed */
	static const char *const refusals[] = {
		"another PCI slot", "cannot write", "cannot write", "queue vector", "queue vector",
		"configuration vector", "MSI-X table", "MSI-X table", "pending bits",
	};
	for (unsigned i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		bad = st;
		spoil(&bad, i);
		why = "";
		assert_int_equal(virtio_pci_restore(&vp, &bad, &why), -EINVAL);
		assert_non_null(strstr(why, refusals[i]));
		virtio_pci_save(&vp, &after);
		assert_memory_equal(&before, &after, sizeof(before));
	}
	seen.routes = 0;
	assert_int_equal(virtio_pci_restore(&vp, &st, &why), 0);
	virtio_pci_save(&vp, &after);
	assert_memory_equal(&st, &after, sizeof(st));
	assert_int_equal(vp.fn.bar_addr[VIRTIO_PCI_BAR], moved);
	assert_int_equal(vp.d->base, moved);
	assert_int_equal(pci_config_read(&host, 1, 0, 0x20, 4) & ~0xfu, moved);
	assert_true(seen.routes >= 2 && seen.on[0] && seen.on[1]);
	assert_int_equal(seen.addr[1], 0xfee01000u);
	assert_int_equal(seen.data[1], 0x61);
	assert_int_equal(mmio(0x10, 2, false, 0), 0);
	mmio(0x16, 2, true, 0);
	assert_int_equal(mmio(0x1a, 2, false, 0), 1);
	assert_int_equal(mmio(VIRTIO_PCI_MSIX_PBA, 4, false, 0), 2);
	assert_int_equal(seen.intx, 0); /* MSI-X is on: no INTx */
	/* unmasking delivers the held completion, as it would have before the snapshot */
	mmio(VIRTIO_PCI_MSIX_TABLE + 16 + 12, 4, true, 0);
	assert_int_equal(seen.fires[1], 1);
	virtio_pci_remove(&vp);
	platform_remove(&pd, &vm);
	pci_host_destroy(&host);
	vm_destroy(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(transport),
		cmocka_unit_test(snapshot_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
