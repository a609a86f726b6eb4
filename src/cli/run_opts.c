/* SPDX-License-Identifier: Apache-2.0 */
/* capsule run's options: the command line into a checked domain_config and the runner's own (run.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "capsule/cli.h"
#include "capsule/domain.h"
#include "capsule/jail.h"
#include "capsule/gdb.h"
#include "capsule/log.h"
#include "capsule/migrate.h"
#include "capsule/sandbox.h"
#include "capsule/snapshot.h"
#include "capsule/usock.h"
#include "capsule/vmm_api.h"
#include "run.h"


static void run_usage(FILE *out)
{
	fprintf(out,
		"usage: capsule run [OPTIONS] IMAGE [OPTIONS]\n"
		"       capsule run --config FILE [OPTIONS]\n\n"
		"Run a domain in the foreground; capsule exits with the guest's exit code.\n"
		"IMAGE is a PV image (an ELF built with Capsule's guest kit), or a kernel for an\n"
		"HVM domain: a Linux bzImage or vmlinux, a PVH ELF, or a multiboot kernel. The\n"
		"console (the PV console ring, or the HVM serial port COM1) is on stdout.\n\n"
		"  -m, --mem MiB        guest memory (default 64)\n"
		"      --memory-backing shared|private\n"
		"                       guest memory in a memfd (default), or private anonymous\n"
		"                       memory that KSM may share with other domains\n"
		"      --wss-period MS  sample the write working set every MS ms, %u to %u\n"
		"                       (default %u; docs/resources.md)\n"
		"      --wss-sample N   pages sampled per period, 1 to %u (default %u); 0, or\n"
		"      --no-wss         no sampling (no dirty log while no snapshot or migration)\n"
		"  -c, --vcpus N        virtual CPUs, 1 to %u (default 1)\n"
		"  -p, --cmdline STR    command line passed to the guest\n"
		"  -n, --name NAME      the domain's name (default \"domain\")\n"
		"      --config FILE    a JSON domain configuration (docs/domain-config.schema.json);\n"
		"                       options after it override it\n"
		"      --restore DIR    run the domain saved in the snapshot DIR (docs/snapshot.md)\n"
		"                       from where it was: its configuration, memory (mapped\n"
		"                       copy-on-write) and state; options after it override it\n"
		"      --no-prefetch    with --restore: do not prefetch DIR/workingset (the pages\n"
		"                       'capsule control SOCK working-set DIR' recorded)\n"
		"      --incoming ADDR:PORT|fd=N\n"
		"                       wait on TCP for a live migration ('capsule control SOCK\n"
		"                       migrate ADDR:PORT'), then run the domain it brings, as\n"
		"                       --restore does (docs/migration.md); fd=N: on a connection\n"
		"                       a manager relays (capsuled), with --insecure\n"
		"      --tls DIR        the migration mutually authenticated with DIR/ca.pem,\n"
		"                       DIR/cert.pem and DIR/key.pem; or --insecure: plain TCP\n"
		"      --net-mac MAC, --net-tap NAME\n"
		"                       the next net device's MAC address or TAP device instead\n"
		"                       of its own (a clone's: capsule clone gives each new ones)\n"
		"      --initrd PATH    initial ramdisk for a kernel (HVM)\n"
		"      --no-pvh         boot an ELF kernel at its 64-bit entry, not its PVH note\n"
		"      --acpi PROFILE   HVM: reduced (default: GED power button) or full (PM timer,\n"
		"                       PM1 power button, FACS, S3 and S5; docs/hvm.md)\n"
		"      --virtio-pci     HVM: the virtio devices on PCI (virtio-pci, MSI-X), not MMIO\n"
		"      --cpu MODEL      HVM: host or x86-64, then +FEATURE, -FEATURE, vendor=ID,\n"
		"                       threads=N (e.g. host,-x2apic,-pcid; docs/hvm.md)\n"
		"  -t, --timeout SEC    destroy the domain after SEC seconds (exit status %d)\n"
		"      --on-poweroff ACTION, --on-reboot ACTION, --on-crash ACTION\n"
		"                       destroy, restart or preserve (xl.cfg's actions; defaults\n"
		"                       destroy, restart, destroy)\n"
		"      --no-reboot      the same as --on-reboot destroy\n"
		"\nDevices (virtio-mmio, listed to the guest in start_info or the ACPI DSDT):\n",
		WSS_PERIOD_MS_MIN, WSS_PERIOD_MS_MAX, WSS_PERIOD_MS_DEFAULT, WSS_SAMPLE_MAX,
		WSS_SAMPLE_DEFAULT, CAP_MAX_VCPUS, CAPSULE_EXIT_TIMEOUT);
	device_kinds_usage(out);
	fprintf(out,
		"      --exit-file PATH                 write how the domain ended there, as one\n"
		"                                       JSON line, when capsule exits (for a manager)\n"
		"      --console-log PATH               keep the console's last 64 KiB in a ring file\n"
		"                                       (include/capsule/console_ring.h), kept across\n"
		"                                       runs\n"
		"      --api-sock PATH|fd=N             the REST API (docs/api.md) on a Unix socket\n"
		"                                       (mode 0600), or on a listening socket N;\n"
		"                                       'capsule control PATH' is its client\n"
		"      --control PATH                   the same as --api-sock PATH\n"
		"      --paused                         build the domain and wait, paused before its\n"
		"                                       first instruction, for vm.resume (API)\n"
		"      --gdb PATH                       a GDB stub on a Unix socket (mode 0600): the\n"
		"                                       domain starts stopped until gdb connects\n"
		"                                       ('target remote PATH'; docs/debugging.md)\n\n"
		"Jail (docs/jailer.md):\n"
		"      --jail DIR       run the VMM in new mount, PID, IPC and UTS namespaces with\n"
		"                       DIR as its root, holding only the domain's files (bound at\n"
		"                       their paths) and device nodes; needs --uid and --gid\n"
		"      --uid UID, --gid GID\n"
		"                       the jailed VMM's user and group (not 0), no capabilities,\n"
		"                       no_new_privs, RLIMIT_NOFILE %u, RLIMIT_MEMLOCK %u KiB\n"
		"      --jail-netns PATH  the network namespace to join (/run/netns/NAME)\n"
		"      --jail-cgroup DIR  the cgroup to run in (a directory under /sys/fs/cgroup)\n"
		"      --jail-nofile N    RLIMIT_NOFILE in the jail\n\n"
		"      --stats          print exit and hypercall counts when the domain ends\n"
		"                       (and whenever capsule gets SIGUSR1)\n"
		"      --no-seccomp     do not confine the VMM's threads (debugging only)\n"
		"  -v, --verbose        more log output (repeat for debug)\n"
		"  -h, --help           this text\n\n"
		"Exit status: the guest's code (0-123) when it powers off, %d if it crashed,\n"
		"%d on timeout, %d if capsule itself failed, 128+N if killed by signal N.\n",
		JAIL_NOFILE, JAIL_MEMLOCK >> 10, CAPSULE_EXIT_CRASH, CAPSULE_EXIT_TIMEOUT,
		CAPSULE_EXIT_VMM_ERROR);
}

int parse_u64(const char *opt, const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || v < min || v > max) {
		fprintf(stderr, "capsule run: %s expects a number from %llu to %llu, got '%s'\n",
			opt, (unsigned long long)min, (unsigned long long)max, text);
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * --net-mac, --net-tap: the i-th net device's "mac=" or "tap=" replaced (or added), the rest
 * of its spec kept: a clone's own MAC address and TAP device over the snapshot's.
 */
static int set_net_opt(struct run_opts *o, const char *key, const char *const *vals,
		       unsigned nr)
{
	size_t kl = strlen(key);
	unsigned k = 0;

	for (unsigned i = 0; i < o->cfg.nr_devices && k < nr; i++) {
		struct device_spec *s = &o->cfg.devices[i];
		char arg[DEVICE_ARG_MAX], *opt, *save = NULL;
		size_t n = 0;

		if (strcmp(s->kind->name, "net"))
			continue;
		snprintf(arg, sizeof(arg), "%s", s->arg);
		s->arg[0] = 0;
		for (opt = strtok_r(arg, ",", &save); opt; opt = strtok_r(NULL, ",", &save))
			if (strncmp(opt, key, kl) || opt[kl] != '=')
				n += (size_t)snprintf(s->arg + n, sizeof(s->arg) - n, "%s,", opt);
		if (n + kl + 1 + strlen(vals[k]) >= sizeof(s->arg)) {
			fprintf(stderr, "capsule run: --net-%s: the device's spec is too long\n", key);
			return -1;
		}
		snprintf(s->arg + n, sizeof(s->arg) - n, "%s=%s", key, vals[k++]);
	}
	if (k < nr) {
		fprintf(stderr, "capsule run: --net-%s given %u times; the domain has %u net "
			"devices\n", key, nr, k);
		return -1;
	}
	return 0;
}

static int add_device(struct run_opts *o, const char *name, const char *arg)
{
	char option[64];
	const struct device_kind *k;
	struct device_spec *s;

	snprintf(option, sizeof(option), "--%s", name);
	k = device_kind_by_option(option);
	if (o->cfg.nr_devices == DOMAIN_MAX_DEVICES) {
		fprintf(stderr, "capsule run: at most %u devices\n", DOMAIN_MAX_DEVICES);
		return -1;
	}
	s = &o->cfg.devices[o->cfg.nr_devices++];
	s->kind = k;
	if (arg && snprintf(s->arg, sizeof(s->arg), "%s", arg) >= (int)sizeof(s->arg)) {
		fprintf(stderr, "capsule run: %s: argument too long\n", option);
		return -1;
	}
	return 0;
}

static int parse_action(const char *opt, const char *text, enum domain_action *a)
{
	if (domain_action_parse(text, a) == 0)
		return 0;
	fprintf(stderr, "capsule run: %s expects destroy, restart or preserve, got '%s'\n", opt,
		text);
	return -1;
}

enum { OPT_DEVICE = 1000, OPT_ON_POWEROFF, OPT_ON_REBOOT, OPT_ON_CRASH, OPT_ACPI, OPT_VIRTIO_PCI, OPT_CPU,
       OPT_MEM_BACKING, OPT_JAIL, OPT_GDB, OPT_PAUSED, OPT_NO_PREFETCH,
       OPT_WSS_PERIOD, OPT_WSS_SAMPLE, OPT_NO_WSS };

int parse_opts(int argc, char **argv, struct run_opts *o)
{
	static const struct option base[] = {
		{"mem", required_argument, NULL, 'm'},
		{"vcpus", required_argument, NULL, 'c'},
		{"cmdline", required_argument, NULL, 'p'},
		{"name", required_argument, NULL, 'n'},
		{"timeout", required_argument, NULL, 't'},
		{"no-reboot", no_argument, NULL, 'R'},
		{"on-poweroff", required_argument, NULL, OPT_ON_POWEROFF},
		{"on-reboot", required_argument, NULL, OPT_ON_REBOOT},
		{"on-crash", required_argument, NULL, OPT_ON_CRASH},
		{"acpi", required_argument, NULL, OPT_ACPI},
		{"virtio-pci", no_argument, NULL, OPT_VIRTIO_PCI},
		{"cpu", required_argument, NULL, OPT_CPU},
		{"memory-backing", required_argument, NULL, OPT_MEM_BACKING},
		{"wss-period", required_argument, NULL, OPT_WSS_PERIOD},
		{"wss-sample", required_argument, NULL, OPT_WSS_SAMPLE},
		{"no-wss", no_argument, NULL, OPT_NO_WSS},
		{"gdb", required_argument, NULL, OPT_GDB},
		{"paused", no_argument, NULL, OPT_PAUSED},
		{"stats", no_argument, NULL, 'S'},
		{"verbose", no_argument, NULL, 'v'},
		{"control", required_argument, NULL, 'K'},
		{"initrd", required_argument, NULL, 'I'},
		{"no-pvh", no_argument, NULL, 'P'},
		{"no-seccomp", no_argument, NULL, 'Z'},
		{"config", required_argument, NULL, 'F'},
		{"restore", required_argument, NULL, 'T'},
		{"no-prefetch", no_argument, NULL, OPT_NO_PREFETCH},
		{"incoming", required_argument, NULL, 'G'},
		{"tls", required_argument, NULL, 'J'},
		{"insecure", no_argument, NULL, 'Q'},
		{"net-mac", required_argument, NULL, 'M'},
		{"net-tap", required_argument, NULL, 'N'},
		{"api-sock", required_argument, NULL, 'A'},
		{"exit-file", required_argument, NULL, 'E'},
		{"console-log", required_argument, NULL, 'L'},
		{"jail", required_argument, NULL, OPT_JAIL},
		{"uid", required_argument, NULL, OPT_JAIL},
		{"gid", required_argument, NULL, OPT_JAIL},
		{"jail-netns", required_argument, NULL, OPT_JAIL},
		{"jail-cgroup", required_argument, NULL, OPT_JAIL},
		{"jail-nofile", required_argument, NULL, OPT_JAIL},
		{"help", no_argument, NULL, 'h'},
	};
	struct option longopts[sizeof(base) / sizeof(base[0]) + 16];
	unsigned n = 0;
	uint64_t v;
	int c, idx = -1, verbose = 0;

	memcpy(longopts, base, sizeof(base));
	n = sizeof(base) / sizeof(base[0]);
	for (unsigned i = 0; device_kinds[i]; i++) /* the device table's options */
		longopts[n++] = (struct option){device_kinds[i]->option + 2,
						device_kinds[i]->has_arg ? required_argument
									 : no_argument,
						NULL, OPT_DEVICE};
	longopts[n] = (struct option){0};
	memset(o, 0, sizeof(*o));
	o->exit_fd = o->console_fd = -1;
	/* --incoming receives as it is parsed: how (--tls, --insecure) is needed first. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--insecure"))
			o->insecure = true;
		else if (!strcmp(argv[i], "--tls") && i + 1 < argc)
			o->tls_dir = argv[++i];
		else if (!strncmp(argv[i], "--tls=", 6))
			o->tls_dir = argv[i] + 6;
	}
	domain_config_init(&o->cfg);
	opterr = 0;
	optind = 1;
	/* Options may follow the image too (as with xl and lkvm): getopt moves them first. */
	while ((c = getopt_long(argc, argv, "m:c:p:n:t:vh", longopts, &idx)) != -1) {
		switch (c) {
		case 'm':
			if (parse_u64("--mem", optarg, PV_MIN_MEM >> 20, PV_MAX_MEM >> 20, &o->cfg.mem_mib))
				return -1;
			break;
		case 'c':
			if (parse_u64("--vcpus", optarg, 1, CAP_MAX_VCPUS, &v))
				return -1;
			o->cfg.vcpus = (unsigned)v;
			break;
		case 'p':
			o->cfg.cmdline = optarg;
			break;
		case 'n':
			if (snprintf(o->cfg.name, sizeof(o->cfg.name), "%s", optarg) >=
			    (int)sizeof(o->cfg.name)) {
				fprintf(stderr, "capsule run: --name is longer than %d bytes\n",
					DOMAIN_NAME_MAX - 1);
				return -1;
			}
			break;
		case 't':
			if (parse_u64("--timeout", optarg, 1, 1000000, &o->timeout_s))
				return -1;
			break;
		case 'R':
			o->cfg.on_reboot = ACTION_DESTROY;
			break;
		case OPT_ON_POWEROFF:
			if (parse_action("--on-poweroff", optarg, &o->cfg.on_poweroff))
				return -1;
			break;
		case OPT_ON_REBOOT:
			if (parse_action("--on-reboot", optarg, &o->cfg.on_reboot))
				return -1;
			break;
		case OPT_ON_CRASH:
			if (parse_action("--on-crash", optarg, &o->cfg.on_crash))
				return -1;
			break;
		case OPT_DEVICE:
			if (add_device(o, longopts[idx].name, optarg))
				return -1;
			break;
		case OPT_JAIL: {
			int rc;

			jail_parse_opt(&o->jail, longopts[idx].name, optarg, &rc);
			if (rc)
				return -1;
			break;
		}
		case 'S':
			o->cfg.print_stats = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'K': /* the old name of --api-sock: the text protocol is gone */
			o->api_sock = optarg;
			break;
		case 'A':
			o->api_sock = optarg;
			break;
		case 'E':
		case 'L': {
			int *fd = c == 'E' ? &o->exit_fd : &o->console_fd;

			if (*fd >= 0)
				close(*fd);
			*fd = open(optarg, O_RDWR | O_CREAT | O_CLOEXEC | (c == 'E' ? O_TRUNC : 0), 0600);
			if (*fd < 0) {
				fprintf(stderr, "capsule run: %s %s: %s\n",
					c == 'E' ? "--exit-file" : "--console-log", optarg, strerror(errno));
				return -1;
			}
			break;
		}
		case 'I':
			o->cfg.initrd = optarg;
			break;
		case 'P':
			o->cfg.no_pvh = true;
			break;
		case OPT_ACPI:
			if (strcmp(optarg, "full") && strcmp(optarg, "reduced")) {
				fprintf(stderr, "capsule run: --acpi expects full or reduced\n");
				return -1;
			}
			o->cfg.acpi_full = !strcmp(optarg, "full");
			break;
		case OPT_VIRTIO_PCI:
			o->cfg.virtio_pci = true;
			break;
		case OPT_NO_PREFETCH:
			o->no_prefetch = true;
			break;
		case OPT_WSS_PERIOD:
			if (parse_u64("--wss-period", optarg, WSS_PERIOD_MS_MIN, WSS_PERIOD_MS_MAX, &v))
				return -1;
			o->cfg.wss_period_ms = (uint32_t)v;
			break;
		case OPT_WSS_SAMPLE:
			if (parse_u64("--wss-sample", optarg, 0, WSS_SAMPLE_MAX, &v))
				return -1;
			o->cfg.wss_sample = (uint32_t)v;
			break;
		case OPT_NO_WSS:
			o->cfg.wss_sample = 0;
			break;
		case OPT_CPU:
			o->cfg.cpu = optarg;
			break;
		case OPT_MEM_BACKING:
			if (strcmp(optarg, "shared") && strcmp(optarg, "private")) {
				fprintf(stderr, "capsule run: --memory-backing expects shared or "
					"private, got '%s'\n", optarg);
				return -1;
			}
			o->cfg.mem_private = !strcmp(optarg, "private");
			break;
		case OPT_GDB:
			o->gdb_sock = optarg;
			break;
		case OPT_PAUSED:
			o->paused = true;
			break;
		case 'Z':
			o->no_seccomp = true;
			break;
		case 'F': {
			char err[512];

			/* Options before --config are overridden by it, options after it win. */
			if (domain_config_load(&o->cfg, optarg, err, sizeof(err))) {
				fprintf(stderr, "capsule run: --config %s\n", err);
				return -1;
			}
			break;
		}
		case 'T': {
			char err[512];

			snapshot_close(o->restore);
			o->restore = NULL;
			if (snapshot_open(optarg, &o->restore, &o->cfg, err, sizeof(err))) {
				fprintf(stderr, "capsule run: --restore %s: %s\n", optarg, err);
				return -1;
			}
			break;
		}
		case 'J':
		case 'Q':
			break; /* taken before the options (above) */
		case 'G': {
			char err[512];

			if (o->incoming || o->restore) {
				fprintf(stderr, "capsule run: --incoming: one snapshot or migration\n");
				return -1;
			}
			if (!o->tls_dir == !o->insecure) {
				fprintf(stderr, "capsule run: --incoming: give --tls DIR (mutually "
					"authenticated TLS) or --insecure (plain TCP), one of them\n");
				return -1;
			}
			if (migrate_incoming(optarg, o->tls_dir, &o->incoming, &o->restore, &o->cfg,
					     err, sizeof(err))) {
				fprintf(stderr, "capsule run: --incoming: %s\n", err);
				return -1;
			}
			break;
		}
		case 'M':
			if (o->nr_net_macs == 8 || strlen(optarg) != 17) {
				fprintf(stderr, "capsule run: --net-mac: at most 8, each as "
					"xx:xx:xx:xx:xx:xx\n");
				return -1;
			}
			o->net_macs[o->nr_net_macs++] = optarg;
			break;
		case 'N':
			if (o->nr_net_taps == 8 || !optarg[0] || strlen(optarg) > 15 ||
			    strchr(optarg, ',')) {
				fprintf(stderr, "capsule run: --net-tap: at most 8, each a TAP name of "
					"1 to 15 characters\n");
				return -1;
			}
			o->net_taps[o->nr_net_taps++] = optarg;
			break;
		case 'h':
			run_usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "capsule run: unknown or incomplete option '%s'; see 'capsule "
				"run --help'\n", argv[optind - 1]);
			return -1;
		}
	}
	if (argc - optind > 1 || (optind == argc && !o->cfg.image)) {
		fprintf(stderr, "capsule run: %s; usage: capsule run [OPTIONS] IMAGE\n",
			optind == argc ? "no image given" : "more than one image given");
		return -1;
	}
	if (optind < argc) /* the image on the command line wins over the file's */
		o->cfg.image = argv[optind];
	if (set_net_opt(o, "mac", o->net_macs, o->nr_net_macs) ||
	    set_net_opt(o, "tap", o->net_taps, o->nr_net_taps) || jail_check(&o->jail))
		return -1;
	o->cfg.stamp_first_hypercall = getenv("CAPSULE_STAMP_FIRST_HYPERCALL") != NULL;
	log_set_stamps(getenv("CAPSULE_STAMP_PHASES") != NULL);
	log_stamp("options parsed");
	log_set_level(verbose >= 2 ? LOG_DEBUG : verbose ? LOG_INFO : LOG_WARN);
	sandbox_set_enabled(!o->no_seccomp);
	sandbox_on_fatal(terminal_restore);
	return 0;
}
