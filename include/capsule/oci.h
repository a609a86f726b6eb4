/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capsule-oci: an OCI runtime with runc's command line (docs/oci.md). One domain per
 * container; the container's init process is the VMM (`capsule run --paused`), started by
 * create and resumed by start through the domain's API socket.
 *
 *   src/oci/main.c       argv: global options and the commands
 *   src/oci/bundle.c     config.json (jansson) -> the VMM's command line
 *   src/oci/state.c      ROOT/ID/state.json, written atomically; the status from the pid
 *   src/oci/create.c     create: the VMM forked paused, the console handed over, the pid file
 *   src/oci/commands.c   start, state, kill, delete, ps, pause, resume, features
 *   src/oci/net.c        the TAP in the container's network namespace, tc redirects
 *   src/oci/hooks.c      the bundle's prestart and createRuntime hooks
 *   src/oci/log.c        --log / --log-format json, as runc writes it for containerd
 */
#ifndef CAPSULE_OCI_H
#define CAPSULE_OCI_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OCI_VERSION "1.0.2"
#define OCI_DEFAULT_ROOT "/run/capsule-oci"
#define OCI_ID_MAX 128
#define OCI_MAX_DISKS 8
/* What the VMM itself takes beyond guest memory (measured: docs/oci.md), subtracted from
 * linux.resources.memory.limit. */
#define OCI_VMM_OVERHEAD_MIB 16
#define OCI_DEFAULT_MEM_MIB 64
/* In ROOT/ID, the VMM's cwd: relative, since ROOT/ID/api.sock may not fit a sun_path. */
#define OCI_API_SOCK "api.sock"
#define OCI_EXIT_FILE "exit.json"
#define OCI_SHUTDOWN_GRACE_S 10 /* SIGTERM: the guest's time to power off, then destroy */

struct oci_opts {
	const char *root;    /* --root */
	const char *log;     /* --log FILE, or NULL: stderr only */
	bool log_json;       /* --log-format json */
	bool debug;          /* --debug */
};

/* A bundle turned into what the VMM is started with. */
struct oci_spec {
	char bundle[PATH_MAX];
	char rootfs[PATH_MAX];
	char image[PATH_MAX];   /* process.args[0], inside rootfs */
	int image_fd;           /* opened with RESOLVE_IN_ROOT (the VMM opens /proc/self/fd/N) */
	bool image_pv;          /* the loader's verdict: a PV image, else a kernel (HVM) */
	char cmdline[4096];
	uint64_t mem_mib;
	unsigned vcpus;
	bool terminal;
	unsigned cpu_weight, cpu_cap; /* Xen's weight and cap (0: not set) */
	char cpus[256];               /* linux.resources.cpu.cpus, or "" */
	char disks[OCI_MAX_DISKS][PATH_MAX + 16];
	unsigned nr_disks;
	char *annotations;            /* the object as JSON text (malloc'd) */
	char netns[PATH_MAX];         /* linux.namespaces' network path, or "" */
	bool new_netns;               /* a network namespace without a path: the VMM's own */
	char *hooks;                  /* the hooks object as JSON text (malloc'd), or NULL */
};

/* The container's network (src/oci/net.c). */
#define OCI_TAP_NAME "capsule0"
struct oci_net {
	char ifname[16];  /* the engine's interface (a veth), its MAC and IPv4 address */
	char mac[18];
	char ip[16];
	unsigned prefix;
	char gw[16];      /* the default route's gateway, or "" */
	char tap[16];
};
/* Enter netns (a path), make the TAP and the redirects: 0, -ENODEV if the namespace has no
 * interface with an address (nothing to join), or -1 with err. */
int oci_net_setup(const char *netns, struct oci_net *n, char *err, size_t errlen);

struct oci_state {
	char id[OCI_ID_MAX + 1];
	char bundle[PATH_MAX];
	char rootfs[PATH_MAX];
	char created[40];       /* RFC 3339 */
	pid_t pid;
	unsigned long long starttime; /* /proc/PID/stat field 22: the pid is still ours */
	bool started;           /* start ran: created -> running */
	bool cgroup;            /* the VMM is in a capsule-oci cgroup named after the id */
	char *annotations;      /* JSON text (malloc'd) */
};

/* log.c */
void oci_log_init(const struct oci_opts *o);
void oci_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An error: on stderr and in the log; returns 1 (the command's exit status). */
int oci_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* bundle.c: 0, or -1 with a sentence in err. */
int oci_bundle_load(const char *bundle, struct oci_spec *s, char *err, size_t errlen);
void oci_spec_free(struct oci_spec *s);
/* The guest command line from the args after args[0] and env (pure; unit-tested). */
int oci_cmdline(const char *prefix, const char *const *env, size_t nenv,
		const char *const *args, size_t nargs, char *out, size_t len);
/* linux.resources.memory.limit in bytes -> guest MiB (pure): 0, or -1 with err. */
int oci_mem_from_limit(int64_t limit, uint64_t *mib, char *err, size_t errlen);
/* CPU shares -> weight, quota/period -> cap in percent (pure). */
unsigned oci_weight_from_shares(uint64_t shares);
unsigned oci_cap_from_quota(int64_t quota, uint64_t period);

/* hooks.c: the prestart and createRuntime hooks, with the state of the container whose
 * VMM is pid on their stdin: 0, or -1 with err. */
int oci_hooks_run(const char *hooks, const char *id, pid_t pid, const char *bundle,
		  char *err, size_t errlen);

/* state.c */
int oci_id_check(const char *id, char *err, size_t errlen);
/* ROOT/ID[/file] into out: 0, or -1 if it does not fit. */
int oci_path(const struct oci_opts *o, const char *id, const char *file, char *out,
	     size_t len);
/* 0; -ENOENT if there is no such container; -1 with err for a broken state file. */
int oci_state_read(const struct oci_opts *o, const char *id, struct oci_state *st, char *err,
		   size_t errlen);
int oci_state_write(const struct oci_opts *o, const struct oci_state *st, char *err,
		    size_t errlen);
void oci_state_free(struct oci_state *st);
/* The container's directory and its files (the VMM's socket, its exit file), gone. */
void oci_state_remove(const struct oci_opts *o, const char *id);
/* "created", "running", "paused" or "stopped". */
const char *oci_status(const struct oci_opts *o, const struct oci_state *st);
bool oci_pid_alive(pid_t pid, unsigned long long starttime);
/* Write text to path through a temporary file and rename (pid files, state.json). */
int oci_write_atomic(const char *path, const char *text, char *err, size_t errlen);

/* The commands: the process's exit status. */
int oci_create(const struct oci_opts *o, int argc, char **argv);
int oci_start(const struct oci_opts *o, int argc, char **argv);
int oci_state_cmd(const struct oci_opts *o, int argc, char **argv);
int oci_kill(const struct oci_opts *o, int argc, char **argv);
int oci_delete(const struct oci_opts *o, int argc, char **argv);
int oci_ps(const struct oci_opts *o, int argc, char **argv);
int oci_pause_resume(const struct oci_opts *o, int argc, char **argv, bool pause);
int oci_features(void);
/* The API of a container's VMM: the HTTP status, or -1 with err. */
int oci_api(const struct oci_opts *o, const char *id, const char *method, const char *path,
	    const char *body, char *reply, size_t len);
/* A signal by number ("9") or name ("KILL", "SIGKILL"): its number, or -1. */
int oci_signal_parse(const char *s);

#endif
