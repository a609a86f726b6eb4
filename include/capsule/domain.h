/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A domain: what `capsule run` and the API drive. It owns its configuration (plain data,
 * validated in one place), its backends, the VM of its current boot, its kind (PV or HVM
 * behind struct domain_ops) and its lifecycle: created, running, paused, shutting down,
 * shut off, crashed, with xl.cfg's on_poweroff / on_reboot / on_crash actions.
 *
 *   src/domain/config.c   struct domain_config: defaults, validation, actions by name
 *   src/domain/devices.c  the device table: one row per kind of device
 *   src/domain/domain.c   create, boot, run (the lifecycle loop), pause, resume, destroy
 *   src/pv/ops.c, src/hvm/ops.c   the two kinds of domain
 *
 * Nothing here is file-level state: several domains may live in one process.
 */
#ifndef CAPSULE_DOMAIN_H
#define CAPSULE_DOMAIN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "capsule/measure.h"
#include "capsule/hvm.h"
#include "capsule/pv.h"
#include "capsule/virtio.h"
#include "capsule/vm.h"
#include "capsule/wss.h"

struct dev_io;

enum domain_kind { DOMAIN_PV, DOMAIN_HVM };

enum domain_state {
	DOMAIN_CREATED,       /* backends open, not booted yet */
	DOMAIN_RUNNING,
	DOMAIN_PAUSED,
	DOMAIN_SHUTTING_DOWN, /* ending: vCPUs stopping, devices going away */
	DOMAIN_SHUTOFF,       /* powered off (or rebooted with on_reboot=destroy) */
	DOMAIN_CRASHED,
};

/* What to do when the guest powers off, reboots or crashes (xl.cfg's names). */
enum domain_action { ACTION_DESTROY, ACTION_RESTART, ACTION_PRESERVE };

#define DOMAIN_NAME_MAX 64
#define MEM_SHARES_MAX 1000000 /* memory_shares, 1 to this (docs/resources.md) */
#define DOMAIN_MAX_DEVICES 16
#define DEVICE_ARG_MAX 4096
#define DOMAIN_SHUTDOWN_GRACE_S 30 /* as xl shutdown -w waits, then destroy */

/* One device as configured: a kind from the device table and its option text. */
struct device_spec {
	const struct device_kind *kind;
	char arg[DEVICE_ARG_MAX];
};

struct domain_config {
	char name[DOMAIN_NAME_MAX];
	const char *image;   /* PV image, or a kernel for an HVM domain */
	const char *initrd;  /* HVM only */
	const char *cmdline;
	uint64_t mem_mib;
	/* docs/resources.md: private anonymous memory for KSM (memory_backing "private"), and
	 * capsuled's policy: the reservation in MiB and the shares (0: the defaults). */
	bool mem_private;
	uint64_t mem_min_mib, mem_shares;
	/* The write working-set sampler (include/capsule/wss.h): its period and the pages
	 * it samples per period; wss_sample 0 turns it off. */
	uint32_t wss_period_ms, wss_sample;
	/* CPU control (docs/resources.md): Xen's weight and cap, applied by capsuled through
	 * cgroups; cpus pins every vCPU (xl's CPU list, "" = anywhere). */
	unsigned cpu_weight, cap;
	char cpus[256];
	unsigned vcpus;
	bool no_pvh;
	bool acpi_full;      /* HVM: full ACPI (PM timer, FACS, S3), not hardware-reduced */
	bool virtio_pci;     /* HVM: virtio devices on PCI (virtio-pci), not virtio-mmio */
	const char *cpu;     /* HVM: the CPU model (--cpu), or NULL for the host's CPUID */
	enum domain_action on_poweroff, on_reboot, on_crash;
	struct device_spec devices[DOMAIN_MAX_DEVICES];
	unsigned nr_devices;
	FILE *console;       /* where the console goes (stdout) */
	int console_in;      /* where console input comes from (0), or -1 */
	bool stamp_first_hypercall;
	bool print_stats;    /* exit and device counts on stderr at the end of each boot */
	/* Strings read from a file or a client live here (image, initrd, cmdline may point
	 * into it); domain_config_copy keeps those pointers right. */
	char strings[8192];
	size_t strings_used;
};

/* Defaults: 64 MiB, 1 vCPU, empty command line, poweroff/crash destroy, reboot restart. */
void domain_config_init(struct domain_config *c);
/*
 * The one place a configuration is checked, whoever wrote it (flags, a file, a client).
 * Needs to know the kind (which depends on the image): 0, or -1 with a sentence in err.
 */
int domain_config_validate(const struct domain_config *c, enum domain_kind kind, char *err,
			   size_t errlen);
/* A copy whose string pointers into src->strings point into dst->strings instead. */
void domain_config_copy(struct domain_config *dst, const struct domain_config *src);
/*
 * Apply a JSON object (docs/domain-config.schema.json) on top of c: 0, or -1 with a
 * sentence naming the key in err. domain_config_load reads it from a file first.
 */
int domain_config_from_json(struct domain_config *c, const char *text, size_t len, char *err,
			    size_t errlen);
int domain_config_load(struct domain_config *c, const char *path, char *err, size_t errlen);
/* The configuration as a JSON text of that schema (malloc'd), or NULL: from_json of it
 * gives the same configuration back (snapshots keep it so). */
char *domain_config_to_json(const struct domain_config *c);
int domain_action_parse(const char *name, enum domain_action *a);
const char *domain_action_name(enum domain_action a);
const char *domain_state_name(enum domain_state s);

struct domain;

/* A kind of domain: how it is set up on a fresh VM, gets devices, boots and ends. */
struct snap_restore;

struct domain_ops {
	const char *name;
	bool platform; /* in-kernel PIC/IOAPIC/PIT before the vCPUs (vm_config.platform) */
	uint64_t mem_align; /* guest memory is rounded up to this */
	uint64_t hole_start, hole_end; /* RAM past hole_start moves above hole_end (0: none) */
	int (*init)(struct domain *d);
	struct virtio_dev *(*add_device)(struct domain *d, const struct virtio_dev_ops *ops,
					 void *priv);
	int (*build)(struct domain *d);
	int (*start)(struct domain *d);
	void (*destroy)(struct domain *d);
	/* Optional: hypercall counts and the like, one line on out. */
	void (*print_stats)(struct domain *d, FILE *out);
};
extern const struct domain_ops pv_domain_ops, hvm_domain_ops;

/*
 * A kind of device: its name, its option and usage text, and how its backend is opened,
 * attached to each boot, started once the guest runs, stopped and closed. Adding a device
 * is one file and one row of the table (src/domain/devices.c).
 */
struct device_kind {
	const char *name;   /* "disk" */
	const char *option; /* "--disk" */
	const char *usage;  /* "PATH[,readonly][,serial=ID]   virtio-blk on a raw image" */
	bool has_arg;       /* the option takes an argument */
	unsigned max;       /* how many a domain may have */
	void *(*open)(const char *arg, char *err, size_t errlen);
	/* Create its virtio device on a domain being built (or NULL). */
	struct virtio_dev *(*attach)(struct domain *d, void *backend);
	void (*close)(void *backend); /* after the domain's last boot */
	void (*io)(const void *backend, struct dev_io *out); /* optional: accounting */
};

/* The table, and the row for an option ("--disk") or a name ("disk"), or NULL. */
extern const struct device_kind *const device_kinds[];
const struct device_kind *device_kind_by_option(const char *option);
const struct device_kind *device_kind_by_name(const char *name);
/* The usage lines of every device, for --help. */
void device_kinds_usage(FILE *out);

struct domain_device {
	const struct device_kind *kind;
	void *backend;
	struct virtio_dev *dev; /* in the current boot, or NULL */
};

struct domain {
	struct domain_config cfg;
	enum domain_kind kind;
	const struct domain_ops *ops;
	int image_fd, initrd_fd, kvm_fd; /* opened once: a reboot needs no privilege */
	/* The image, read once when the domain is created: classified, measured and loaded
	 * by every boot from these bytes (the file is not read again). */
	uint8_t *image;
	size_t image_size;

	pthread_mutex_t lock;   /* state, vm, and the devices' dev pointers */
	enum domain_state state;
	struct vm *vm;          /* of the current boot, or NULL */
	struct vm vm_storage;
	union {
		struct pv_domain pv;
		struct hvm_domain hvm;
	} k;
	struct domain_device devices[DOMAIN_MAX_DEVICES];
	unsigned nr_devices;
	struct virtio_dev *balloon; /* the balloon of the current boot, or NULL */
	struct console_log console_log; /* the console's history, across boots */

	void (*observer)(void *opaque, enum domain_state s); /* told every state change */
	void *observer_opaque;
	/* Called once, on the main thread, right after the first boot's vCPUs start: what can
	 * wait until the guest runs waits there (launch is measured to the first hypercall). */
	void (*on_started)(struct domain *d, void *opaque);
	void *on_started_opaque;
	bool end_requested;     /* ended from outside: no restart */
	uint64_t shutdown_deadline; /* a power-off request is destroyed then (0: none) */
	unsigned shutdown_grace_s;
	bool shutdown_forced;   /* the guest ignored it and was destroyed */
	pthread_cond_t ended;   /* end_requested became true */
	unsigned holds;         /* under lock: domain_hold users of the current boot */
	pthread_cond_t released; /* holds went to 0 */
	unsigned boots;
	enum vm_end_reason last_end;
	int last_code;
	/* Snapshots (src/snapshot/): restored from this (its first boot), saved (ended by a
	 * save), and how many restores and clones lie behind this domain. */
	struct snap_restore *restore;
	bool saved;
	bool migrated; /* and saved to a migration's destination, which runs it now */
	uint32_t generation;
	struct gdb_stub *gdb; /* capsule run --gdb (include/capsule/gdb.h), or NULL */
	/* Each vCPU's CPUs (cfg.cpus, then vcpu-pin), kept across reboots; under lock. */
	cpu_set_t affinity[CAP_MAX_VCPUS];
	struct launch_measure measure; /* of what it boots (docs/measured-launch.md) */
	struct watch_set *watches; /* introspection's watches (include/capsule/introspect.h) */
	struct wss_sampler wss; /* the write working set of the current boot */
	/* capsule run --paused: the first boot is built and waits paused before its first
	 * instruction until resumed (an OCI runtime's create, then start). */
	bool start_paused;
};

/* Open everything the domain needs (image, initrd, /dev/kvm, backends): 0, or -1 with a
 * message on stderr. Nothing runs yet. */
int domain_create(struct domain *d, const struct domain_config *cfg);
/*
 * Boot and run the domain until it ends for good, applying the lifecycle actions
 * (restart on reboot, and so on) and stopping at deadline_ns (0: none) as a timeout.
 * Returns why the last boot ended and its code in *code; -1 if a boot could not be built.
 */
int domain_run(struct domain *d, uint64_t deadline_ns, enum vm_end_reason *why, int *code);
/* The guest memory its configuration gives: mem_bytes and the hole (snapshots check it). */
void domain_mem_layout(const struct domain *d, struct vm_config *v);
/* Ask the running domain to end (signals, the API): no-op if it is not running. */
void domain_end(struct domain *d, enum vm_end_reason why, int code);
/*
 * Ask the guest to power off (or reboot) cleanly: a PV domain through its control port
 * (docs/pv-abi.md 11.1), an HVM domain by its ACPI power button; one that has not powered
 * off within grace_s is destroyed. 0, -EINVAL if it is not running, -EBUSY if it is paused
 * (it could not see the request: resume it first), -ENOTSUP for a reboot
 * of an HVM domain (ACPI has no reboot button).
 */
int domain_shutdown(struct domain *d, bool reboot, unsigned grace_s);
/*
 * Hold the current boot for work outside d->lock (a snapshot, a migration): its VM, memory
 * and devices are not torn down until domain_release, even if it ends meanwhile (the
 * teardown waits; the holder sees vm_ended and stops soon). 0 with *was_running, or
 * -EINVAL with what it is in err ("ending", or its state's name) if no boot is running
 * or paused.
 */
int domain_hold(struct domain *d, bool *was_running, char *err, size_t errlen);
void domain_release(struct domain *d);
int domain_pause(struct domain *d);  /* vCPUs paused, or a negative errno */
int domain_resume(struct domain *d); /* 0, or -EINVAL if it was not paused */
void domain_print_stats(struct domain *d, FILE *out);
/* Call fn (outside the domain's lock, from whichever thread changed it) at every state
 * change; NULL stops it. */
void domain_set_observer(struct domain *d, void (*fn)(void *opaque, enum domain_state s),
			 void *opaque);
void domain_destroy(struct domain *d);

#endif
