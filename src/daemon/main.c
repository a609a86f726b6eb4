/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capsuled: the host's domain manager (docs/capsuled.md). Owns the state directory (one
 * capsuled per directory, by a lock), re-attaches to the domains that run, serves the API
 * and watches the VMMs. SIGTERM or SIGINT stop it; the domains keep running.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capsule/api.h"
#include "capsule/mempolicy.h"
#include "capsule/usock.h"
#include "capsule/vm.h"
#include "capsule/wss.h"
#include "daemon.h"
#include "web.h"

#ifndef CAPSULE_VERSION
#define CAPSULE_VERSION "unknown"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"usage: capsuled [OPTIONS]\n\n"
		"The host's domain manager: runs every domain in a VMM process of its own\n"
		"(capsule run), keeps their records in SQLite, and serves the REST API that the\n"
		"capsule CLI (capsule create, list, ...) speaks. Domains outlive capsuled: a new\n"
		"capsuled re-attaches to them.\n\n"
		"  -s, --socket PATH     the API socket (default /run/capsule/capsuled.sock),\n"
		"                        mode 0660, group capsule if that group exists\n"
		"  -d, --state-dir DIR   the database and the domains' files (default\n"
		"                        /var/lib/capsule)\n"
		"      --vmm PATH        the VMM binary (default: capsule next to capsuled)\n"
		"  -f, --foreground      stay in the foreground, log to stderr (for systemd:\n"
		"                        Type=simple); otherwise detach once the socket listens\n"
		"                        and log to STATE_DIR/capsuled.log\n"
		"      --vmm-no-seccomp  start VMMs with --no-seccomp (debugging only)\n"
		"      --jail-uid UID    start every VMM jailed (docs/jailer.md) in its domain's\n"
		"                        directory, each as a uid and gid of its own from UID on\n"
		"      --cgroup auto|v1|v2|off  CPU control (weights, caps) through cgroup v1\n"
		"                        or v2; auto (default): v2 if its cpu controller is\n"
		"                        available, else v1, else off (docs/resources.md)\n"
		"      --cgroup-parent NAME  the cgroup the domains' cgroups go under (default\n"
		"                        capsule)\n"
		"      --web ADDR:PORT   serve the web dashboard there (plain HTTP: loopback\n"
		"                        only; any address with TLS); default: no dashboard\n"
		"      --web-tls-cert FILE  the dashboard over TLS: its certificate (PEM)\n"
		"      --web-tls-key FILE   and its private key (PEM)\n"
		"      --web-root DIR    the dashboard's built files (default: web/ next to\n"
		"                        capsuled, else ../share/capsule/web from it)\n"
		"      --web-token-file PATH  the login token (default STATE_DIR/web.token, made\n"
		"                        mode 0600 if missing)\n"
		"      --migrate-listen ADDR:PORT  take live migrations in there ('capsule\n"
		"                        migrate NAME HOST:PORT' on another host's capsuled)\n"
		"      --migrate-tls DIR  migrations in and out mutually authenticated with\n"
		"                        DIR/ca.pem, cert.pem, key.pem (docs/migration.md)\n"
		"      --migrate-insecure  take migrations in over plain TCP (no --migrate-tls)\n"
		"      --ksm-cpu PCT     turn the kernel's page sharing (KSM) on, its scans sized\n"
		"                        to use at most PCT%% of one CPU (1-100; default: leave\n"
		"                        the host's KSM as it is); put back at stop\n"
		"      --ksm-scan-time SEC  with --ksm-cpu: aim at a full scan every SEC seconds\n"
		"                        (default 200)\n"
		"      --mem-limit MIB|auto  the memory policy: keep the running domains within\n"
		"                        MIB (auto: what the host has available, from\n"
		"                        MemAvailable and memory pressure), ballooning the idle\n"
		"                        and the low-share ones first\n"
		"                        (default: no policy; docs/resources.md)\n"
		"      --mem-cgroup DIR  run every VMM in the memory cgroup DIR (v1 or v2) and\n"
		"                        keep the domains within its limit (the policy on)\n"
		"      --mem-tau TAU     the policy's idle memory tax, 0 to 0.99 (default 0.75)\n"
		"      --wss-period MS, --wss-sample N  the write working-set sampler of domains\n"
		"                        whose configuration sets none (wss_period_ms,\n"
		"                        wss_sample_pages): every MS ms (50-60000), N pages (0:\n"
		"                        off; default: the VMM's, 1000 ms and 256 pages)\n"
		"  -h, --help            this text\n"
		"  -V, --version         the version\n\n"
		"Access: root and members of the capsule group; anyone else gets 403.\n"
		"Signals: SIGTERM, SIGINT stop capsuled and leave every domain running.\n");
}

static int mkdirs(const char *path, mode_t mode)
{
	char buf[4096];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static uint64_t host_mem_mib(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kib = 0;
	char line[256];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib / 1024;
}

/* The dashboard's files: web/ beside capsuled (a build tree), else DATADIR/capsule/web. */
static const char *default_web_root(void)
{
	static char path[4200];
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return "/usr/share/capsule/web";
	exe[n] = 0;
	dirname(exe);
	snprintf(path, sizeof(path), "%s/web", exe);
	if (access(path, R_OK) == 0)
		return path;
	snprintf(path, sizeof(path), "%s/../share/capsule/web", exe);
	return path;
}

static const char *default_vmm(void)
{
	static char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 16);

	if (n <= 0)
		return "capsule";
	path[n] = 0;
	snprintf(dirname(path) + strlen(path), 16, "/capsule");
	return path;
}

/* Long options without a letter (migrate.c's): values no letter takes. */
enum { OPT_MIGRATE_LISTEN = 0x100, OPT_MIGRATE_TLS, OPT_MIGRATE_INSECURE, OPT_WSS_PERIOD,
       OPT_WSS_SAMPLE };

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"state-dir", required_argument, NULL, 'd'},
		{"vmm", required_argument, NULL, 'm'},
		{"foreground", no_argument, NULL, 'f'},
		{"vmm-no-seccomp", no_argument, NULL, 'Z'},
		{"jail-uid", required_argument, NULL, 'J'},
		{"cgroup", required_argument, NULL, 'G'},
		{"cgroup-parent", required_argument, NULL, 'P'},
		{"web", required_argument, NULL, 'W'},
		{"web-root", required_argument, NULL, 'R'},
		{"web-token-file", required_argument, NULL, 'T'},
		{"web-tls-cert", required_argument, NULL, 'C'},
		{"web-tls-key", required_argument, NULL, 'K'},
		{"ksm-cpu", required_argument, NULL, 'k'},
		{"migrate-listen", required_argument, NULL, OPT_MIGRATE_LISTEN},
		{"migrate-tls", required_argument, NULL, OPT_MIGRATE_TLS},
		{"migrate-insecure", no_argument, NULL, OPT_MIGRATE_INSECURE},
		{"ksm-scan-time", required_argument, NULL, 'j'},
		{"mem-limit", required_argument, NULL, 'L'},
		{"mem-tau", required_argument, NULL, 'U'},
		{"mem-cgroup", required_argument, NULL, 'M'},
		{"wss-period", required_argument, NULL, OPT_WSS_PERIOD},
		{"wss-sample", required_argument, NULL, OPT_WSS_SAMPLE},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	static struct daemon dm = {
		.socket_path = "/run/capsule/capsuled.sock",
		.state_dir = "/var/lib/capsule",
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.changed = PTHREAD_COND_INITIALIZER,
		.stop_fd = -1,
		.migrate_fd = -1,
		.ksm_scan_s = 200,
		.mp_tau = MP_TAU_DEFAULT,
		.wss_sample = -1,
		.mem_cgroup_procs = -1,
	};
	struct usock u = {.fd = -1, .lock_fd = -1};
	struct web_options wo = {0};
	struct web *web = NULL;
	const char *migrate_listen = NULL;
	bool foreground = false;
	char err[512], path[4200];
	struct rlimit rl;
	struct group *g;
	sigset_t set;
	int c, lock_fd, sig;

	while ((c = getopt_long(argc, argv, "s:d:fhV", opts, NULL)) != -1) {
		switch (c) {
		case 's': dm.socket_path = optarg; break;
		case 'd': dm.state_dir = optarg; break;
		case 'm': dm.vmm_path = optarg; break;
		case 'f': foreground = true; break;
		case 'Z': dm.vmm_no_seccomp = true; break;
		case 'J': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (!optarg[0] || *end || optarg[0] == '-' || v == 0 || v > 0xfff00000ul) {
				fprintf(stderr, "capsuled: --jail-uid expects a uid from 1 to %lu\n",
					0xfff00000ul);
				return 2;
			}
			dm.jail = true;
			dm.jail_uid = (uid_t)v;
			break;
		}
		case 'G': dm.cg_mode = optarg; break;
		case 'P': dm.cg_parent = optarg; break;
		case 'W': wo.listen = optarg; break;
		case OPT_MIGRATE_LISTEN: migrate_listen = optarg; break;
		case OPT_MIGRATE_TLS: dm.migrate_tls = optarg; break;
		case OPT_MIGRATE_INSECURE: dm.migrate_insecure = true; break;
		case OPT_WSS_PERIOD:
		case OPT_WSS_SAMPLE: {
			bool period = c == OPT_WSS_PERIOD;
			unsigned long lo = period ? WSS_PERIOD_MS_MIN : 0;
			unsigned long hi = period ? WSS_PERIOD_MS_MAX : WSS_SAMPLE_MAX;
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || end == optarg || optarg[0] == '-' || v < lo || v > hi) {
				fprintf(stderr, "capsuled: --wss-%s expects a number from %lu to %lu, "
					"got '%s'\n", period ? "period" : "sample", lo, hi, optarg);
				return 2;
			}
			if (period)
				dm.wss_period_ms = (uint32_t)v;
			else
				dm.wss_sample = (int32_t)v;
			break;
		}
		case 'R': wo.root = optarg; break;
		case 'T': wo.token_file = optarg; break;
		case 'C': wo.tls_cert = optarg; break;
		case 'K': wo.tls_key = optarg; break;
		case 'k':
		case 'j': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || end == optarg || optarg[0] == '-' || v < 1 ||
			    v > (c == 'k' ? 100 : 86400)) {
				fprintf(stderr, "capsuled: --%s expects a number from 1 to %u, got "
					"'%s'\n", c == 'k' ? "ksm-cpu" : "ksm-scan-time",
					c == 'k' ? 100 : 86400, optarg);
				return 2;
			}
			*(c == 'k' ? &dm.ksm_cpu_pct : &dm.ksm_scan_s) = (unsigned)v;
			break;
		}
		case 'L': {
			char *end;
			unsigned long long v = strtoull(optarg, &end, 10);

			if (!strcmp(optarg, "auto")) {
				dm.mp_auto = true;
				break;
			}
			if (*end || end == optarg || optarg[0] == '-' || v < 1 || v > (1ull << 30)) {
				fprintf(stderr, "capsuled: --mem-limit expects MiB (1 or more) or "
					"auto, got '%s'\n", optarg);
				return 2;
			}
			dm.mp_limit_mib = v;
			break;
		}
		case 'U': {
			char *end;
			double v = strtod(optarg, &end);

			if (*end || end == optarg || !(v >= 0 && v <= MP_TAU_MAX)) {
				fprintf(stderr, "capsuled: --mem-tau expects a number from 0 to %.2f, "
					"got '%s'\n", MP_TAU_MAX, optarg);
				return 2;
			}
			dm.mp_tau = v;
			break;
		}
		case 'M': dm.mem_cgroup = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("capsuled %s\n", CAPSULE_VERSION); return 0;
		default:
			fprintf(stderr, "capsuled: unknown option; see 'capsuled --help'\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "capsuled: unexpected argument '%s'; see 'capsuled --help'\n",
			argv[optind]);
		return 2;
	}
	if (!dm.vmm_path)
		dm.vmm_path = default_vmm();
	if (access(dm.vmm_path, X_OK) < 0) {
		fprintf(stderr, "capsuled: the VMM %s cannot be run: %s (use --vmm PATH)\n",
			dm.vmm_path, strerror(errno));
		return 1;
	}
	if (strlen(dm.state_dir) > 3000 || dm.state_dir[0] != '/') {
		fprintf(stderr, "capsuled: --state-dir must be an absolute path (of at most 3000 "
			"bytes)\n");
		return 2;
	}
	snprintf(dm.dom_dir, sizeof(dm.dom_dir), "%s/domains", dm.state_dir);
	/* What capsuled makes is root's alone (the database holds every configuration): the
	 * API socket gets its own mode explicitly. */
	umask(077);
	if (mkdirs(dm.state_dir, 0700) || mkdirs(dm.dom_dir, 0700)) {
		fprintf(stderr, "capsuled: cannot make the state directory %s: %s\n", dm.state_dir,
			strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/capsuled.lock", dm.state_dir);
	lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "capsuled: another capsuled uses %s already\n", dm.state_dir);
		return 1;
	}
	/* One descriptor per domain (its pidfd) and some: take what the hard limit allows. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (sched_init(&dm, err, sizeof(err)) || (dm.jail && jail_ids_reserve(&dm, err, sizeof(err)))) {
		fprintf(stderr, "capsuled: %s\n", err);
		return 1;
	}
	g = getgrnam("capsule");
	dm.group = g ? g->gr_gid : (gid_t)-1;
	dm.host_mem_mib = host_mem_mib();
	if (dm.mp_auto && (!dm.mp_limit_mib || dm.mp_limit_mib > dm.host_mem_mib))
		dm.mp_limit_mib = dm.host_mem_mib;
	dm.started_ns = (int64_t)monotonic_ns();
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* for every thread: main takes them */
	snprintf(path, sizeof(path), "%s", dm.socket_path);
	if (mkdirs(dirname(path), 0755)) {
		fprintf(stderr, "capsuled: cannot make the directory of %s\n", dm.socket_path);
		return 1;
	}
	if (usock_listen(&u, dm.socket_path, 0660, err, sizeof(err))) {
		fprintf(stderr, "capsuled: %s\n", err);
		return 1;
	}
	if (dm.group != (gid_t)-1 && chown(dm.socket_path, 0, dm.group) < 0)
		fprintf(stderr, "capsuled: cannot give %s to the capsule group: %s\n",
			dm.socket_path, strerror(errno));
	if (!foreground) {
		pid_t pid = fork();
		int fd;

		if (pid < 0) {
			fprintf(stderr, "capsuled: cannot fork: %s\n", strerror(errno));
			return 1;
		}
		if (pid > 0)
			_exit(0); /* the socket listens: clients can queue already */
		setsid();
		snprintf(path, sizeof(path), "%s/capsuled.log", dm.state_dir);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) {
			dup2(fd, 0);
			close(fd);
		}
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	if ((dm.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 || db_open(&dm, err, sizeof(err))) {
		fprintf(stderr, "capsuled: %s\n", dm.epfd < 0 ? strerror(errno) : err);
		return 1;
	}
	if (mempolicy_cgroup_open(&dm, err, sizeof(err)) || ksm_start(&dm, err, sizeof(err))) {
		fprintf(stderr, "capsuled: %s\n", err);
		return 1;
	}
	if (daemon_reattach(&dm) || monitor_start(&dm) || mempolicy_start(&dm) ||
	    daemon_api_start(&dm, u.fd)) {
		fprintf(stderr, "capsuled: cannot start\n");
		return 1;
	}
	if (migrate_listen_start(&dm, migrate_listen, err, sizeof(err))) {
		fprintf(stderr, "capsuled: %s\n", err);
		return 1;
	}
	if (wo.listen) {
		if (!wo.root)
			wo.root = default_web_root();
		if (web_start(&dm, &wo, &web, err, sizeof(err))) {
			fprintf(stderr, "capsuled: %s\n", err);
			return 1;
		}
	}
	fprintf(stderr, "capsuled %s: serving %s, state in %s, VMM %s, pid %d\n", CAPSULE_VERSION,
		dm.socket_path, dm.state_dir, dm.vmm_path, (int)getpid());
	while ((sig = sigwaitinfo(&set, NULL)) < 0 || sig == SIGHUP)
		;
	fprintf(stderr, "capsuled: %s: stopping; the domains keep running\n", strsignal(sig));
	web_stop(web); /* first: its handlers are the API's */
	migrate_listen_stop(&dm);
	daemon_api_stop(&dm);
	mempolicy_stop(&dm);
	monitor_stop(&dm);
	ksm_stop(&dm);
	pthread_mutex_lock(&dm.lock);
	db_close(&dm);
	pthread_mutex_unlock(&dm.lock);
	usock_close(&u);
	return 0;
}
