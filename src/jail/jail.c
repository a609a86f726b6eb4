/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The jailer: namespaces, a parent that waits, and the root moved into the jail directory
 * (docs/jailer.md). Firecracker's jailer is the model; unlike it, the VMM jails itself
 * (no second binary, no exec), so the paths a user gave stay valid: each file is bound at
 * its own path inside the jail.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capsule/jail.h"
#include "capsule/sandbox.h"
#include "capsule/vm.h"

/* The step that failed, named on stderr: -1. */
static int __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	fputs("capsule run: jail: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_ulong(const char *opt, const char *arg, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v > max) {
		fprintf(stderr, "capsule run: %s expects a number from 0 to %lu, got '%s'\n", opt,
			max, arg);
		return -1;
	}
	*out = v;
	return 0;
}

int jail_parse_opt(struct jail_opts *j, const char *opt, const char *arg, int *rc)
{
	unsigned long v = 0;

	*rc = 0;
	if (!strcmp(opt, "jail"))
		j->dir = arg;
	else if (!strcmp(opt, "uid") || !strcmp(opt, "gid")) {
		if (parse_ulong(opt[0] == 'u' ? "--uid" : "--gid", arg, 0xfffffffeul, &v))
			*rc = -1;
		else if (opt[0] == 'u')
			j->uid = (uid_t)v, j->uid_set = true;
		else
			j->gid = (gid_t)v, j->gid_set = true;
	} else if (!strcmp(opt, "jail-netns"))
		j->netns = arg;
	else if (!strcmp(opt, "jail-cgroup"))
		j->cgroup = arg;
	else if (!strcmp(opt, "jail-nofile")) {
		if (parse_ulong("--jail-nofile", arg, 1u << 20, &v) || v < 64) {
			fprintf(stderr, "capsule run: --jail-nofile: from 64 to %u\n", 1u << 20);
			*rc = -1;
		}
		j->nofile = v;
	} else
		return 0;
	return 1;
}

/* A path the jail can hold at the same place: absolute after cwd, and without "..". */
static int jail_path(const char *what, const char *path, char *out, size_t len)
{
	char cwd[PATH_MAX];
	int n;

	if (path[0] == '/')
		n = snprintf(out, len, "%s", path);
	else if (!getcwd(cwd, sizeof(cwd)))
		return fail("%s %s: cannot read the working directory: %s\n", what, path,
			    strerror(errno));
	else
		n = snprintf(out, len, "%s/%s", cwd, path);
	if (n < 0 || (size_t)n >= len)
		return fail("%s %s: path too long\n", what, path);
	for (const char *p = out; (p = strstr(p, "..")); p += 2)
		if (p[-1] == '/' && (p[2] == '/' || !p[2]))
			return fail("%s %s: a path with '..' cannot be bound into the jail; give "
				    "it without\n", what, path);
	return 0;
}

int jail_check(const struct jail_opts *j)
{
	struct stat st;

	if (!j->dir) {
		if (j->uid_set || j->gid_set || j->netns || j->cgroup || j->nofile)
			return fail("--uid, --gid and the --jail-* options need --jail DIR\n");
		return 0;
	}
	if (j->dir[0] != '/')
		return fail("--jail %s: give an absolute path\n", j->dir);
	if (lstat(j->dir, &st) < 0)
		return fail("--jail %s: %s\n", j->dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fail("--jail %s: not a directory%s\n", j->dir,
			    S_ISLNK(st.st_mode) ? " (a symbolic link)" : "");
	if (!strcmp(j->dir, "/"))
		return fail("--jail /: the host's root is no jail\n");
	if (!j->uid_set || !j->gid_set)
		return fail("--jail needs --uid and --gid: the dedicated user the VMM runs as\n");
	if (j->uid == 0 || j->gid == 0)
		return fail("--uid 0 or --gid 0 would keep root's files open to the VMM; give an "
			    "unprivileged uid and gid of the domain's own\n");
	if (j->netns && stat(j->netns, &st) < 0)
		return fail("--jail-netns %s: %s\n", j->netns, strerror(errno));
	if (j->cgroup && (stat(j->cgroup, &st) < 0 || !S_ISDIR(st.st_mode)))
		return fail("--jail-cgroup %s: %s\n", j->cgroup,
			    errno ? strerror(errno) : "not a directory");
	return 0;
}

/*
 * mkdir -p of path's directories below the jail root (the last component too if dir):
 * never through a symbolic link, which could lead out of the jail.
 */
static int make_dirs(const char *root, const char *path, bool last)
{
	char p[PATH_MAX];
	size_t rl = strlen(root);
	struct stat st;

	if (snprintf(p, sizeof(p), "%s%s", root, path) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (char *s = p + rl + 1;; s++) {
		bool end = !*s;

		if (*s != '/' && !end)
			continue;
		if (end && !last)
			break;
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		if (lstat(p, &st) < 0 || !S_ISDIR(st.st_mode))
			return -ENOTDIR;
		if (end)
			break;
		*s = '/';
	}
	return 0;
}

/* Bind host path src at the same path inside the jail, read-only unless writable. */
static int bind_in(const char *root, const char *what, const char *src, bool writable)
{
	char path[PATH_MAX], dst[PATH_MAX];
	struct stat st;
	int rc, fd;

	if (jail_path(what, src, path, sizeof(path)))
		return -1;
	if (stat(src, &st) < 0) {
		/* Not there: nothing to hold. The VMM, jailed, then cannot open it either and
		 * says so in its own words, after what it checks first (a device's options). */
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return fail("%s %s: %s\n", what, src, strerror(errno));
	}
	if ((rc = make_dirs(root, path, S_ISDIR(st.st_mode))) < 0)
		return fail("%s %s: cannot make its directories in %s: %s\n", what, src, root,
			    strerror(-rc));
	snprintf(dst, sizeof(dst), "%s%s", root, path);
	if (!S_ISDIR(st.st_mode)) {
		if ((fd = open(dst, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
			return fail("%s %s: cannot make its mount point %s: %s\n", what, src, dst,
				    strerror(errno));
		close(fd);
	}
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		return fail("%s %s: cannot bind-mount it into the jail: %s\n", what, src,
			    strerror(errno));
	/* Read-only, and nosuid; nodev too unless it is a device (a block device as a disk). */
	if (!writable && mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID |
			       (S_ISBLK(st.st_mode) ? 0 : MS_NODEV), NULL) < 0)
		return fail("%s %s: cannot make it read-only in the jail: %s\n", what, src,
			    strerror(errno));
	return 0;
}

/* /dev: only the nodes a domain uses, owned by the jail's user. */
static int make_dev(const struct jail_opts *j)
{
	static const struct { const char *path; bool required; } nodes[] = {
		{"/dev/kvm", true}, {"/dev/net/tun", false}, {"/dev/userfaultfd", false},
		{"/dev/null", true}, {"/dev/urandom", false},
	};
	char dst[PATH_MAX];
	struct stat st;

	snprintf(dst, sizeof(dst), "%s/dev", j->dir);
	if (mkdir(dst, 0755) < 0)
		return fail("cannot make %s: %s\n", dst, strerror(errno));
	snprintf(dst, sizeof(dst), "%s/dev/net", j->dir);
	if (mkdir(dst, 0755) < 0)
		return fail("cannot make %s: %s\n", dst, strerror(errno));
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		if (stat(nodes[i].path, &st) < 0 || !S_ISCHR(st.st_mode)) {
			if (nodes[i].required)
				return fail("the host has no %s to give the domain\n", nodes[i].path);
			continue;
		}
		snprintf(dst, sizeof(dst), "%s%s", j->dir, nodes[i].path);
		if (mknod(dst, S_IFCHR | 0600, st.st_rdev) < 0)
			return fail("cannot make the device node %s (%u:%u): %s\n", dst,
				    major(st.st_rdev), minor(st.st_rdev), strerror(errno));
		if (chown(dst, j->uid, j->gid) < 0)
			return fail("cannot give %s to uid %u: %s\n", dst, (unsigned)j->uid,
				    strerror(errno));
	}
	return 0;
}

/* In the new namespaces: the jail's mounts, then pivot_root into it. */
static int build_root(const struct jail_opts *j, const struct jail_file *files, unsigned nr)
{
	char p[PATH_MAX], cwd[PATH_MAX];

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail("cannot make the mounts private to the jail: %s\n", strerror(errno));
	/* The root: a small tmpfs over DIR, in this namespace only (a mount point, as
	 * pivot_root wants). The mount points and nodes are made in memory, nothing on the
	 * host's DIR, which stays as it was; it all goes with the namespace. */
	if (mount("tmpfs", j->dir, "tmpfs", MS_NOSUID | MS_NOEXEC,
		  "mode=0755,size=1m,nr_inodes=4096") < 0)
		return fail("cannot mount the jail's root (a tmpfs) on %s: %s\n", j->dir,
			    strerror(errno));
	if (make_dev(j))
		return -1;
	for (unsigned i = 0; i < nr; i++)
		if (bind_in(j->dir, "file", files[i].path, files[i].writable))
			return -1;
	snprintf(p, sizeof(p), "%s/proc", j->dir);
	if ((mkdir(p, 0555) < 0 && errno != EEXIST) ||
	    mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return fail("cannot mount the jail's /proc on %s: %s\n", p, strerror(errno));
	snprintf(p, sizeof(p), "%s/.oldroot", j->dir);
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return fail("cannot make %s: %s\n", p, strerror(errno));
	if (!getcwd(cwd, sizeof(cwd)))
		snprintf(cwd, sizeof(cwd), "/");
	if (syscall(SYS_pivot_root, j->dir, p) < 0)
		return fail("pivot_root into %s: %s\n", j->dir, strerror(errno));
	if (chdir("/") < 0 || umount2("/.oldroot", MNT_DETACH) < 0)
		return fail("cannot let go of the host's root: %s\n", strerror(errno));
	rmdir("/.oldroot");
	/* Relative paths go on meaning what they meant, if the jail holds that directory. */
	if (chdir(cwd) < 0 && chdir("/") < 0)
		return fail("cannot chdir into the jail: %s\n", strerror(errno));
	return 0;
}

/*
 * Outside, the parent keeps only CAP_KILL (to signal the child, whose uid is not its own)
 * and gains nothing more: the bounding set emptied but for it, no_new_privs. Best effort:
 * it reads nothing from the guest and runs nothing.
 */
static void parent_drop(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct kill_only[2] = {{.effective = 1u << CAP_KILL,
						       .permitted = 1u << CAP_KILL}};

	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (cap != CAP_KILL)
			prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	syscall(SYS_capset, &hdr, kill_only);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

/* Outside: wait for the jailed VMM, hand it the run signals, and end as it ended. */
static void __attribute__((noreturn)) wait_jailed(pid_t child, const sigset_t *set,
						  void (*at_end)(void *), void *opaque)
{
	int status;

	parent_drop();

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(set, &si);

		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		if (waitpid(child, &status, WNOHANG) != child)
			continue;
		if (at_end)
			at_end(opaque);
		if (WIFEXITED(status))
			_exit(WEXITSTATUS(status));
		_exit(128 + WTERMSIG(status));
	}
}

static int join_cgroup(const char *dir)
{
	char path[PATH_MAX], pid[24];
	int fd, n;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0 || write(fd, pid, (size_t)n) != n) {
		fail("--jail-cgroup: cannot join %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int jail_enter(const struct jail_opts *j, const char *name, const struct jail_file *files,
	       unsigned nr_files, void (*at_end)(void *), void *opaque)
{
	sigset_t set, old;
	pid_t child;

	int kvm;

	if (!j->dir)
		return 0;
	/* No jail for a VMM that could not open /dev/kvm: the same check and words as an
	 * unjailed one (it does not exist, permission denied), before any privileged step. */
	if ((kvm = kvm_open()) < 0)
		return -1;
	close(kvm);
	/* The cgroup first, by this process: the jailed child is born in it. */
	if (j->cgroup && join_cgroup(j->cgroup))
		return -1;
	/* Only the PID namespace here (it is the child's, not this process's): the others
	 * are the child's alone, so that this process keeps the host's root, where the API
	 * socket's path is, when the child's pivot_root moves the root of its namespace. */
	if (unshare(CLONE_NEWPID) < 0)
		return fail("cannot make the PID namespace (unshare): %s\n", strerror(errno));
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old);
	fflush(NULL);
	child = fork(); /* the first child of the new PID namespace: its init, pid 1 */
	if (child < 0)
		return fail("cannot fork into the PID namespace: %s\n", strerror(errno));
	if (child > 0)
		wait_jailed(child, &set, at_end, opaque);
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* Ends with its parent, whatever kills that (a manager's kill -9 of the pid it knows). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (j->netns) {
		int fd = open(j->netns, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
			fail("--jail-netns %s: cannot enter the network namespace: %s\n", j->netns,
			     strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
		return fail("cannot make the mount, IPC and UTS namespaces (unshare): %s\n",
			    strerror(errno));
	if (build_root(j, files, nr_files))
		return -1;
	if (sethostname(name, strlen(name)) < 0)
		return fail("cannot set the jail's host name: %s\n", strerror(errno));
	return 0;
}

int jail_drop(const struct jail_opts *j)
{
	struct rlimit nofile = {j->nofile ? j->nofile : JAIL_NOFILE,
				j->nofile ? j->nofile : JAIL_NOFILE};
	struct rlimit memlock = {JAIL_MEMLOCK, JAIL_MEMLOCK}, core = {0, 0};

	if (!j->dir)
		return sandbox_drop_privileges(NULL) < 0 ? -1 : 0;
	/* No core dumps: one would hold the guest's memory. */
	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0 || setrlimit(RLIMIT_MEMLOCK, &memlock) < 0 ||
	    setrlimit(RLIMIT_CORE, &core) < 0)
		return fail("cannot set the resource limits (setrlimit): %s\n", strerror(errno));
	if (sandbox_drop_privileges(&(struct sandbox_ids){j->uid, j->gid}) < 0)
		return -1;
	/* A change of uid clears the parent-death signal: set it again. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);

	return 0;
}
