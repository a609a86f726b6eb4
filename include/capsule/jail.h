/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The jailer (docs/jailer.md): capsule run --jail DIR puts the VMM in fresh mount, PID,
 * IPC and UTS namespaces (and a network namespace given by path), pivot_roots it into DIR,
 * which then holds only the domain's files (bind-mounted at their host paths) and device
 * nodes, and runs it as a dedicated uid/gid with no capabilities, no_new_privs and
 * resource limits, in a cgroup if given. A small parent outside the namespaces waits for
 * it, forwards the run signals, and exits with its status.
 */
#ifndef CAPSULE_JAIL_H
#define CAPSULE_JAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define JAIL_MAX_FILES 24

struct jail_opts {
	const char *dir;          /* --jail DIR: an existing directory; NULL: no jail */
	uid_t uid;                /* --uid, --gid: not 0 */
	gid_t gid;
	bool uid_set, gid_set;
	const char *netns;        /* --jail-netns PATH (/run/netns/NAME), or NULL */
	const char *cgroup;       /* --jail-cgroup DIR (a cgroup directory), or NULL */
	unsigned long nofile;     /* RLIMIT_NOFILE inside (default JAIL_NOFILE) */
};

#define JAIL_NOFILE 1024
#define JAIL_MEMLOCK (64u << 10) /* bytes: the VMM locks nothing; io_uring charges none */

/* A file the domain opens, to bind into the jail at the same path. */
struct jail_file {
	const char *path;
	bool writable;
};

/*
 * Check the options (a clear message on stderr for each problem): 0 or -1. Does nothing
 * without a jail directory.
 */
int jail_check(const struct jail_opts *j);
/*
 * Enter the jail: namespaces, then fork. The parent never returns: it waits for the
 * jailed child and exits with its status. The child returns 0 with / being the jail
 * directory and still privileged (to open /dev/kvm and the files), or -1 after naming the
 * step that failed. Call before any thread exists and before the domain's files are open.
 * The parent calls at_end(opaque) (if not NULL) once the child has ended, before it exits:
 * what the VMM made on the host's side (its API socket) goes then.
 */
int jail_enter(const struct jail_opts *j, const char *name, const struct jail_file *files,
	       unsigned nr_files, void (*at_end)(void *), void *opaque);
/*
 * Once the domain's files and devices are open: resource limits, then the dedicated
 * uid/gid with every capability dropped and no_new_privs (sandbox_drop_privileges). 0 or
 * -1 after naming the step.
 */
int jail_drop(const struct jail_opts *j);
/*
 * Parse a jail option of capsule run (--jail, --uid, --gid, --jail-netns, --jail-cgroup,
 * --jail-nofile) into j: 1 if opt is one (0 on success stored in *rc), else 0.
 */
int jail_parse_opt(struct jail_opts *j, const char *opt, const char *arg, int *rc);

#endif
