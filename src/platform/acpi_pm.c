/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Full ACPI's fixed hardware (ACPI 6.5, 4.8): the PM1a event block (PM1_STS, PM1_EN), the
 * PM1a control block (SCI_EN, SLP_TYP, SLP_EN) and the PM timer, at ACPI_PM_BASE where the
 * FADT of the full profile says (src/hvm/acpi.c), and the SCI, a level on ACPI_SCI_GSI
 * while an enabled status bit is set (the MADT says level, active high, as QEMU's does).
 *
 *   PM timer   3.579545 MHz, 32 bits (TMR_VAL_EXT), from the host's monotonic clock; its
 *              TMR_STS (bit 31 changed) is noticed when PM1_STS is read, and raises no SCI
 *              by itself.
 *   power      the fixed power button (PWRBTN_STS, PWRBTN_EN): hvm_power_button.
 *   sleep      SLP_EN with \_S5's SLP_TYP powers the domain off with code 0; with \_S3's,
 *              the vCPU sleeps (memory kept) until the power button or the CMOS alarm, then
 *              starts again in real mode at the FACS's waking vector, with WAK_STS set, as
 *              a PC's firmware resumes. Only the vCPU that wrote SLP_EN is reset; kernels
 *              take the others offline before S3.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "capsule/log.h"
#include "capsule/platform.h"
#include "capsule/vm.h"

#define SLP_TYP(cnt) (((cnt) >> 10) & 7u)
#define STS_W1C (PM1_TMR_STS | (1u << 4) | (1u << 5) | PM1_PWRBTN_STS | (1u << 9) | \
		 PM1_RTC_STS | PM1_WAK_STS)
#define EN_MASK (PM1_TMR_STS | PM1_PWRBTN_STS | PM1_RTC_STS) /* TMR_EN, PWRBTN_EN, RTC_EN */
#define CNT_MASK (7u << 10)                                  /* SLP_TYP is kept */
#define FACS_WAKING_VECTOR 12
#define SUSPEND_POLL_NS 20000000ull /* how often a sleeping machine looks at the alarm */

static uint64_t ticks_now(void)
{
	uint64_t ns = monotonic_ns();

	/* ns * 3579545 / 1e9 without overflowing for centuries of uptime */
	return (ns / 1000000000ull) * ACPI_PM_TIMER_HZ +
	       (ns % 1000000000ull) * ACPI_PM_TIMER_HZ / 1000000000ull;
}

uint32_t acpi_pm_timer(const struct acpi_pm *pm)
{
	return (uint32_t)((int64_t)ticks_now() + pm->tmr_offset);
}

/* Under lock: drive the SCI's level from the status and enable bits. */
static void update_sci(struct acpi_pm *pm)
{
	bool level = (pm->cnt & PM1_CNT_SCI_EN) && (pm->sts & pm->en & EN_MASK);

	if (level == pm->sci)
		return;
	pm->sci = level;
	if (vm_irq_line(pm->vm, ACPI_SCI_GSI, level))
		log_debug("ACPI PM: cannot set the SCI (GSI %u)", ACPI_SCI_GSI);
}

/* Under lock: TMR_STS is set whenever the timer's bit 31 changes. */
static void notice_timer(struct acpi_pm *pm)
{
	uint32_t bit = acpi_pm_timer(pm) >> 31;

	if (bit != pm->tmr_acked) {
		pm->sts |= PM1_TMR_STS;
		pm->tmr_acked = bit;
	}
}

/* One guest access of any width within the block; *sleep gets a SLP_TYP if SLP_EN was
 * written, else stays -1. Under lock. */
static void pm_access(struct acpi_pm *pm, unsigned off, uint8_t *data, uint32_t len,
		      bool is_write, int *sleep)
{
	uint32_t tmr = acpi_pm_timer(pm);

	if (!is_write)
		notice_timer(pm);
	for (uint32_t i = 0; i < len; i++, off++) {
		unsigned shift = 8 * (off & 1);
		uint16_t b = is_write ? (uint16_t)(data[i] << shift) : 0;

		if (off >= ACPI_PM_LEN) {
			if (!is_write)
				data[i] = 0xff;
			continue;
		}
		switch (off) {
		case 0: case 1: /* PM1_STS: write 1 to clear */
			if (is_write)
				pm->sts &= (uint16_t)~(b & STS_W1C);
			else
				data[i] = (uint8_t)(pm->sts >> shift);
			break;
		case 2: case 3: /* PM1_EN */
			if (is_write)
				pm->en = (uint16_t)(((pm->en & ~(0xffu << shift)) | b) & EN_MASK);
			else
				data[i] = (uint8_t)(pm->en >> shift);
			break;
		case 4: case 5: /* PM1_CNT: SCI_EN stays on (no SMI_CMD: always ACPI mode) */
			if (is_write && (b & PM1_CNT_SLP_EN) && sleep)
				*sleep = (int)SLP_TYP((pm->cnt & ~(0xffu << shift)) | b);
			if (is_write)
				pm->cnt = (uint16_t)((((pm->cnt & ~(0xffu << shift)) | b) & CNT_MASK) |
						     PM1_CNT_SCI_EN);
			else
				data[i] = (uint8_t)(pm->cnt >> shift);
			break;
		case 8: case 9: case 10: case 11: /* PM_TMR: read-only */
			if (!is_write)
				data[i] = (uint8_t)(tmr >> (8 * (off - 8)));
			break;
		default:
			if (!is_write)
				data[i] = 0;
			break;
		}
	}
	update_sci(pm);
}

void acpi_pm_access(struct acpi_pm *pm, uint64_t port, uint8_t *data, uint32_t len,
		    bool is_write)
{
	pthread_mutex_lock(&pm->lock);
	pm_access(pm, (unsigned)(port - ACPI_PM_BASE), data, len, is_write, NULL);
	pthread_mutex_unlock(&pm->lock);
}

/* Real mode at the waking vector, as firmware leaves a resuming machine: CS:IP =
 * (vector >> 4):(vector & 0xf), the other segments 0, interrupts off, no paging. */
static int resume_regs(struct vcpu *v, uint32_t vector)
{
	struct kvm_segment seg = {.limit = 0xffff, .type = 3, .present = 1, .s = 1};
	struct kvm_sregs s;
	struct kvm_regs r = {.rip = vector & 0xf, .rflags = 0x2};

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	s.ds = s.es = s.fs = s.gs = s.ss = seg;
	seg.type = 11;
	seg.selector = (uint16_t)(vector >> 4);
	seg.base = (uint64_t)seg.selector << 4;
	s.cs = seg;
	s.cr0 = 0x10; /* ET */
	s.cr3 = s.cr4 = 0;
	s.efer = 0;
	s.idt.base = 0, s.idt.limit = 0x3ff;
	s.gdt.base = 0, s.gdt.limit = 0xffff;
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0 || ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	return 0;
}

static enum exit_action suspend(struct acpi_pm *pm, struct vcpu *v)
{
	const uint8_t *facs = gmem_ptr(&pm->vm->mem, pm->facs, 64);
	uint32_t vector;
	int err;

	log_info("vCPU %u put the machine to sleep (ACPI S3); the power button or the CMOS "
		 "alarm wakes it", v->id);
	/* Finish the OUT that got us here before the registers change under it. */
	v->run->immediate_exit = 1;
	if (ioctl(v->fd, KVM_RUN, 0) == 0 || (errno != EINTR && errno != EAGAIN))
		log_debug("ACPI PM: completing the sleep write: %s", strerror(errno));
	v->run->immediate_exit = 0;
	pthread_mutex_lock(&pm->lock);
	pm->suspended = true;
	while (pm->suspended) {
		pthread_mutex_unlock(&pm->lock);
		if (vm_wait_until(pm->vm, monotonic_ns() + SUSPEND_POLL_NS) != VM_END_NONE)
			return EXIT_DOMAIN_END;
		pthread_mutex_lock(&pm->lock);
		if (pm->suspended && rtc_alarm_due(pm->rtc)) {
			pm->sts |= PM1_RTC_STS;
			pm->suspended = false;
		}
	}
	pm->sts |= PM1_WAK_STS;
	pm->suspends++;
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	memcpy(&vector, facs + FACS_WAKING_VECTOR, 4);
	if (!vector) {
		log_info("the machine woke from S3 with no waking vector in the FACS: rebooting");
		vm_end(pm->vm, VM_END_REBOOT, 0);
		return EXIT_DOMAIN_END;
	}
	log_info("the machine woke from S3: vCPU %u resumes at the waking vector 0x%x", v->id,
		 vector);
	err = resume_regs(v, vector);
	if (err)
		return vcpu_crash(v, NULL, NULL, "cannot resume from S3 (%s)", strerror(-err));
	return EXIT_CONTINUE;
}

static enum exit_action acpi_pm_io(struct vcpu *v, void *opaque, uint64_t addr, uint8_t *data,
				   uint32_t len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	int sleep = -1;

	pthread_mutex_lock(&pm->lock);
	pm_access(pm, (unsigned)(addr - ACPI_PM_BASE), data, len, is_write, &sleep);
	pthread_mutex_unlock(&pm->lock);
	if (sleep == (int)ACPI_S5_SLP_TYP) {
		log_info("vCPU %u turned the machine off (ACPI S5)", v->id);
		vm_end(v->vm, VM_END_POWEROFF, 0);
		return EXIT_DOMAIN_END;
	}
	if (sleep == (int)ACPI_S3_SLP_TYP && pm->facs && gmem_ptr(&pm->vm->mem, pm->facs, 64))
		return suspend(pm, v);
	if (sleep >= 0)
		log_info("vCPU %u asked for sleep type %d, which this machine does not have", v->id,
			 sleep);
	return EXIT_CONTINUE;
}

int acpi_pm_power_button(struct acpi_pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->sts |= PM1_PWRBTN_STS;
	pm->suspended = false; /* a wake event as well */
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	return 0;
}

void acpi_pm_init(struct acpi_pm *pm, struct vm *vm, struct cmos *rtc)
{
	memset(pm, 0, sizeof(*pm));
	pm->vm = vm;
	pm->rtc = rtc;
	pm->cnt = PM1_CNT_SCI_EN;
	pm->tmr_offset = -(int64_t)ticks_now(); /* the timer starts at 0 with the domain */
	pthread_mutex_init(&pm->lock, NULL);
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	pthread_mutex_destroy(&pm->lock);
}

/* The registers, and the timer's value (it goes on from there after a restore). */
struct pm_state {
	uint16_t sts, en, cnt, zero;
	uint32_t tmr, tmr_acked;
};

static size_t acpi_pm_save(void *dev, uint8_t *buf, size_t cap)
{
	struct acpi_pm *pm = dev;
	struct pm_state st;

	if (cap < sizeof(st))
		return 0;
	pthread_mutex_lock(&pm->lock);
	st = (struct pm_state){pm->sts, pm->en, pm->cnt, 0, acpi_pm_timer(pm), pm->tmr_acked};
	pthread_mutex_unlock(&pm->lock);
	memcpy(buf, &st, sizeof(st));
	return sizeof(st);
}

static int acpi_pm_restore(void *dev, const uint8_t *buf, size_t len, const char **why)
{
	struct acpi_pm *pm = dev;
	struct pm_state st;

	if (len != sizeof(st)) {
		*why = "the ACPI PM state has the wrong size";
		return -EINVAL;
	}
	memcpy(&st, buf, sizeof(st));
	if ((st.sts & ~STS_W1C) || (st.en & ~EN_MASK) || (st.cnt & ~(CNT_MASK | PM1_CNT_SCI_EN)) ||
	    !(st.cnt & PM1_CNT_SCI_EN) || st.zero || st.tmr_acked > 1) {
		*why = "the ACPI PM state has bits this device does not have";
		return -EINVAL;
	}
	pthread_mutex_lock(&pm->lock);
	pm->sts = st.sts, pm->en = st.en, pm->cnt = st.cnt;
	pm->tmr_offset = (int64_t)st.tmr - (int64_t)ticks_now();
	pm->tmr_acked = st.tmr_acked;
	/* Drive the line again, whatever it was. */
	pm->sci = !((pm->cnt & PM1_CNT_SCI_EN) && (pm->sts & pm->en & EN_MASK));
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	return 0;
}

const struct platform_dev_ops acpi_pm_ops = {
	.name = "acpi-pm",
	.ranges = {{PLATFORM_PIO, ACPI_PM_BASE, ACPI_PM_LEN}},
	.io = acpi_pm_io,
	.save = acpi_pm_save,
	.restore = acpi_pm_restore,
};
