/* SPDX-License-Identifier: Apache-2.0 */
/* capsule run: options -> domain_config -> domain, run in the foreground, exit with its status. */
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

/* The domain a signal should end (or report on), shared with the signal thread. */
struct run_state {
	struct domain *dom;
	pthread_mutex_t lock;
	int signo;
	bool confined; /* the main thread confined and the signal thread started */
	struct vmm_api *api; /* served from the guest's start on: clients queue until then */
	int api_fd;          /* listening, or -1 */
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
		if (sig == SIGUSR1) {
			pthread_mutex_lock(&rs->dom->lock);
			if (rs->dom->vm)
				domain_print_stats(rs->dom, stderr);
			pthread_mutex_unlock(&rs->dom->lock);
			continue;
		}
		pthread_mutex_lock(&rs->lock);
		if (rs->signo) {
			terminal_restore();
			fprintf(stderr, "capsule: %s received again; exiting now\n", strsignal(sig));
			_exit(128 + sig);
		}
		rs->signo = sig;
		pthread_mutex_unlock(&rs->lock);
		domain_end(rs->dom, VM_END_POWEROFF, 128 + sig);
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

/* The exit status of capsule run for how the domain ended. */
static int exit_status(const struct run_opts *o, const struct run_state *rs,
		       enum vm_end_reason why, int code)
{
	if (rs->signo) {
		fprintf(stderr, "capsule: %s received, domain destroyed\n", strsignal(rs->signo));
		return 128 + rs->signo;
	}
	if (terminal_escaped()) {
		fprintf(stderr, "capsule: Ctrl-] on the console, domain destroyed\n");
		return 128 + SIGINT;
	}
	if (rs->dom->saved) {
		if (rs->dom->migrated)
			fprintf(stderr, "capsule: domain %s migrated; it runs at the destination now\n",
				rs->dom->cfg.name);
		else
			fprintf(stderr, "capsule: domain %s saved; 'capsule run --restore DIR' runs "
				"it again\n", rs->dom->cfg.name);
		return 0;
	}
	switch (why) {
	case VM_END_CRASH:
		return CAPSULE_EXIT_CRASH;
	case VM_END_TIMEOUT:
		if (!rs->dom->shutdown_forced)
			fprintf(stderr, "capsule: domain timed out after %llu s and was destroyed\n",
				(unsigned long long)o->timeout_s);
		return CAPSULE_EXIT_TIMEOUT;
	case VM_END_REBOOT:
		fprintf(stderr, "capsule: domain rebooted; on_reboot=%s, exiting\n",
			domain_action_name(o->cfg.on_reboot));
		return 0;
	default:
		code &= 0xff; /* PV: 0-123 (hc_shutdown, R-SD-2); HVM: QEMU debug-exit */
		if (code >= CAPSULE_EXIT_TIMEOUT && code <= CAPSULE_EXIT_CRASH)
			fprintf(stderr, "capsule: the guest powered off with code %d (not a "
				"timeout, capsule error or crash)\n", code);
		return code;
	}
}

/* The first boot's vCPUs run: confine this thread and take the signals. */
static void started(struct domain *d, void *opaque)
{
	struct run_state *rs = opaque;
	pthread_t thread;

	if (sandbox_enter("capsule", SANDBOX_VMM) || pthread_create(&thread, NULL, signal_thread,
								     rs)) {
		domain_end(d, VM_END_CRASH, 0);
		return;
	}
	pthread_detach(thread);
	rs->confined = true;
	log_stamp("main thread confined");
	if (rs->api_fd >= 0 && vmm_api_start(rs->api, d, rs->api_fd)) {
		fprintf(stderr, "capsule run: --api-sock: cannot start the API server\n");
		domain_end(d, VM_END_CRASH, 0);
	}
}

/*
 * The API socket: made here (mode 0600, never over a file that is not a stale socket), or
 * handed over listening by a manager as fd=N (as libvirt does). It listens from now on;
 * its server starts with the guest (started), off the launch path, and clients that came
 * earlier wait in the backlog. The fd, or -1.
 */
static int open_api(const char *spec, struct usock *u)
{
	char err[256];
	int fd, flags;

	if (!strncmp(spec, "fd=", 3)) {
		char *end;
		long n = strtol(spec + 3, &end, 10);
		int listening = 0;
		socklen_t len = sizeof(listening);

		if (!spec[3] || *end || n < 3 || n > 65535 ||
		    getsockopt((int)n, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ||
		    !listening) {
			fprintf(stderr, "capsule run: --api-sock %s: not a listening socket\n", spec);
			return -1;
		}
		fd = (int)n;
		flags = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		u->fd = fd; /* no path: usock_close only closes it */
	} else {
		if (usock_listen(u, spec, 0600, err, sizeof(err))) {
			fprintf(stderr, "capsule run: --api-sock: %s\n", err);
			return -1;
		}
		fd = u->fd;
	}
	return fd;
}

/*
 * --exit-file: one JSON line, written once at the very end with one write (the file was
 * opened before the sandbox), so a reader sees all of it or nothing; a VMM killed by a
 * signal it cannot catch leaves the file empty, and its manager calls that a crash.
 */
static void write_exit_file(int fd, int status, const struct run_state *rs,
			    enum vm_end_reason why, int code, bool ran)
{
	static const char *const reasons[] = {
		[VM_END_NONE] = "error", [VM_END_POWEROFF] = "poweroff", [VM_END_REBOOT] = "reboot",
		[VM_END_CRASH] = "crash", [VM_END_TIMEOUT] = "timeout",
	};
	const char *reason = !ran ? "error" : rs->signo ? "signal"
			     : rs->dom->saved ? "saved" : reasons[why]; /* a manager's save */
	char line[160];
	int n;

	if (fd < 0)
		return;
	if (ran && why == VM_END_POWEROFF && terminal_escaped())
		reason = "signal";
	n = snprintf(line, sizeof(line), "{\"status\": %d, \"reason\": \"%s\", \"code\": %d, "
		     "\"signal\": %d}\n", status, reason, code & 0xff, rs->signo);
	if (pwrite(fd, line, (size_t)n, 0) == n)
		fdatasync(fd);
	close(fd);
}

/* The jail's parent, once the jailed VMM has ended: its API socket's path is on this side. */
static void unbind_api(void *opaque)
{
	usock_close(opaque);
}

/*
 * The files the domain opens by path, for the jail to hold: the image, the initrd and the
 * disks (a disk's path is its spec up to the first comma; read-only if it says so).
 */
static unsigned jail_files(const struct domain_config *cfg, struct jail_file *f,
			   char paths[][DEVICE_ARG_MAX])
{
	unsigned n = 0;

	f[n++] = (struct jail_file){cfg->image, false};
	if (cfg->initrd)
		f[n++] = (struct jail_file){cfg->initrd, false};
	for (unsigned i = 0; i < cfg->nr_devices && n < JAIL_MAX_FILES; i++) {
		const struct device_spec *s = &cfg->devices[i];
		char *comma;

		if (strcmp(s->kind->name, "disk"))
			continue;
		snprintf(paths[n], DEVICE_ARG_MAX, "%s", s->arg);
		if ((comma = strchr(paths[n], ',')))
			*comma = 0;
		f[n] = (struct jail_file){paths[n], !strstr(s->arg, ",readonly")};
		n++;
	}
	return n;
}

/*
 * Everything that needs a privilege happens first (backends, image, /dev/kvm); then the
 * process drops every capability (capabilities are per thread: before any thread starts),
 * the service threads start confined, and the main thread confines itself before the first
 * guest instruction, and so does every thread it creates afterwards.
 */
int cmd_run(int argc, char **argv)
{
	static struct domain dom; /* large: not on the stack */
	struct run_state rs = {.dom = &dom, .lock = PTHREAD_MUTEX_INITIALIZER};
	struct run_opts o;
	int status = CAPSULE_EXIT_VMM_ERROR, code = 0;
	enum vm_end_reason why = VM_END_NONE;
	uint64_t deadline = 0;
	bool created = false, ran = false;
	struct vmm_api api = {0};
	struct usock api_sock = {.fd = -1, .lock_fd = -1}; /* closed after the server stops */
	struct gdb_stub *gdb = NULL; /* --gdb, until the domain has it */

	setup_signals();
	tzset(); /* glibc opens the time zone file once, now, not under the sandbox (RTC) */
	if (parse_opts(argc, argv, &o))
		goto out;
	if (o.paused && !o.api_sock) {
		fprintf(stderr, "capsule run: --paused needs --api-sock: nothing else can resume "
			"the domain\n");
		goto out;
	}
	/* Bound on the host's side of a jail, where its clients are. */
	rs.api = &api;
	rs.api_fd = -1;
	if (o.api_sock && (rs.api_fd = open_api(o.api_sock, &api_sock)) < 0)
		goto out;
	if (o.gdb_sock) { /* the same: its thread starts with the domain, in the jail */
		char err[256];

		if (gdb_stub_open(&gdb, o.gdb_sock, err, sizeof(err))) {
			fprintf(stderr, "capsule run: --gdb: %s\n", err);
			goto out;
		}
	}
	if (o.jail.dir) {
		static char paths[JAIL_MAX_FILES][DEVICE_ARG_MAX];
		struct jail_file files[JAIL_MAX_FILES];

		/* From here on, in the jail (the caller waits outside, in jail_enter). */
		if (jail_enter(&o.jail, o.cfg.name, files, jail_files(&o.cfg, files, paths),
			       unbind_api, &api_sock))
			goto out;
	}
	created = true;
	if (o.restore)
		snapshot_open_pagemap(o.restore);
	if (domain_create(&dom, &o.cfg) || jail_drop(&o.jail) < 0)
		goto out;
	dom.start_paused = o.paused;
	if (o.restore) {
		char err[512];

		o.restore->no_prefetch = o.no_prefetch;
		dom.restore = o.restore; /* the domain's now: domain_destroy closes it */
		o.restore = NULL;
		if (snapshot_check(&dom, dom.restore, err, sizeof(err))) {
			fprintf(stderr, "capsule run: --restore: %s\n", err);
			if (o.incoming)
				migrate_incoming_go(o.incoming, false, err, sizeof(err));
			goto out;
		}
		/* A migration's domain runs once its source has let it go. */
		if (o.incoming && migrate_incoming_go(o.incoming, true, err, sizeof(err))) {
			fprintf(stderr, "capsule run: --incoming: %s\n", err);
			goto out;
		}
	}
	if (o.console_fd >= 0 && console_log_mirror(&dom.console_log, o.console_fd)) {
		fprintf(stderr, "capsule run: --console-log: cannot map the ring file\n");
		goto out;
	}
	if (gdb) {
		if (gdb_stub_start(gdb, &dom)) {
			fprintf(stderr, "capsule run: --gdb: cannot start its thread\n");
			goto out;
		}
		dom.gdb = gdb;
		gdb = NULL;
		fprintf(stderr, "capsule: waiting for gdb on %s ('target remote %s')\n",
			o.gdb_sock, o.gdb_sock);
	}
	if (terminal_take(&dom)) {
		fprintf(stderr, "capsule run: cannot set up the console's terminal\n");
		goto out;
	}
	/* The main thread and the signal thread are confined and started as soon as the guest
	 * runs, off the path to its first instruction: the main thread handles no guest input,
	 * and signals wait, blocked, until their thread takes them. */
	dom.on_started = started;
	dom.on_started_opaque = &rs;
	if (o.timeout_s)
		deadline = monotonic_ns() + o.timeout_s * 1000000000ull;
	if (domain_run(&dom, deadline, &why, &code) == 0 && rs.confined) {
		status = exit_status(&o, &rs, why, code);
		ran = true;
	} else if (!rs.confined && dom.boots)
		fprintf(stderr, "capsule run: cannot confine the main thread or start the signal "
			"thread\n");
out:
	terminal_restore();
	vmm_api_stop(&api);
	usock_close(&api_sock);
	gdb_stub_close(dom.gdb);
	dom.gdb = NULL;
	gdb_stub_close(gdb);
	if (created)
		migrate_incoming_close(o.incoming);
	if (created)
		domain_destroy(&dom);
	if (created) {
		write_exit_file(o.exit_fd, status, &rs, why, code, ran);
		if (o.console_fd >= 0)
			close(o.console_fd);
	}
	return status;
}
