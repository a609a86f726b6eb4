/* capsule run: build a domain, run it in the foreground, exit with its status. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capsule/cli.h"
#include "capsule/log.h"
#include "capsule/hvm.h"
#include "capsule/loader.h"
#include "capsule/pv.h"
#include "capsule/sandbox.h"

struct run_opts {
	struct run_devices dev;
	const char *control;
	const char *initrd;
	/* Opened once, before the process gives up its privileges: a reboot needs no open. */
	int image_fd, initrd_fd, kvm_fd;
	bool hvm;    /* the image is not a Capsule PV image: boot it as an unmodified kernel */
	bool no_pvh;
	bool no_seccomp;
	uint64_t mem_mib;
	uint64_t vcpus;
	uint64_t timeout_s;
	const char *cmdline;
	const char *image;
	int no_reboot;
	int stats;
};

struct domain;

/* The domain a signal should end (or report on), shared with the signal thread. */
struct run_state {
	pthread_mutex_t lock;
	struct vm *vm;
	struct domain *dom;
	struct run_opts *opts;
	int signo;
};

static void run_usage(FILE *out)
{
	fprintf(out,
		"usage: capsule run [OPTIONS] IMAGE\n\n"
		"Run a domain in the foreground; capsule exits with the guest's exit code.\n"
		"IMAGE is a PV image (an ELF built with Capsule's guest kit), or a kernel for an\n"
		"HVM domain: a Linux bzImage or vmlinux, a PVH ELF, or a multiboot kernel. The\n"
		"console (the PV console ring, or the HVM serial port COM1) is on stdout.\n\n"
		"  -m, --mem MiB        guest memory (default 64)\n"
		"  -c, --vcpus N        virtual CPUs, 1 to %u (default 1)\n"
		"  -p, --cmdline STR    command line passed to the guest\n"
		"      --initrd PATH    initial ramdisk for a kernel (HVM)\n"
		"      --no-pvh         boot an ELF kernel at its 64-bit entry, not its PVH note\n"
		"  -t, --timeout SEC    destroy the domain after SEC seconds (exit status %d)\n"
		"      --no-reboot      exit instead of restarting when the guest reboots\n"
		"\nDevices (virtio-mmio, listed to the guest in start_info):\n"
		"      --disk PATH[,readonly][,serial=ID]   virtio-blk on a raw image (up to %d)\n"
		"      --net tap=NAME[,mac=MAC]             virtio-net on a TAP device\n"
		"      --rng                                virtio-rng from getrandom()\n"
		"      --virtio-console                     virtio-console on stdin/stdout\n"
		"      --balloon MiB                        virtio-balloon, initial target MiB\n"
		"      --control SOCKET                     control socket ('capsule control')\n\n"
		"      --stats          print exit and hypercall counts when the domain ends\n"
		"      --no-seccomp     do not confine guest-facing threads (debugging only)\n"
		"  -v, --verbose        more log output (repeat for debug)\n"
		"  -h, --help           this text\n\n"
		"Exit status: the guest's code (0-123) when it powers off, %d if it crashed,\n"
		"%d on timeout, %d if capsule itself failed, 128+N if killed by signal N.\n",
		CAP_MAX_VCPUS, CAPSULE_EXIT_TIMEOUT, MAX_DISKS, CAPSULE_EXIT_CRASH,
		CAPSULE_EXIT_TIMEOUT,
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

/* A PV image carries the Capsule ELF note; anything else is a kernel for an HVM domain. */
static int image_kind(struct run_opts *o)
{
	char err[LOADER_ERR_MAX];
	uint8_t *file;
	size_t size;

	if ((o->image_fd = file_open(o->image, err)) < 0 ||
	    file_read_all(o->image, o->image_fd, (uint64_t)o->mem_mib << 20, &file, &size, err)) {
		fprintf(stderr, "capsule run: %s\n", err);
		return -1;
	}
	o->hvm = !elf_is_pv(file, size);
	free(file);
	if (!o->hvm && o->initrd) {
		fprintf(stderr, "capsule run: --initrd is for kernels; %s is a PV image\n", o->image);
		return -1;
	}
	if (o->hvm && o->mem_mib < 16) {
		fprintf(stderr, "capsule run: %s is a kernel for an HVM domain, which needs at "
			"least --mem 16\n", o->image);
		return -1;
	}
	if (o->initrd && (o->initrd_fd = file_open(o->initrd, err)) < 0) {
		fprintf(stderr, "capsule run: %s\n", err);
		return -1;
	}
	return 0;
}

static int parse_opts(int argc, char **argv, struct run_opts *o)
{
	static const struct option longopts[] = {
		{"mem", required_argument, NULL, 'm'},
		{"vcpus", required_argument, NULL, 'c'},
		{"cmdline", required_argument, NULL, 'p'},
		{"timeout", required_argument, NULL, 't'},
		{"no-reboot", no_argument, NULL, 'R'},
		{"stats", no_argument, NULL, 'S'},
		{"verbose", no_argument, NULL, 'v'},
		{"disk", required_argument, NULL, 'D'},
		{"net", required_argument, NULL, 'N'},
		{"rng", no_argument, NULL, 'G'},
		{"virtio-console", no_argument, NULL, 'C'},
		{"balloon", required_argument, NULL, 'B'},
		{"control", required_argument, NULL, 'K'},
		{"initrd", required_argument, NULL, 'I'},
		{"no-pvh", no_argument, NULL, 'P'},
		{"no-seccomp", no_argument, NULL, 'Z'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	uint64_t host_mib = host_ram_bytes() >> 20;
	int c, verbose = 0;

	memset(o, 0, sizeof(*o));
	o->image_fd = o->initrd_fd = o->kvm_fd = -1;
	o->mem_mib = 64;
	o->vcpus = 1;
	o->cmdline = "";
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+m:c:p:t:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_u64("--mem", optarg, PV_MIN_MEM >> 20, PV_MAX_MEM >> 20,
				      &o->mem_mib))
				return -1;
			if (o->mem_mib > host_mib) {
				fprintf(stderr, "capsule run: --mem %llu MiB is more than this host "
					"has (%llu MiB)\n", (unsigned long long)o->mem_mib,
					(unsigned long long)host_mib);
				return -1;
			}
			break;
		case 'c':
			if (parse_u64("--vcpus", optarg, 1, CAP_MAX_VCPUS, &o->vcpus))
				return -1;
			break;
		case 'p':
			if (strlen(optarg) >= CAP_CMDLINE_MAX) {
				fprintf(stderr, "capsule run: --cmdline is longer than %u bytes\n",
					CAP_CMDLINE_MAX - 1);
				return -1;
			}
			o->cmdline = optarg;
			break;
		case 't':
			if (parse_u64("--timeout", optarg, 1, 1000000, &o->timeout_s))
				return -1;
			break;
		case 'R':
			o->no_reboot = 1;
			break;
		case 'S':
			o->stats = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'D':
			if (devices_add_disk(&o->dev, optarg))
				return -1;
			break;
		case 'N':
			if (devices_add_net(&o->dev, optarg))
				return -1;
			break;
		case 'G':
			o->dev.rng = true;
			break;
		case 'C':
			if (!o->dev.console)
				o->dev.console = console_open(0, stdout);
			break;
		case 'B':
			if (devices_add_balloon(&o->dev, optarg))
				return -1;
			break;
		case 'K':
			o->control = optarg;
			break;
		case 'I':
			o->initrd = optarg;
			break;
		case 'P':
			o->no_pvh = true;
			break;
		case 'Z':
			o->no_seccomp = true;
			break;
		case 'h':
			run_usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "capsule run: unknown or incomplete option '%s'; see "
				"'capsule run --help'\n", argv[optind - 1]);
			return -1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "capsule run: %s; usage: capsule run [OPTIONS] IMAGE\n",
			optind == argc ? "no image given" : "more than one image given");
		return -1;
	}
	o->image = argv[optind];
	sandbox_set_enabled(!o->no_seccomp);
	if (image_kind(o))
		return -1;
	log_set_level(verbose >= 2 ? LOG_DEBUG : verbose ? LOG_INFO : LOG_WARN);
	o->kvm_fd = kvm_open();
	return o->kvm_fd < 0 ? -1 : 0;
}

static void print_stats(const struct vm *vm, const struct pv_domain *pv)
{
	static const char *const names[CAP_HC_COUNT] = {
		"console_write", "yield", "block", "shutdown", "set_timer", "vcpu_up",
		"vcpu_down", "evtchn_alloc", "evtchn_bind_timer", "evtchn_send", "evtchn_mask",
		"evtchn_unmask", "evtchn_close", "time",
	};
	uint64_t exits = 0;

	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		exits += vm->vcpus[i].exits;
	fprintf(stderr, "capsule: stats: %llu exits%s", (unsigned long long)exits,
		pv ? "; hypercalls:" : "");
	for (unsigned i = 0; pv && i < CAP_HC_COUNT; i++)
		if (pv->hypercalls[i])
			fprintf(stderr, " %s=%llu", names[i], (unsigned long long)pv->hypercalls[i]);
	fputc('\n', stderr);
}

/* One domain of either kind: what run_once needs to build, start and tear it down. */
struct domain {
	bool hvm;
	struct pv_domain pv;
	struct hvm_domain hvm_dom;
};

/* The signals a user or a manager sends capsule, all handled by one thread. */
static void run_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
}

/*
 * SIGINT, SIGTERM, SIGHUP end the domain cleanly (a second one ends capsule at once);
 * SIGUSR1 prints the statistics of --stats and the domain goes on (as dd does).
 */
static void *signal_thread(void *arg)
{
	struct run_state *rs = arg;
	sigset_t set;

	run_signals(&set);
	if (sandbox_enter("signals", SANDBOX_SERVICE))
		return NULL;
	for (;;) {
		int sig = sigwaitinfo(&set, NULL);

		if (sig < 0)
			continue;
		pthread_mutex_lock(&rs->lock);
		if (sig == SIGUSR1) {
			if (rs->vm) {
				print_stats(rs->vm, rs->dom->hvm ? NULL : &rs->dom->pv);
				devices_print_stats(&rs->opts->dev);
			}
		} else if (rs->signo) {
			fprintf(stderr, "capsule: %s received again; exiting now\n", strsignal(sig));
			_exit(128 + sig);
		} else {
			rs->signo = sig;
			if (rs->vm)
				vm_end(rs->vm, VM_END_POWEROFF, 128 + sig);
		}
		pthread_mutex_unlock(&rs->lock);
	}
}

/*
 * Before any thread exists: the run signals are blocked everywhere (the signal thread
 * takes them), whatever a parent left them as (a script's `&` ignores SIGINT); so is the
 * vCPU kick, which only vCPU threads unblock. A closed pipe or a file-size limit is an
 * error to report, not a reason to die.
 */
static void setup_signals(void)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL}, ign = {.sa_handler = SIG_IGN};
	sigset_t set;

	run_signals(&set);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&set, sig))
			sigaction(sig, &dfl, NULL);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigaction(SIGPIPE, &ign, NULL);
	sigaction(SIGXFSZ, &ign, NULL);
}

static struct virtio_dev *add_pv(void *d, const struct virtio_dev_ops *ops, void *priv)
{
	return pv_add_device(d, ops, priv);
}

static struct virtio_dev *add_hvm(void *d, const struct virtio_dev_ops *ops, void *priv)
{
	return hvm_add_device(d, ops, priv);
}

static int build(struct run_opts *o, struct run_state *rs, struct domain *dom, struct vm *vm)
{
	struct pv_config pcfg = {
		.image_path = o->image,
		.image_fd = o->image_fd,
		.cmdline = o->cmdline,
		.stamp_first_hypercall = getenv("CAPSULE_STAMP_FIRST_HYPERCALL") != NULL,
	};
	struct hvm_config hcfg = {
		.kernel = o->image, .initrd = o->initrd, .cmdline = o->cmdline, .no_pvh = o->no_pvh,
		.kernel_fd = o->image_fd, .initrd_fd = o->initrd_fd,
	};
	int rc;

	/* The serial port reads stdin unless a virtio console does. */
	rc = dom->hvm ? hvm_domain_init(&dom->hvm_dom, vm, stdout, o->dev.console ? -1 : 0)
		      : pv_domain_init(&dom->pv, vm);
	pthread_mutex_lock(&rs->lock);
	if (!rc)
		rc = devices_attach(&o->dev, dom->hvm ? add_hvm : add_pv,
				    dom->hvm ? (void *)&dom->hvm_dom : (void *)&dom->pv);
	pthread_mutex_unlock(&rs->lock);
	if (!rc)
		rc = dom->hvm ? hvm_domain_build(&dom->hvm_dom, &hcfg) : pv_domain_build(&dom->pv, &pcfg);
	return rc;
}

/* One boot of the domain: returns why it ended and its code. */
static int run_once(struct run_opts *o, struct run_state *rs, enum vm_end_reason *why,
		    int *code, uint64_t deadline_ns)
{
	struct vm_config vcfg = {.mem_bytes = o->mem_mib << 20, .nr_vcpus = (unsigned)o->vcpus,
				 .kvm_fd = o->kvm_fd};
	static struct domain dom; /* large: not on the stack */
	struct vm vm;
	uint64_t now;
	int rc;

	memset(&dom, 0, sizeof(dom));
	dom.hvm = o->hvm;
	vcfg.platform = dom.hvm;
	/* PV page tables map RAM in 2 MiB pages. */
	if (!dom.hvm)
		vcfg.mem_bytes = (vcfg.mem_bytes + (2u << 20) - 1) & ~((2ull << 20) - 1);
	rc = vm_create(&vm, &vcfg);
	if (rc)
		return rc;
	rc = build(o, rs, &dom, &vm);
	if (!rc) {
		pthread_mutex_lock(&rs->lock);
		rs->vm = &vm;
		rs->dom = &dom;
		if (rs->signo)
			vm_end(&vm, VM_END_POWEROFF, 128 + rs->signo);
		pthread_mutex_unlock(&rs->lock);
		rc = dom.hvm ? hvm_domain_start(&dom.hvm_dom) : pv_domain_start(&dom.pv);
		if (!rc)
			devices_start(&o->dev);
	}
	if (!rc) {
		now = monotonic_ns();
		if (deadline_ns && now >= deadline_ns)
			vm_end(&vm, VM_END_TIMEOUT, 0);
		*why = vm_wait(&vm, deadline_ns ? (deadline_ns - now + 999999) / 1000000 : 0);
		*code = vm.end_code;
	}
	vm_join_vcpus(&vm);
	pthread_mutex_lock(&rs->lock);
	rs->vm = NULL;
	devices_detach(&o->dev);
	pthread_mutex_unlock(&rs->lock);
	if (!rc && o->stats) {
		print_stats(&vm, dom.hvm ? NULL : &dom.pv);
		devices_print_stats(&o->dev);
	}
	if (dom.hvm)
		hvm_domain_destroy(&dom.hvm_dom);
	else
		pv_domain_destroy(&dom.pv);
	vm_destroy(&vm);
	return rc;
}

/* Boot, and boot again after each reboot, until the domain ends for good. */
static int run_domain(struct run_opts *o, struct run_state *rs)
{
	enum vm_end_reason why = VM_END_NONE;
	uint64_t deadline = 0;
	int code = 0;

	if (o->timeout_s)
		deadline = monotonic_ns() + o->timeout_s * 1000000000ull;
	for (;;) {
		if (run_once(o, rs, &why, &code, deadline))
			return CAPSULE_EXIT_VMM_ERROR;
		if (why != VM_END_REBOOT || rs->signo)
			break;
		if (o->no_reboot) {
			fprintf(stderr, "capsule: domain rebooted; --no-reboot given, exiting\n");
			return 0;
		}
		fprintf(stderr, "capsule: domain rebooted; restarting it\n");
	}
	if (rs->signo) {
		fprintf(stderr, "capsule: %s received, domain destroyed\n", strsignal(rs->signo));
		return 128 + rs->signo;
	}
	switch (why) {
	case VM_END_CRASH:
		return CAPSULE_EXIT_CRASH;
	case VM_END_TIMEOUT:
		fprintf(stderr, "capsule: domain timed out after %llu s and was destroyed\n",
			(unsigned long long)o->timeout_s);
		return CAPSULE_EXIT_TIMEOUT;
	default:
		return code & 0xff; /* PV: 0-123 (hc_shutdown, R-SD-2); HVM: QEMU debug-exit */
	}
}

/*
 * Everything that needs a privilege happens first (backends, image, /dev/kvm); then the
 * process drops every capability (capabilities are per thread: before any thread starts),
 * the service threads start confined, and the main thread confines itself before the first
 * guest instruction, and so does every thread it creates afterwards.
 */
int cmd_run(int argc, char **argv)
{
	struct run_state rs = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct control *ctl = NULL;
	struct run_opts o;
	int status = CAPSULE_EXIT_VMM_ERROR;
	pthread_t sig_thread;

	setup_signals();
	tzset(); /* glibc opens the time zone file once, now, not under the sandbox (RTC) */
	rs.opts = &o;
	if (parse_opts(argc, argv, &o) || sandbox_drop_privileges() < 0)
		goto out;
	if (pthread_create(&sig_thread, NULL, signal_thread, &rs)) {
		fprintf(stderr, "capsule run: cannot start the signal thread\n");
		goto out;
	}
	pthread_detach(sig_thread);
	if (o.control && !(ctl = control_open(o.control, &rs.lock, &o.dev, &rs.vm)))
		goto out;
	if (sandbox_enter("capsule", SANDBOX_VMM) == 0)
		status = run_domain(&o, &rs);
out:
	control_close(ctl);
	devices_close(&o.dev);
	if (o.image_fd >= 0)
		close(o.image_fd);
	if (o.initrd_fd >= 0)
		close(o.initrd_fd);
	if (o.kvm_fd >= 0)
		close(o.kvm_fd);
	return status;
}
