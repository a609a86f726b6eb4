/* SPDX-License-Identifier: Apache-2.0 */
/*
 * create --bundle DIR [--pid-file F] [--console-socket S] ID: the VMM forked and exec'd as
 * `capsule run --paused`, which builds the domain and waits before its first instruction;
 * create returns once its API says so. The VMM is the container's init: create exits and
 * leaves it to the caller's subreaper (containerd's shim), which reaps its exit status, the
 * guest's. With process.terminal, the console is a pty whose master goes to the console
 * socket (SCM_RIGHTS, as runc sends it) and whose slave is the VMM's stdio; otherwise the
 * VMM keeps the caller's stdio.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capsule/cgroup.h"
#include "capsule/oci.h"
#include "capsule/procstat.h"
#include "capsule/pv_abi.h"

#define READY_TIMEOUT_MS 30000
#define MAX_ARGS (24 + 2 * OCI_MAX_DISKS)

struct create_args {
	const char *bundle, *pid_file, *console_socket, *id;
};

static int parse(int argc, char **argv, struct create_args *a)
{
	static const struct option opts[] = {
		{"bundle", required_argument, NULL, 'b'},
		{"pid-file", required_argument, NULL, 'p'},
		{"console-socket", required_argument, NULL, 'c'},
		{"no-pivot", no_argument, NULL, 'n'},
		{"no-new-keyring", no_argument, NULL, 'n'},
		{"preserve-fds", required_argument, NULL, 'n'},
		{"pidfd-socket", required_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->bundle = ".";
	optind = 1;
	while ((c = getopt_long(argc, argv, "+b:", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			a->bundle = optarg;
			break;
		case 'p':
			a->pid_file = optarg;
			break;
		case 'c':
			a->console_socket = optarg;
			break;
		case 'n':
			break; /* runc's, with no meaning for a domain */
		default:
			return -1;
		}
	}
	if (optind != argc - 1) {
		oci_fail("create: expected exactly one container id (create [--bundle DIR] "
			 "[--pid-file F] [--console-socket S] ID)");
		return -1;
	}
	a->id = argv[optind];
	return 0;
}

/* The capsule binary beside this one (build/ or the install's bin/), else on PATH. */
static void vmm_path(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = 0;
		snprintf(out, len, "%s/capsule", dirname(self));
		if (!access(out, X_OK))
			return;
	}
	snprintf(out, len, "capsule");
}

/* The master side of the console to whoever listens on the console socket. */
static int send_console(const char *sock, int master, const char *name, char *err,
			size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = (void *)name, .iov_len = strlen(name)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	int fd;

	if (strlen(sock) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "console socket path %s is too long", sock);
		return -1;
	}
	strcpy(sa.sun_path, sock);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &master, sizeof(int));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    sendmsg(fd, &msg, MSG_NOSIGNAL) < 0) {
		snprintf(err, errlen, "cannot hand the console to %s: %s", sock, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int open_pty(int *master, char *name, size_t len, char *err, size_t errlen)
{
	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0 || grantpt(*master) || unlockpt(*master) ||
	    ptsname_r(*master, name, len)) {
		snprintf(err, errlen, "cannot make the console's pty: %s", strerror(errno));
		if (*master >= 0)
			close(*master);
		*master = -1;
		return -1;
	}
	return 0;
}

/*
 * Docker's way: a network namespace of the VMM's own, which the engine's prestart hook
 * fills (it moves the veth in) once the process exists. The child makes the namespace and
 * says so on up; the parent runs the hooks, wires the namespace (net.c) and sends on go
 * the VMM's --net argument (empty: no network) and the command line with the address.
 */
struct late_net {
	int up[2], go[2];
	unsigned at;  /* argv[at] is "--net", argv[at + 1] its argument, then the image */
	char *slot;   /* argv[at + 1]'s storage */
};

static void late_net_child(struct late_net *ln, struct oci_spec *s, char **argv)
{
	char buf[sizeof(s->cmdline) + 64], *nl;
	size_t len = 0;
	ssize_t n;

	close(ln->up[0]);
	close(ln->go[1]);
	if (unshare(CLONE_NEWNET) || write(ln->up[1], "u", 1) != 1)
		_exit(125);
	close(ln->up[1]);
	while (len < sizeof(buf) - 1 && (n = read(ln->go[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = 0;
	close(ln->go[0]);
	if (!(nl = strchr(buf, '\n')))
		_exit(125); /* the parent failed: it kills us */
	*nl = 0;
	if (buf[0]) {
		size_t a = strlen(buf), c = strlen(nl + 1);

		if (a >= PATH_MAX + 32 || c >= sizeof(s->cmdline))
			_exit(125);
		memcpy(ln->slot, buf, a + 1);
		memcpy(s->cmdline, nl + 1, c + 1);
	} else { /* nothing to join: no --net */
		argv[ln->at] = argv[ln->at + 2];
		argv[ln->at + 1] = NULL;
	}
}

/* In the child, before exec: its own session, the console, the cgroup, the CPUs. Only
 * async-signal-safe work and _exit: the parent reports a failure from the exit status. */
static void child(struct oci_spec *s, const char *pty, const struct cgroup_host *cg,
		  const char *id, const char *dir, char **argv, const char *vmm,
		  struct late_net *ln)
{
	char err[256];

	setsid();
	if (chdir(dir))
		_exit(125);
	if (pty) {
		int fd = open(pty, O_RDWR);

		if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 ||
		    dup2(fd, 2) < 0)
			_exit(125);
		if (fd > 2)
			close(fd);
	}
	if (cg && cgroup_dom_attach(cg, id, getpid(), err, sizeof(err)))
		_exit(125);
	if (ln)
		late_net_child(ln, s, argv);
	if (s->cpus[0]) {
		cpu_set_t set;

		if (cpulist_parse(s->cpus, cpulist_host_cpus(), &set, err, sizeof(err)) ||
		    sched_setaffinity(0, sizeof(set), &set))
			_exit(125);
	}
	/* The image, opened inside the rootfs, is the VMM's /proc/self/fd/N. */
	if (fcntl(s->image_fd, F_SETFD, 0))
		_exit(125);
	execvp(vmm, argv);
	_exit(127);
}

/* The VMM's API says the domain is paused before its first instruction, or the VMM ended. */
static int wait_ready(const struct oci_opts *o, const char *id, pid_t pid, char *err,
		      size_t errlen)
{
	struct timespec step = {0, 10 * 1000 * 1000};

	for (int waited = 0; waited < READY_TIMEOUT_MS; waited += 10) {
		char reply[4096];
		int status;
		json_t *j;

		if (waitpid(pid, &status, WNOHANG) == pid) {
			if (WIFEXITED(status))
				snprintf(err, errlen, "the VMM exited with status %d while building the "
					 "domain (its reason is on the container's stderr)",
					 WEXITSTATUS(status));
			else
				snprintf(err, errlen, "the VMM was killed by signal %d while building "
					 "the domain", WTERMSIG(status));
			return -1;
		}
		if (oci_api(o, id, "GET", "/api/v1/vm.info", NULL, reply, sizeof(reply)) == 200 &&
		    (j = json_loads(reply, 0, NULL))) {
			const char *st = json_string_value(json_object_get(j, "state"));
			bool paused = st && !strcmp(st, "paused");

			json_decref(j);
			if (paused)
				return 0;
		}
		nanosleep(&step, NULL);
	}
	snprintf(err, errlen, "the VMM did not build the domain within %d s", READY_TIMEOUT_MS / 1000);
	return -1;
}

static void now_rfc3339(char *out, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The VMM's command line: what the bundle says, in capsule run's options. */
static int vmm_argv(const struct oci_opts *o, const struct oci_spec *s, const char *id,
		    const struct oci_net *net, struct late_net *ln, char store[][PATH_MAX + 32],
		    char **argv)
{
	unsigned n = 0, k = 0;

#define ARG(...) (snprintf(store[k], sizeof(store[0]), __VA_ARGS__), argv[n++] = store[k++])
	ARG("capsule");
	ARG("run");
	ARG("--paused");
	ARG("--name");
	ARG("%.63s", id);
	for (char *p = store[k - 1]; *p; p++)
		if (*p == '+')
			*p = '_'; /* a domain's name has no '+' */
	argv[n++] = "--api-sock"; /* relative: the VMM starts in ROOT/ID (oci_api) */
	argv[n++] = OCI_API_SOCK;
	argv[n++] = "--exit-file";
	argv[n++] = OCI_EXIT_FILE;
	ARG("--mem");
	ARG("%llu", (unsigned long long)s->mem_mib);
	ARG("--vcpus");
	ARG("%u", s->vcpus);
	argv[n++] = "--cmdline";
	argv[n++] = (char *)s->cmdline;
	for (unsigned i = 0; i < s->nr_disks; i++) {
		argv[n++] = "--disk";
		argv[n++] = (char *)s->disks[i];
	}
	if (o->debug)
		ARG("-v");
	if (net) {
		argv[n++] = "--net";
		ARG("tap=%s,mac=%s", net->tap, net->mac);
	}
	if (ln) { /* filled in by the child (late_net_child), or taken out */
		ln->at = n;
		argv[n++] = "--net";
		ln->slot = store[k];
		ARG("none");
	}
	ARG("/proc/self/fd/%d", s->image_fd);
	argv[n] = NULL;
#undef ARG
	return 0;
}

static int late_net_wire(const struct create_args *a, struct oci_spec *s, pid_t pid,
			 struct late_net *ln, char *err, size_t errlen);

/* The guest's address first on its command line: capsule.ip=A.B.C.D/N [capsule.gw=G]. */
static int net_cmdline(struct oci_spec *s, const struct oci_net *net, char *err,
		       size_t errlen)
{
	char line[sizeof(s->cmdline)];
	size_t max = s->image_pv ? CAP_CMDLINE_MAX : sizeof(s->cmdline);
	int n = snprintf(line, sizeof(line), "capsule.ip=%s/%u%s%s%s%s", net->ip, net->prefix,
			 net->gw[0] ? " capsule.gw=" : "", net->gw, s->cmdline[0] ? " " : "",
			 s->cmdline);

	if (n < 0 || (size_t)n >= max) {
		snprintf(err, errlen, "the guest command line with its address is longer than %zu "
			 "bytes", max - 1);
		return -1;
	}
	memcpy(s->cmdline, line, (size_t)n + 1);
	return 0;
}

static int late_net_wire(const struct create_args *a, struct oci_spec *s, pid_t pid,
			 struct late_net *ln, char *err, size_t errlen)
{
	char ns[64], msg[sizeof(s->cmdline) + 64];
	struct oci_net net;
	size_t len, off = 0;
	int r;
	char c;

	close(ln->up[1]);
	close(ln->go[0]);
	r = read(ln->up[0], &c, 1) == 1 ? 0 : -1;
	close(ln->up[0]);
	if (r) {
		snprintf(err, errlen, "the VMM's process could not make its network namespace");
		goto out;
	}
	if ((r = oci_hooks_run(s->hooks, a->id, pid, s->bundle, err, errlen)))
		goto out;
	snprintf(ns, sizeof(ns), "/proc/%d/ns/net", (int)pid);
	r = oci_net_setup(ns, &net, err, errlen);
	if (r == -ENODEV) { /* --network none, say: a domain without a network device */
		oci_log("info", "create %s: %s; no network device", a->id, err);
		snprintf(msg, sizeof(msg), "\n");
		r = 0;
	} else if (!r && !(r = net_cmdline(s, &net, err, errlen))) {
		snprintf(msg, sizeof(msg), "tap=%s,mac=%s\n%s", net.tap, net.mac, s->cmdline);
	}
	for (len = strlen(msg); !r && off < len;) {
		ssize_t n = write(ln->go[1], msg + off, len - off);

		if (n <= 0) {
			snprintf(err, errlen, "the VMM's process ended while its network was made");
			r = -1;
			break;
		}
		off += (size_t)n;
	}
out:
	close(ln->go[1]);
	return r;
}

static int do_create(const struct oci_opts *o, const struct create_args *a,
		     struct oci_spec *s, char *err, size_t errlen)
{
	static char store[MAX_ARGS][PATH_MAX + 32];
	char *argv[MAX_ARGS + 1], vmm[PATH_MAX], dir[PATH_MAX], pty[64], pidtxt[24];
	struct cgroup_host cg;
	struct oci_net net;
	struct late_net late, *ln = NULL;
	bool use_cg = s->cpu_weight || s->cpu_cap;
	struct oci_state st = {0};
	int master = -1;
	pid_t pid;

	if (s->terminal && !a->console_socket) {
		snprintf(err, errlen, "cannot allocate tty if runc will detach without setting "
			 "console socket");
		return -1;
	}
	if (!s->terminal && a->console_socket) {
		snprintf(err, errlen, "cannot use console socket if runc will not detach or "
			 "allocate tty");
		return -1;
	}
	if (use_cg && (cgroup_host_init(&cg, CG_AUTO, NULL, "capsule-oci", err, errlen) ||
		       cgroup_dom_create(&cg, a->id, err, errlen) ||
		       cgroup_dom_set_cpu(&cg, a->id, s->cpu_weight ? s->cpu_weight
								  : CG_WEIGHT_DEFAULT,
					  s->cpu_cap, err, errlen)))
		return -1;
	if (s->netns[0] && (oci_net_setup(s->netns, &net, err, errlen) ||
			    net_cmdline(s, &net, err, errlen)))
		return -1;
	if (!s->netns[0] && s->new_netns && s->hooks) {
		ln = &late;
		if (pipe2(late.up, O_CLOEXEC) || pipe2(late.go, O_CLOEXEC)) {
			snprintf(err, errlen, "pipe: %s", strerror(errno));
			return -1;
		}
	}
	if (oci_path(o, a->id, NULL, dir, sizeof(dir)) ||
	    vmm_argv(o, s, a->id, s->netns[0] ? &net : NULL, ln, store, argv)) {
		snprintf(err, errlen, "the state directory's paths are too long for %s", a->id);
		return -1;
	}
	if (s->terminal && open_pty(&master, pty, sizeof(pty), err, errlen))
		return -1;
	vmm_path(vmm, sizeof(vmm));
	oci_log("debug", "create %s: %s %s", a->id, vmm, s->cmdline);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		child(s, s->terminal ? pty : NULL, use_cg ? &cg : NULL, a->id, dir, argv, vmm, ln);
	if (master >= 0) {
		int r = send_console(a->console_socket, master, pty, err, errlen);

		close(master);
		if (r)
			goto kill;
	}
	if (ln && late_net_wire(a, s, pid, ln, err, errlen))
		goto kill;
	if (wait_ready(o, a->id, pid, err, errlen))
		goto kill;
	/* Without a namespace to fill, the hooks run once the VMM is there (as runc's do
	 * before the process starts: the domain is paused). */
	if (!ln && oci_hooks_run(s->hooks, a->id, pid, s->bundle, err, errlen))
		goto kill;
	snprintf(st.id, sizeof(st.id), "%s", a->id);
	snprintf(st.bundle, sizeof(st.bundle), "%s", s->bundle);
	snprintf(st.rootfs, sizeof(st.rootfs), "%s", s->rootfs);
	now_rfc3339(st.created, sizeof(st.created));
	st.pid = pid;
	st.starttime = proc_start_time(pid);
	st.cgroup = use_cg;
	st.annotations = s->annotations;
	snprintf(pidtxt, sizeof(pidtxt), "%d", (int)pid);
	if (oci_state_write(o, &st, err, errlen) ||
	    (a->pid_file && oci_write_atomic(a->pid_file, pidtxt, err, errlen)))
		goto kill;
	oci_log("info", "created %s: VMM pid %d, %s, %llu MiB", a->id, (int)pid,
		s->image_pv ? "PV" : "HVM", (unsigned long long)s->mem_mib);
	return 0;
kill:
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (use_cg)
		cgroup_dom_remove(&cg, a->id);
	return -1;
}

/* --root and the directories above it (containerd names one per namespace). */
static int mkdir_parents(const char *dir)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = path + 1;; p++) {
		char c = *p;

		if (c && c != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0711) && errno != EEXIST)
			return -1;
		if (!c)
			return 0;
		*p = c;
	}
}

int oci_create(const struct oci_opts *o, int argc, char **argv)
{
	struct create_args a;
	struct oci_spec s;
	char err[1024], dir[PATH_MAX];
	int r;

	if (parse(argc, argv, &a))
		return 1;
	if (oci_id_check(a.id, err, sizeof(err)))
		return oci_fail("%s", err);
	if (mkdir_parents(o->root))
		return oci_fail("cannot make the state root %s: %s", o->root, strerror(errno));
	if (oci_path(o, a.id, NULL, dir, sizeof(dir)))
		return oci_fail("state path too long for %s", a.id);
	if (mkdir(dir, 0700))
		return errno == EEXIST ? oci_fail("container with id exists: %s", a.id)
				       : oci_fail("cannot make %s: %s", dir, strerror(errno));
	if (oci_bundle_load(a.bundle, &s, err, sizeof(err))) {
		oci_state_remove(o, a.id);
		return oci_fail("%s", err);
	}
	r = do_create(o, &a, &s, err, sizeof(err));
	oci_spec_free(&s);
	if (r) {
		oci_state_remove(o, a.id);
		return oci_fail("%s", err);
	}
	return 0;
}
