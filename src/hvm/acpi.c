/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACPI tables in the BIOS area (0xe0000), where Linux also finds them by scanning: RSDP,
 * XSDT, FADT (with the i8042 reset register), MADT (one local APIC per vCPU, the IOAPIC)
 * and a DSDT describing the serial port, the i8042, the RTC and each virtio-mmio device.
 * Two profiles (enum hvm_acpi): hardware-reduced, with the power button behind a Generic
 * Event Device and the sleep registers at 0x600; or full, with the PM1a blocks and the PM
 * timer (src/platform/acpi_pm.c), the SCI on GSI 9 (an interrupt source override in the
 * MADT), a FACS for the waking vector, and \_S3 beside \_S5.
 * tests/unit/test_hvm.c disassembles them with iasl.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "aml.h"
#include "capsule/hvm.h"
#include "capsule/log.h"

#define HDR 36

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)(0 - sum);
}

static void put(uint8_t *p, size_t off, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put(t, 4, len, 4);
	t[8] = rev;
	memcpy(t + 10, "CAPSUL", 6);
	memcpy(t + 16, "CAPSULE ", 8);
	put(t, 24, 1, 4);
	memcpy(t + 28, "CAPS", 4);
	put(t, 32, 1, 4);
	t[9] = 0;
	t[9] = checksum(t, len);
}

/*
 * The Generic Event Device. In hardware-reduced ACPI it is the power button, as Cloud
 * Hypervisor has it: there is no fixed power button (FADT PWR_BUTTON) and no GPE block, so
 * the GED takes the interrupt and its _EVT tells the control-method button (PNP0C0C) that it
 * was pressed. In both profiles it tells the VM generation ID device that the ID changed.
 *
 *	Device (PWRB) { Name (_HID, EisaId ("PNP0C0C")) Name (_UID, Zero) }	// reduced
 *	Device (GED0) {
 *		Name (_HID, "ACPI0013") Name (_UID, Zero)
 *		Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, HVM_GED, 16)
 *			Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { HVM_GED_GSI } })
 *		OperationRegion (GDST, SystemMemory, HVM_GED, 4)
 *		Field (GDST, DWordAcc, NoLock, Preserve) { GDAT, 32 }
 *		Method (_EVT, 1, Serialized) {
 *			Local0 = GDAT	// one read: it clears the register
 *			If ((Local0 & One) == One) { Notify (\_SB.PWRB, 0x80) }	// reduced
 *			If ((Local0 & 2) == 2) { Notify (\_SB.VGEN, 0x80) }
 *		}
 *	}
 */
static void notify_if(struct aml *a, uint32_t event, const char *device)
{
	size_t cond;

	aml_if_begin(a, &cond);
	aml_lequal(a);
	aml_and(a), aml_local(a, 0), aml_integer(a, event), aml_null_name(a);
	aml_integer(a, event);
	aml_notify(a), aml_name_ref(a, device), aml_integer(a, 0x80); /* status change */
	aml_pkg_end(a, cond);
}

static void build_ged(struct aml *a, bool power_button)
{
	size_t dev, crs, buf, field, method;

	if (power_button) {
		aml_device_begin(a, "PWRB", &dev);
		aml_name(a, "_HID"), aml_eisaid(a, "PNP0C0C");
		aml_name(a, "_UID"), aml_integer(a, 0);
		aml_pkg_end(a, dev);
	}

	aml_device_begin(a, "GED0", &dev);
	aml_name(a, "_HID"), aml_string(a, "ACPI0013");
	aml_name(a, "_UID"), aml_integer(a, 0);
	aml_crs_begin(a, &crs, &buf);
	aml_res_mem32(a, (uint32_t)HVM_GED, GED_MMIO_SIZE);
	aml_res_interrupt(a, HVM_GED_GSI, true);
	aml_crs_end(a, crs, buf);
	aml_operation_region(a, "GDST", AML_SPACE_SYSTEM_MEMORY, HVM_GED, 4);
	aml_field_begin(a, "GDST", AML_FIELD_DWORD_ACC, &field);
	aml_field_unit(a, "GDAT", 32);
	aml_pkg_end(a, field);
	aml_method_begin(a, "_EVT", 1, true, &method);
	aml_store(a), aml_name_ref(a, "GDAT"), aml_local(a, 0);
	if (power_button)
		notify_if(a, GED_EVENT_POWER_BUTTON, "\\_SB_.PWRB");
	notify_if(a, GED_EVENT_VMGENID, "\\_SB_.VGEN");
	aml_pkg_end(a, method);
	aml_pkg_end(a, dev);
}

/*
 * Microsoft's Virtual Machine Generation ID (as QEMU's vmgenid device): a 128-bit ID in
 * guest memory that changes whenever the machine may run twice from one state (a restore,
 * a clone), so that a guest reseeds its random numbers and renews what must be unique.
 * ADDR gives its guest-physical address as two 32-bit halves; Notify (0x80) through the
 * GED says it changed (hvm_vmgenid_renew).
 *
 *	Device (VGEN) {
 *		Name (_HID, "VMGENCTR") Name (_CID, "VM_Gen_Counter") Name (_DDN, "VM_Gen_Counter")
 *		Method (ADDR, 0, NotSerialized) { Return (Package (2) { HVM_VMGENID, Zero }) }
 *	}
 */
static void build_vmgenid(struct aml *a)
{
	size_t dev, method, pkg;

	aml_device_begin(a, "VGEN", &dev);
	aml_name(a, "_HID"), aml_string(a, "VMGENCTR");
	aml_name(a, "_CID"), aml_string(a, "VM_Gen_Counter");
	aml_name(a, "_DDN"), aml_string(a, "VM_Gen_Counter");
	aml_method_begin(a, "ADDR", 0, false, &method);
	aml_return(a);
	aml_package_begin(a, 2, &pkg);
	aml_integer(a, HVM_VMGENID & 0xffffffffu), aml_integer(a, HVM_VMGENID >> 32);
	aml_pkg_end(a, pkg);
	aml_pkg_end(a, method);
	aml_pkg_end(a, dev);
}

/*
 * PCI bus 0 (when the devices are on PCI): a PCI Express root (PNP0A08, PCI-compatible
 * PNP0A03) on segment 0, its resources (bus 0, the configuration ports, the BAR window) and
 * the legacy INTx routes of every slot (_PRT: slot s, pin p to GSI 17 + (s + p) % 4, as
 * pci_intx_gsi swizzles them; hardwired GSIs, level-triggered).
 */
static void build_pci(struct aml *a)
{
	size_t dev, crs, buf, prt, entry;

	aml_device_begin(a, "PCI0", &dev);
	aml_name(a, "_HID"), aml_eisaid(a, "PNP0A08");
	aml_name(a, "_CID"), aml_eisaid(a, "PNP0A03");
	aml_name(a, "_UID"), aml_integer(a, 0);
	aml_name(a, "_SEG"), aml_integer(a, 0);
	aml_name(a, "_BBN"), aml_integer(a, 0);
	aml_crs_begin(a, &crs, &buf);
	aml_res_word_bus(a, 0, 0);
	aml_res_io(a, PCI_CONFIG_PORT, 8);
	aml_res_dword_mem(a, (uint32_t)PCI_MMIO_BASE, (uint32_t)PCI_MMIO_SIZE);
	aml_crs_end(a, crs, buf);
	aml_name(a, "_PRT");
	aml_package_begin(a, (PCI_MAX_SLOTS - 1) * 4, &prt);
	for (unsigned slot = 1; slot < PCI_MAX_SLOTS; slot++)
		for (unsigned pin = 0; pin < 4; pin++) {
			aml_package_begin(a, 4, &entry);
			aml_integer(a, (uint64_t)slot << 16 | 0xffff);
			aml_integer(a, pin);
			aml_integer(a, 0); /* no link device: a GSI */
			aml_integer(a, PCI_INTX_GSI + (slot + pin) % 4);
			aml_pkg_end(a, entry);
		}
	aml_pkg_end(a, prt);
	aml_pkg_end(a, dev);
}

static size_t build_dsdt(struct hvm_domain *h, uint8_t *t, size_t cap)
{
	struct aml a = {.buf = t + HDR, .cap = cap - HDR};
	size_t sb, dev, crs, buf;
	char name[8]; /* a 4-character NameSeg, "VR00".."VR08" */

	/* Soft off (S5): the guest writes SLP_TYP 5 to the FADT's sleep control register, or
	 * to PM1a_CNT (full profile, which also has suspend to RAM, S3). */
	size_t pkg;
	aml_name(&a, "_S5_");
	aml_package_begin(&a, 2, &pkg);
	aml_integer(&a, ACPI_S5_SLP_TYP), aml_integer(&a, 0);
	aml_pkg_end(&a, pkg);
	if (h->acpi == HVM_ACPI_FULL) {
		aml_name(&a, "_S3_");
		aml_package_begin(&a, 2, &pkg);
		aml_integer(&a, ACPI_S3_SLP_TYP), aml_integer(&a, 0);
		aml_pkg_end(&a, pkg);
	}

	aml_scope_begin(&a, "\\_SB_", &sb);

	aml_device_begin(&a, "COM1", &dev);
	aml_name(&a, "_HID"), aml_eisaid(&a, "PNP0501");
	aml_name(&a, "_UID"), aml_integer(&a, 1);
	aml_crs_begin(&a, &crs, &buf);
	aml_res_io(&a, UART_COM1_BASE, 8);
	aml_res_irq(&a, UART_COM1_IRQ);
	aml_crs_end(&a, crs, buf);
	aml_pkg_end(&a, dev);

	aml_device_begin(&a, "PS2K", &dev);
	aml_name(&a, "_HID"), aml_eisaid(&a, "PNP0303");
	aml_crs_begin(&a, &crs, &buf);
	aml_res_io(&a, I8042_DATA, 1);
	aml_res_io(&a, I8042_CMD, 1);
	aml_res_irq(&a, 1);
	aml_crs_end(&a, crs, buf);
	aml_pkg_end(&a, dev);

	aml_device_begin(&a, "RTC_", &dev);
	aml_name(&a, "_HID"), aml_eisaid(&a, "PNP0B00");
	aml_crs_begin(&a, &crs, &buf);
	aml_res_io(&a, RTC_PORT, 2);
	aml_res_irq(&a, 8);
	aml_crs_end(&a, crs, buf);
	aml_pkg_end(&a, dev);

	for (unsigned i = 0; i < h->nr_devices; i++) {
		if (h->devices[i].pci) /* found on the PCI bus */
			continue;
		snprintf(name, sizeof(name), "VR%02u", i % 100);
		aml_device_begin(&a, name, &dev);
		aml_name(&a, "_HID"), aml_string(&a, "LNRO0005"); /* Linux's virtio-mmio ID */
		aml_name(&a, "_UID"), aml_integer(&a, i);
		aml_crs_begin(&a, &crs, &buf);
		aml_res_mem32(&a, (uint32_t)h->devices[i].dev.base, VIRTIO_MMIO_SIZE);
		aml_res_interrupt(&a, h->devices[i].gsi, true);
		aml_crs_end(&a, crs, buf);
		aml_pkg_end(&a, dev);
	}
	/* full ACPI has the fixed power button; the GED serves the generation ID there */
	build_ged(&a, h->acpi == HVM_ACPI_REDUCED);
	build_vmgenid(&a);
	if (h->pci.enabled)
		build_pci(&a);
	aml_pkg_end(&a, sb);
	if (a.overflow)
		return 0;
	header(t, "DSDT", (uint32_t)(HDR + a.len), 2);
	return HDR + a.len;
}

static size_t build_madt(struct hvm_domain *h, uint8_t *t, size_t cap)
{
	size_t len = HDR + 8;

	if (cap < len + 8 * h->vm->nr_vcpus + 12 + 10 + 6)
		return 0;
	put(t, HDR, HVM_LAPIC, 4);
	put(t, HDR + 4, 1, 4); /* PCAT_COMPAT: there are 8259 PICs too */
	for (unsigned i = 0; i < h->vm->nr_vcpus; i++, len += 8) {
		uint8_t lapic[8] = {0, 8, (uint8_t)i, (uint8_t)i, 1, 0, 0, 0}; /* enabled */

		memcpy(t + len, lapic, 8);
	}
	uint8_t ioapic[12] = {1, 12, 0, 0};
	put(ioapic, 4, HVM_IOAPIC, 4);
	memcpy(t + len, ioapic, 12);
	len += 12;
	if (h->acpi == HVM_ACPI_FULL) { /* the SCI: ISA IRQ 9 is GSI 9, level, active high */
		uint8_t iso[10] = {2, 10, 0, ACPI_SCI_GSI, ACPI_SCI_GSI, 0, 0, 0, 0x0d, 0};

		memcpy(t + len, iso, 10);
		len += 10;
	}
	uint8_t nmi[6] = {4, 6, 0xff, 0, 0, 1}; /* LINT1 of every processor is NMI */
	memcpy(t + len, nmi, 6);
	len += 6;
	header(t, "APIC", (uint32_t)len, 5);
	return len;
}

/* A Generic Address Structure: SystemIO, `bits` wide, accessed `access` (1 byte .. 3 dword). */
static void gas_io(uint8_t *p, uint16_t port, uint8_t bits, uint8_t access)
{
	memset(p, 0, 12);
	p[0] = 1;
	p[1] = bits;
	p[3] = access;
	put(p, 4, port, 8);
}

/* Full ACPI's fixed hardware: the PM1a blocks and the PM timer, the SCI, the FACS. */
static void fadt_full(uint8_t *t, uint64_t facs)
{
	put(t, 36, facs, 4);              /* FIRMWARE_CTRL */
	put(t, 46, ACPI_SCI_GSI, 2);      /* SCI_INT; SMI_CMD 0: always in ACPI mode */
	put(t, 56, ACPI_PM1_EVT, 4);      /* PM1a_EVT_BLK */
	put(t, 64, ACPI_PM1_CNT, 4);      /* PM1a_CNT_BLK */
	put(t, 76, ACPI_PM_TMR, 4);       /* PM_TMR_BLK */
	t[88] = 4, t[89] = 2, t[91] = 4;  /* PM1_EVT_LEN, PM1_CNT_LEN, PM_TMR_LEN */
	put(t, 96, 101, 2);               /* P_LVL2_LAT > 100: no C2 */
	put(t, 98, 1001, 2);              /* P_LVL3_LAT > 1000: no C3 */
	t[108] = 0x32;                    /* CENTURY: the CMOS index */
	gas_io(t + 148, ACPI_PM1_EVT, 32, 2);
	gas_io(t + 172, ACPI_PM1_CNT, 16, 2);
	gas_io(t + 208, ACPI_PM_TMR, 32, 3);
}

static size_t build_fadt(uint8_t *t, enum hvm_acpi acpi, uint64_t dsdt, uint64_t facs)
{
	const size_t len = 276; /* revision 6 */

	memset(t, 0, len);
	put(t, 40, dsdt, 4);
	uint8_t reset_reg[12];
	gas_io(reset_reg, I8042_CMD, 8, 1);
	memcpy(t + 116, reset_reg, 12);
	t[128] = 0xfe; /* the i8042's reset command */
	if (acpi == HVM_ACPI_FULL) {
		fadt_full(t, facs);
		put(t, 109, 0x0001 | 0x0002 | 0x0004, 2); /* IAPC_BOOT_ARCH: ISA devices, 8042, no VGA */
		/* WBINVD, C1, a fixed power button, no sleep button, RTC wake from S4, 32-bit
		 * timer, reset register supported. */
		put(t, 112, (1u << 0) | (1u << 2) | (1u << 5) | (1u << 7) | (1u << 8) | (1u << 10), 4);
	} else {
		put(t, 109, 0x0002 | 0x0004, 2); /* IAPC_BOOT_ARCH: 8042 present, no VGA */
		/* Hardware-reduced ACPI, no power or sleep button, reset register supported. */
		put(t, 112, (1u << 20) | (1u << 4) | (1u << 5) | (1u << 10), 4);
		/* Sleep control and status registers (hardware-reduced ACPI): S5 powers off. */
		uint8_t sleep_reg[12];
		gas_io(sleep_reg, ACPI_SLEEP_CONTROL, 8, 1);
		memcpy(t + 244, sleep_reg, 12);
		gas_io(sleep_reg, ACPI_SLEEP_STATUS, 8, 1);
		memcpy(t + 256, sleep_reg, 12);
	}
	t[131] = 5;    /* FADT minor version: 6.5 */
	put(t, 140, dsdt, 8);
	memcpy(t + 268, "CAPSULE\0", 8); /* hypervisor vendor identity */
	header(t, "FACP", (uint32_t)len, 6);
	return len;
}

/* Firmware ACPI Control Structure (ACPI 6.5, 5.2.10): the waking vector the guest sets
 * before S3, where acpi_pm.c resumes it. No global lock (no SMI firmware to share with). */
static void build_facs(uint8_t *t)
{
	memset(t, 0, 64);
	memcpy(t, "FACS", 4);
	put(t, 4, 64, 4);
	put(t, 8, 0x43415053, 4); /* hardware signature: "SPAC", fixed for the domain's life */
	t[32] = 2;                /* version */
}

/* PCI Express memory-mapped configuration (MCFG): ECAM of segment 0, bus 0. */
static size_t build_mcfg(uint8_t *t)
{
	const size_t len = HDR + 8 + 16;

	memset(t, 0, len);
	put(t, HDR + 8, PCI_ECAM_BASE, 8);
	put(t, HDR + 8 + 8, 0, 2); /* segment */
	t[HDR + 8 + 10] = 0;       /* first bus */
	t[HDR + 8 + 11] = 0;       /* last bus */
	header(t, "MCFG", (uint32_t)len, 1);
	return len;
}

/*
 * Capsule's launch measurement (docs/measured-launch.md), a table of its own with the
 * signature "CMSR" (not one ACPI defines, so no OS acts on it): after the header, the
 * algorithm (u32, 1 = SHA-256), the digest's length (u32, 32) and the digest.
 */
#define CMSR_LEN (HDR + 8 + 32)
static void build_cmsr(uint8_t *t, const uint8_t *digest)
{
	memset(t, 0, CMSR_LEN);
	put(t, HDR, 1, 4);
	put(t, HDR + 4, 32, 4);
	memcpy(t + HDR + 8, digest, 32);
	header(t, "CMSR", CMSR_LEN, 1);
}

int acpi_build(struct hvm_domain *h)
{
	/* FACS 64-byte aligned; the others where they fit. The XSDT has room for 8 entries. */
	uint64_t rsdp = HVM_ACPI, xsdt = rsdp + 64, facs = xsdt + 128, fadt = facs + 64;
	uint64_t madt = fadt + 288, mcfg = madt + 1024, cmsr = mcfg + 64, dsdt = cmsr + 128;
	unsigned nx = 2; /* XSDT entries: FADT, MADT, then those a domain has */
	uint8_t *base = gmem_ptr(&h->vm->mem, HVM_ACPI, HVM_ACPI_END - HVM_ACPI);
	size_t madt_len, dsdt_len;

	if (!base)
		return -EINVAL;
	memset(base, 0, HVM_ACPI_END - HVM_ACPI);
	madt_len = build_madt(h, base + (madt - HVM_ACPI), mcfg - madt);
	dsdt_len = build_dsdt(h, base + (dsdt - HVM_ACPI), HVM_VMGENID - dsdt);
	if (!madt_len || !dsdt_len) {
		log_err("ACPI tables do not fit in the BIOS area");
		return -ENOSPC;
	}
	if (!mptable_build(h, base + (HVM_MPTABLE - HVM_ACPI), HVM_ACPI_END - HVM_MPTABLE))
		log_info("no MP table: its APIC IDs are 8 bits, for at most 254 vCPUs");
	build_fadt(base + (fadt - HVM_ACPI), h->acpi, dsdt, facs);
	if (hvm_vmgenid_new(h))
		return -EIO;
	if (h->acpi == HVM_ACPI_FULL) {
		build_facs(base + (facs - HVM_ACPI));
		h->pm.facs = facs;
	}

	uint8_t *x = base + (xsdt - HVM_ACPI);
	put(x, HDR, fadt, 8);
	put(x, HDR + 8, madt, 8);
	if (h->pci.enabled) {
		build_mcfg(base + (mcfg - HVM_ACPI));
		put(x, HDR + 8 * nx++, mcfg, 8);
	}
	if (h->measurement) {
		build_cmsr(base + (cmsr - HVM_ACPI), h->measurement);
		put(x, HDR + 8 * nx++, cmsr, 8);
	}
	header(x, "XSDT", HDR + 8 * nx, 1);

	uint8_t *r = base;
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "CAPSUL", 6);
	r[15] = 2;           /* ACPI 2.0+ RSDP */
	put(r, 20, 36, 4);   /* length */
	put(r, 24, xsdt, 8); /* XSDT; no RSDT */
	r[8] = checksum(r, 20);
	r[32] = checksum(r, 36);
	h->rsdp = rsdp;
	return 0;
}
