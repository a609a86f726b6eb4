/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One VMM process per domain. capsuled binds the domain's API socket itself (so it listens
 * before the VMM runs, and a client never races the VMM's start), then double-forks
 * `capsule run --api-sock fd=3`: the VMM is in a session of its own, not capsuled's child,
 * with stdio on files, never on the daemon, so a kill -9 of capsuled touches no domain.
 * A VMM is known by its pid and its start time (/proc/PID/stat), so a reused pid is never
 * taken for it, and watched through a pidfd.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capsule/usock.h"
#include "daemon.h"

#define VMM_LOG_MAX (1u << 20) /* the VMM's stderr file starts over past this */
#define JAIL_ID_BLOCK 65536u   /* jail uids a capsuled takes at its start */

void dom_path(const struct daemon *dm, const struct ddom *d, const char *file, char *out,
	      size_t len)
{
	snprintf(out, len, "%s/%s%s%s", dm->dom_dir, d->uuid, file ? "/" : "", file ? file : "");
}

int pidfd_open_checked(pid_t pid, uint64_t start)
{
	int fd;

	if (!start || proc_start_time(pid) != start)
		return -1;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -1;
	/* The pid could have been reused between the check and the open: check again, now
	 * that the pidfd pins what it names. */
	if (proc_start_time(pid) != start) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

/* Whether pid runs with an argument inside dir (the VMM's --config DIR/config.json). */
static bool runs_in(pid_t pid, const char *dir)
{
	char path[64], buf[8192];
	size_t dl = strlen(dir);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	for (char *a = buf; a < buf + n; a += strlen(a) + 1)
		if (!strncmp(a, dir, dl) && a[dl] == '/')
			return true;
	return false;
}

/*
 * A pidfd for d's VMM as a row or a pid file names it (pid and start time), or -1: only
 * if the process also runs on dir's files. A pid and start time alone may name another
 * process after the host rebooted, or in a file someone edited; a wrong match here would
 * have capsuled kill it.
 */
int vmm_pidfd(pid_t pid, uint64_t start, const char *dir)
{
	int fd = pidfd_open_checked(pid, start);

	if (fd >= 0 && !runs_in(pid, dir)) { /* checked with the pidfd pinning the process */
		close(fd);
		return -1;
	}
	return fd;
}

static int write_pidfile(const char *dir, pid_t pid, uint64_t start)
{
	char path[4200], tmp[4200], line[64];
	int fd, n;

	snprintf(path, sizeof(path), "%s/vmm.pid", dir);
	snprintf(tmp, sizeof(tmp), "%s/vmm.pid.tmp", dir);
	n = snprintf(line, sizeof(line), "%d %llu\n", (int)pid, (unsigned long long)start);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return -errno;
	if (write(fd, line, (size_t)n) != n) {
		close(fd);
		return -EIO;
	}
	close(fd);
	return rename(tmp, path) < 0 ? -errno : 0;
}

int spawn_vmm(struct daemon *dm, struct ddom *d, char *err, size_t errlen)
{
	return spawn_vmm_restore(dm, d, NULL, err, errlen);
}

int spawn_vmm_restore(struct daemon *dm, struct ddom *d, const struct spawn_restore *r,
		      char *err, size_t errlen)
{
	char dir[4200], cfg[4200], sock[4200], exitp[4200], ring[4200], fifo[4200], logp[4200];
	char jail[4200], ids[24];
	struct usock u = {.fd = -1, .lock_fd = -1};
	int in_fd = -1, log_fd = -1, null_fd = -1, pipefd[2] = {-1, -1}, rc = -EIO;
	int cg_fds[2] = {-1, -1};
	char *argv[24 + 4 * SPAWN_MAX_MACS];
	unsigned argc = 0;
	struct stat st;
	pid_t child, vmm = 0;

	dom_path(dm, d, NULL, dir, sizeof(dir));
	dom_path(dm, d, "config.json", cfg, sizeof(cfg));
	dom_path(dm, d, "api.sock", sock, sizeof(sock));
	dom_path(dm, d, "exit", exitp, sizeof(exitp));
	dom_path(dm, d, "console.ring", ring, sizeof(ring));
	dom_path(dm, d, "console.in", fifo, sizeof(fifo));
	dom_path(dm, d, "vmm.log", logp, sizeof(logp));
	unlink(exitp); /* a stale exit file would describe the previous VMM */
	if (usock_listen(&u, sock, 0600, err, errlen))
		return -EADDRINUSE;
	if (mkfifo(fifo, 0600) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot make the console FIFO %s: %s", fifo, strerror(errno));
		goto out;
	}
	/* Read and write: the VMM never sees end-of-file on its console when nobody types. */
	in_fd = open(fifo, O_RDWR | O_CLOEXEC);
	if (stat(logp, &st) == 0 && st.st_size > VMM_LOG_MAX)
		(void)!truncate(logp, 0);
	log_fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0600);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (in_fd < 0 || log_fd < 0 || null_fd < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot open the domain's files in %s: %s", dir,
			 strerror(errno));
		goto out;
	}
	if (dom_cgroup_prepare(dm, d, cg_fds, err, errlen)) /* sched.c */
		goto out;
	argv[argc++] = (char *)dm->vmm_path;
	argv[argc++] = "run";
	if (r && r->incoming_fd >= 0) { /* a migration's stream, relayed by migrate.c */
		argv[argc++] = "--insecure"; /* capsuled did the TLS: the VMM reads it plain */
		argv[argc++] = "--incoming";
		argv[argc++] = "fd=4";
	} else if (r) { /* the snapshot's configuration, the new name and MACs over it */
		argv[argc++] = "--restore";
		argv[argc++] = (char *)r->dir;
		argv[argc++] = "--name";
		argv[argc++] = d->name;
		for (unsigned i = 0; i < r->nr_macs && i < SPAWN_MAX_MACS; i++) {
			argv[argc++] = "--net-mac";
			argv[argc++] = r->macs[i];
			argv[argc++] = "--net-tap";
			argv[argc++] = r->taps[i];
		}
	} else {
		argv[argc++] = "--config";
		argv[argc++] = cfg;
	}
	argv[argc++] = "--api-sock";
	argv[argc++] = "fd=3";
	argv[argc++] = "--exit-file";
	argv[argc++] = exitp;
	argv[argc++] = "--console-log";
	argv[argc++] = ring;
	if (dm->vmm_no_seccomp)
		argv[argc++] = "--no-seccomp";
	if (dm->jail) { /* docs/jailer.md: the jail is a directory of the domain's own */
		/* A uid of its own, kept across its restarts; taken without the lock, which a
		 * restart's caller holds. */
		if (!d->jail_uid) {
			uint64_t n = __atomic_fetch_add(&dm->jail_next, 1, __ATOMIC_RELAXED);

			if (n >= dm->jail_end) {
				snprintf(err, errlen, "this capsuled has handed out its %u jail uids; "
					 "restart it for more", JAIL_ID_BLOCK);
				goto out;
			}
			d->jail_uid = (uid_t)(dm->jail_uid + n);
		}
		dom_path(dm, d, "jail", jail, sizeof(jail));
		if (mkdir(jail, 0755) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot make the jail %s: %s", jail, strerror(errno));
			goto out;
		}
		snprintf(ids, sizeof(ids), "%u", (unsigned)d->jail_uid);
		argv[argc++] = "--jail";
		argv[argc++] = jail;
		argv[argc++] = "--uid";
		argv[argc++] = ids;
		argv[argc++] = "--gid";
		argv[argc++] = ids;
	}
	argv[argc] = NULL;
	child = fork();
	if (child < 0) {
		snprintf(err, errlen, "cannot fork: %s", strerror(errno));
		goto out;
	}
	if (child == 0) {
		/* Only async-signal-safe calls from here: the daemon has threads. */
		sigset_t none;
		pid_t gc;
		int mem;

		setsid();
		gc = fork();
		if (gc != 0) {
			(void)!write(pipefd[1], &gc, sizeof(gc));
			_exit(gc < 0);
		}
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* Into the domain's cgroup ("0": this process) before the VMM runs at all, so
		 * every thread it makes is in it. */
		for (int i = 0; i < 2; i++)
			if (cg_fds[i] >= 0 && write(cg_fds[i], "0", 1) != 1)
				_exit(126);
		/* Into the memory cgroup before the first guest page (docs/resources.md). */
		if (dm->mem_cgroup_procs >= 0 && write(dm->mem_cgroup_procs, "0", 1) != 1) {
			(void)!write(log_fd, "capsuled: cannot join the memory cgroup\n", 40);
			_exit(127);
		}
		/* The memory file out of the way of 0-3 first: it may have any number. */
		mem = r ? fcntl(r->incoming_fd >= 0 ? r->incoming_fd : r->mem_fd, F_DUPFD_CLOEXEC,
				16) : -1;
		if ((r && mem < 0) || dup2(in_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(log_fd, 2) < 0 ||
		    dup2(u.fd, 3) < 0 || (r && dup2(mem, 4) < 0))
			_exit(127);
		close_range(r ? 5 : 4, ~0u, 0);
		execv(dm->vmm_path, argv);
		_exit(127);
	}
	close(pipefd[1]);
	pipefd[1] = -1;
	if (read(pipefd[0], &vmm, sizeof(vmm)) != sizeof(vmm) || vmm <= 0) {
		snprintf(err, errlen, "cannot start the VMM process");
		waitpid(child, NULL, 0);
		goto out;
	}
	waitpid(child, NULL, 0);
	d->pid = vmm;
	d->pid_start = proc_start_time(vmm);
	d->pidfd = pidfd_open_checked(vmm, d->pid_start);
	write_pidfile(dir, vmm, d->pid_start);
	rc = 0;
out:
	/* The VMM has the socket now; ours goes, the path stays (it is the VMM's). */
	if (u.fd >= 0)
		close(u.fd);
	if (u.lock_fd >= 0)
		close(u.lock_fd);
	if (rc)
		unlink(sock);
	for (int *fd = (int[]){in_fd, log_fd, null_fd, pipefd[0], pipefd[1], cg_fds[0], cg_fds[1]},
	     i = 0; i < 7; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return rc;
}

/* What a jail leaves: directories and empty mount points, no mount (they were in the
 * VMM's own namespace); never past a symbolic link or onto another file system. */
static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)f;
	if (flag == FTW_DP)
		rmdir(path);
	else if (flag == FTW_F || flag == FTW_SL)
		unlink(path);
	return 0;
}

static void remove_jail_dir(const char *path)
{
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int jail_ids_reserve(struct daemon *dm, char *err, size_t errlen)
{
	char path[4200], tmp[4200], buf[32];
	unsigned long long next = 0;
	int fd, n;

	snprintf(path, sizeof(path), "%s/jail-next", dm->state_dir);
	snprintf(tmp, sizeof(tmp), "%s/jail-next.tmp", dm->state_dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = (int)read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = 0;
		if (sscanf(buf, "%llu", &next) != 1) {
			snprintf(err, errlen, "%s: not a number; remove it only if no jailed VMM of "
				 "this state directory runs", path);
			return -1;
		}
	}
	if ((unsigned long long)dm->jail_uid + next + JAIL_ID_BLOCK > 0xfffffffeull) {
		snprintf(err, errlen, "--jail-uid %u: no uids left after %llu handed out",
			 (unsigned)dm->jail_uid, next);
		return -1;
	}
	/* The block is written before any of it is used: a crash loses ids, never reuses one. */
	n = snprintf(buf, sizeof(buf), "%llu\n", next + JAIL_ID_BLOCK);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
	    write(fd, buf, (size_t)n) != n || fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	dm->jail_next = next;
	dm->jail_end = next + JAIL_ID_BLOCK;
	return 0;
}

void remove_dom_dir(const char *dir)
{
	static const char *const files[] = {
		"config.json", "api.sock", "api.sock.lock", "console.ring", "console.in",
		"exit", "vmm.log", "vmm.pid", "vmm.pid.tmp", "config.json.tmp",
		"snap/state", "snap/memory", /* a restore's (api_snap.c) */
	};
	char path[4200];

	for (unsigned i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/snap", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/jail", dir);
	remove_jail_dir(path);
	if (rmdir(dir) < 0 && errno != ENOENT)
		fprintf(stderr, "capsuled: cannot remove %s: %s\n", dir, strerror(errno));
}

static void kill_pidfd(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
	poll(&p, 1, 2000);
	close(fd);
}

/*
 * A VMM whose create never committed (capsuled died in between): end it. By its pid file
 * if capsuled got to write it, and by its command line (which names the directory) in
 * case it did not.
 */
void kill_orphan(const char *dir)
{
	char path[4200];
	unsigned long long start = 0;
	int pid = 0, fd;
	struct dirent *e;
	DIR *proc;
	FILE *f;

	snprintf(path, sizeof(path), "%s/vmm.pid", dir);
	if ((f = fopen(path, "re"))) {
		if (fscanf(f, "%d %llu", &pid, &start) == 2 &&
		    (fd = vmm_pidfd(pid, start, dir)) >= 0)
			kill_pidfd(fd);
		fclose(f);
	}
	if (!(proc = opendir("/proc")))
		return;
	while ((e = readdir(proc))) {
		pid_t p = (pid_t)atoi(e->d_name);
		uint64_t st;

		if (p <= 0 || p == getpid() || !runs_in(p, dir) || !(st = proc_start_time(p)))
			continue;
		if ((fd = pidfd_open_checked(p, st)) >= 0) {
			if (runs_in(p, dir)) /* still the same process: the pidfd pins it */
				kill_pidfd(fd);
			else
				close(fd);
		}
	}
	closedir(proc);
}
