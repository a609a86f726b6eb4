/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PCI bus 0 of an HVM domain: a host bridge at 00:00.0 (Red Hat's QEMU PCIe host bridge IDs,
 * which no kernel needs a driver for), configuration mechanism #1 (the address at 0xcf8,
 * data at 0xcfc-0xcff) and ECAM (the MCFG table's window), 256 bytes of configuration
 * space per function (the extended space reads as zero), function 0 of each slot only.
 *
 * BARs: the host assigns each function's memory BARs in its window when it is added, as
 * firmware does, with decoding on. The guest may size them (write all ones, read the mask)
 * and move them; the host's one range on the MMIO bus covers the whole window and routes
 * an access to the BAR that decodes it, so nothing on the bus changes while vCPUs run.
 * A BAR outside the window decodes nothing. I/O BARs are not offered.
 */
#include <errno.h>
#include <string.h>

#include "capsule/log.h"
#include "capsule/platform.h"
#include "capsule/vm.h"

#define CMD_MEM 0x0002
#define CMD_WMASK 0x0547 /* I/O, memory, bus master, parity, SERR, INTx disable */
#define STATUS_CAPS 0x0010

static void put(uint8_t *p, unsigned off, uint32_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get(const uint8_t *p, unsigned off, unsigned n)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint32_t)p[off + i] << (8 * i);
	return v;
}

void pci_function_init(struct pci_function *f, uint16_t vendor, uint16_t device,
		       uint32_t class_rev, uint16_t subsys_vendor, uint16_t subsys)
{
	memset(f->cfg, 0, sizeof(f->cfg));
	memset(f->wmask, 0, sizeof(f->wmask));
	memset(f->bar_size, 0, sizeof(f->bar_size));
	memset(f->bar_addr, 0, sizeof(f->bar_addr));
	memset(f->bar_64, 0, sizeof(f->bar_64));
	put(f->cfg, 0x00, vendor, 2);
	put(f->cfg, 0x02, device, 2);
	put(f->cfg, 0x08, class_rev, 4);
	put(f->cfg, 0x2c, subsys_vendor, 2);
	put(f->cfg, 0x2e, subsys, 2);
	put(f->wmask, 0x04, CMD_WMASK, 2);
	f->wmask[0x0c] = 0xff; /* cache line size */
	f->wmask[0x0d] = 0xff; /* latency timer */
	f->wmask[0x3c] = 0xff; /* interrupt line: the OS's note */
	f->cfg[0x3d] = 1;      /* INTA */
}

void pci_function_bar(struct pci_function *f, unsigned bar, uint64_t size, bool mem64)
{
	uint64_t mask = ~(size - 1);

	f->bar_size[bar] = size;
	f->bar_64[bar] = mem64;
	put(f->cfg, 0x10 + 4 * bar, mem64 ? 0x4 : 0x0, 4);
	put(f->wmask, 0x10 + 4 * bar, (uint32_t)mask & ~0xfu, 4);
	if (mem64)
		put(f->wmask, 0x14 + 4 * bar, (uint32_t)(mask >> 32), 4);
}

static uint64_t bar_register(const struct pci_function *f, unsigned bar)
{
	uint64_t v = get(f->cfg, 0x10 + 4 * bar, 4) & ~0xfull;

	if (f->bar_64[bar])
		v |= (uint64_t)get(f->cfg, 0x14 + 4 * bar, 4) << 32;
	return v;
}

/* Host lock held: where each BAR decodes now (inside the window, with memory decoding on,
 * not while it is being sized), telling the function when that changes. */
static void update_bars(struct pci_function *f)
{
	bool mem = get(f->cfg, 0x04, 2) & CMD_MEM;

	for (unsigned b = 0; b < PCI_BARS; b++) {
		uint64_t addr = bar_register(f, b), size = f->bar_size[b], now = 0;

		if (!size)
			continue;
		if (mem && addr >= PCI_MMIO_BASE && addr <= PCI_MMIO_BASE + PCI_MMIO_SIZE - size)
			now = addr;
		if (now != f->bar_addr[b]) {
			f->bar_addr[b] = now;
			if (f->ops && f->ops->bar_moved)
				f->ops->bar_moved(f, b, now);
		}
	}
}

uint32_t pci_intx_gsi(unsigned slot)
{
	return PCI_INTX_GSI + slot % 4;
}

static struct pci_function *function_at(struct pci_host *p, unsigned slot, unsigned fn)
{
	if (!p->enabled || slot >= PCI_MAX_SLOTS || fn != 0)
		return NULL;
	return p->slot[slot];
}

/* Host lock held. Accesses stay inside one aligned dword; the rest reads as all ones. */
static uint32_t config_read(struct pci_host *p, unsigned slot, unsigned fn, unsigned off,
			    unsigned len)
{
	struct pci_function *f = function_at(p, slot, fn);

	if (!f)
		return len == 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
	if (off >= 256 || (off & 3) + len > 4)
		return 0;
	return get(f->cfg, off, len);
}

static void config_write(struct pci_host *p, unsigned slot, unsigned fn, unsigned off,
			 unsigned len, uint32_t v)
{
	struct pci_function *f = function_at(p, slot, fn);

	if (!f || off >= 256 || (off & 3) + len > 4)
		return;
	for (unsigned i = 0; i < len; i++) {
		uint8_t m = f->wmask[off + i], b = (uint8_t)(v >> (8 * i));

		f->cfg[off + i] = (uint8_t)((f->cfg[off + i] & ~m) | (b & m));
	}
	if (off < 0x28) /* the command register or a BAR */
		update_bars(f);
	if (f->ops && f->ops->config_write)
		f->ops->config_write(f, off, len);
}

uint32_t pci_config_read(struct pci_host *p, unsigned slot, unsigned fn, unsigned off,
			 unsigned len)
{
	uint32_t v;

	pthread_mutex_lock(&p->lock);
	v = config_read(p, slot, fn, off, len);
	pthread_mutex_unlock(&p->lock);
	return v;
}

void pci_config_write(struct pci_host *p, unsigned slot, unsigned fn, unsigned off,
		      unsigned len, uint32_t v)
{
	pthread_mutex_lock(&p->lock);
	config_write(p, slot, fn, off, len, v);
	pthread_mutex_unlock(&p->lock);
}

int pci_add(struct pci_host *p, struct pci_function *f)
{
	unsigned slot = 1;

	pthread_mutex_lock(&p->lock);
	while (slot < PCI_MAX_SLOTS && p->slot[slot])
		slot++;
	if (slot == PCI_MAX_SLOTS) {
		pthread_mutex_unlock(&p->lock);
		return -ENOSPC;
	}
	for (unsigned b = 0; b < PCI_BARS; b++) {
		uint64_t size = f->bar_size[b], at = (p->next_bar + size - 1) & ~(size - 1);

		if (!size)
			continue;
		if (at + size > PCI_MMIO_BASE + PCI_MMIO_SIZE) {
			pthread_mutex_unlock(&p->lock);
			return -ENOSPC;
		}
		put(f->cfg, 0x10 + 4 * b, (uint32_t)at | (f->bar_64[b] ? 0x4 : 0), 4);
		if (f->bar_64[b])
			put(f->cfg, 0x14 + 4 * b, (uint32_t)(at >> 32), 4);
		p->next_bar = at + size;
	}
	f->slot = slot;
	f->cfg[0x3c] = (uint8_t)pci_intx_gsi(slot);
	put(f->cfg, 0x04, get(f->cfg, 0x04, 2) | CMD_MEM, 2); /* decoding, as firmware leaves it */
	p->slot[slot] = f;
	update_bars(f);
	pthread_mutex_unlock(&p->lock);
	return (int)slot;
}

int pci_function_load(struct pci_host *p, struct pci_function *f, const uint8_t cfg[256],
		      const char **why)
{
	for (unsigned i = 0; i < 256; i++)
		if ((cfg[i] ^ f->cfg[i]) & ~f->wmask[i]) {
			*why = "the PCI configuration space differs in bits the guest cannot write";
			return -EINVAL;
		}
	pthread_mutex_lock(&p->lock);
	memcpy(f->cfg, cfg, 256);
	update_bars(f);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

void pci_remove(struct pci_host *p, struct pci_function *f)
{
	pthread_mutex_lock(&p->lock);
	if (f->slot && f->slot < PCI_MAX_SLOTS && p->slot[f->slot] == f)
		p->slot[f->slot] = NULL;
	pthread_mutex_unlock(&p->lock);
}

void pci_host_init(struct pci_host *p, struct vm *vm)
{
	memset(p, 0, sizeof(*p));
	p->vm = vm;
	p->next_bar = PCI_MMIO_BASE;
	pthread_mutex_init(&p->lock, NULL);
	pci_function_init(&p->bridge, 0x1b36, 0x0008, 0x06000000, 0x1af4, 0x1100);
	p->bridge.cfg[0x3d] = 0; /* no interrupt */
	p->slot[0] = &p->bridge;
}

void pci_host_destroy(struct pci_host *p)
{
	pthread_mutex_destroy(&p->lock);
}

/* 0xcf8: the address (enable, bus, slot, function, register); 0xcfc-0xcff: its data. */
static void port_access(struct pci_host *p, uint64_t port, uint8_t *data, uint32_t len,
			bool is_write)
{
	uint32_t v = 0, a = p->address;

	memcpy(&v, data, len > 4 ? 4 : len);
	if (port == PCI_CONFIG_PORT && len == 4) {
		if (is_write)
			p->address = v & 0x80fffffcu;
		else
			memcpy(data, &p->address, 4);
		return;
	}
	if (port < PCI_CONFIG_PORT + 4 || !(a & 0x80000000u) || ((a >> 16) & 0xff)) {
		if (!is_write) /* no bus, or not bus 0: no device answers */
			memset(data, 0xff, len);
		return;
	}
	unsigned off = (a & 0xfc) + (unsigned)(port - PCI_CONFIG_PORT - 4);

	if (is_write) {
		config_write(p, (a >> 11) & 31, (a >> 8) & 7, off, len, v);
	} else {
		v = config_read(p, (a >> 11) & 31, (a >> 8) & 7, off, len);
		memcpy(data, &v, len);
	}
}

/* ECAM: bus << 20 | slot << 15 | function << 12 | register. */
static void ecam_access(struct pci_host *p, uint64_t off, uint8_t *data, uint32_t len,
			bool is_write)
{
	unsigned slot = (unsigned)(off >> 15) & 31, fn = (unsigned)(off >> 12) & 7;
	unsigned reg = (unsigned)off & 0xfff;
	uint32_t v = 0;

	if (len > 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	memcpy(&v, data, len);
	if (is_write) {
		config_write(p, slot, fn, reg, len, v);
	} else {
		v = !function_at(p, slot, fn) || reg < 256 ? config_read(p, slot, fn, reg, len) : 0;
		memcpy(data, &v, len);
	}
}

static enum exit_action pci_io(struct vcpu *v, void *opaque, uint64_t addr, uint8_t *data,
			       uint32_t len, bool is_write)
{
	struct pci_host *p = opaque;
	struct pci_function *target = NULL;
	unsigned bar = 0;
	uint64_t off = 0;

	(void)v;
	pthread_mutex_lock(&p->lock);
	if (addr >= PCI_CONFIG_PORT && addr < PCI_CONFIG_PORT + 8 && p->enabled) {
		port_access(p, addr, data, len, is_write);
	} else if (addr >= PCI_ECAM_BASE && addr < PCI_ECAM_BASE + PCI_ECAM_SIZE && p->enabled) {
		ecam_access(p, addr - PCI_ECAM_BASE, data, len, is_write);
	} else {
		for (unsigned s = 0; s < PCI_MAX_SLOTS && !target && p->enabled; s++)
			for (unsigned b = 0; p->slot[s] && b < PCI_BARS; b++) {
				struct pci_function *f = p->slot[s];

				if (f->bar_addr[b] && addr >= f->bar_addr[b] &&
				    addr - f->bar_addr[b] < f->bar_size[b]) {
					target = f, bar = b, off = addr - f->bar_addr[b];
					break;
				}
			}
		if (!target && !is_write)
			memset(data, 0xff, len);
	}
	pthread_mutex_unlock(&p->lock);
	/* Outside the host's lock: the function's registers have locks of their own. */
	if (target && off + len <= target->bar_size[bar])
		target->ops->bar_io(target, bar, off, data, len, is_write);
	else if (target && !is_write)
		memset(data, 0xff, len);
	return EXIT_CONTINUE;
}

/*
 * The host's own state: the address register and whether the bus is on. The functions'
 * configuration spaces are saved with their devices (virtio_pci_state, a SNAP_PCI record
 * each); a state's bus must be as the domain's configuration makes it.
 */
struct pci_state {
	uint32_t address;
	uint32_t enabled;
};

static size_t pci_save(void *dev, uint8_t *buf, size_t cap)
{
	struct pci_host *p = dev;
	struct pci_state st;

	if (cap < sizeof(st))
		return 0;
	pthread_mutex_lock(&p->lock);
	st = (struct pci_state){p->address, p->enabled};
	pthread_mutex_unlock(&p->lock);
	memcpy(buf, &st, sizeof(st));
	return sizeof(st);
}

static int pci_restore(void *dev, const uint8_t *buf, size_t len, const char **why)
{
	struct pci_host *p = dev;
	struct pci_state st;

	if (len != sizeof(st)) {
		*why = "the PCI host state has the wrong size";
		return -EINVAL;
	}
	memcpy(&st, buf, sizeof(st));
	if ((st.address & ~0x80fffffcu) || st.enabled > 1) {
		*why = "the PCI host state has reserved bits set";
		return -EINVAL;
	}
	if (st.enabled != p->enabled) {
		*why = st.enabled ? "the state has a PCI bus; this domain has none (--virtio-pci)"
				  : "the state has no PCI bus; this domain has one (--virtio-pci)";
		return -EINVAL;
	}
	pthread_mutex_lock(&p->lock);
	p->address = st.address;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

const struct platform_dev_ops pci_host_ops = {
	.name = "pci-host",
	.ranges = {{PLATFORM_PIO, PCI_CONFIG_PORT, 8},
		   {PLATFORM_MMIO, PCI_ECAM_BASE, PCI_ECAM_SIZE},
		   {PLATFORM_MMIO, PCI_MMIO_BASE, PCI_MMIO_SIZE}},
	.io = pci_io,
	.save = pci_save,
	.restore = pci_restore,
};
