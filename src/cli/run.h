/* SPDX-License-Identifier: Apache-2.0 */
/* capsule run's options (run_opts.c), for its foreground runner (run.c). */
#ifndef CAPSULE_CLI_RUN_H
#define CAPSULE_CLI_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "capsule/domain.h"
#include "capsule/jail.h"

struct snap_restore;
struct migrate_in;

/* Everything `capsule run` was told, checked: the domain's configuration and the runner's own. */
struct run_opts {
	struct domain_config cfg;
	const char *api_sock; /* PATH, or fd=N (a listening socket made by a manager) */
	const char *gdb_sock; /* --gdb PATH, or NULL */
	uint64_t timeout_s;
	bool no_seccomp;
	bool paused;    /* --paused: built, waiting paused for vm.resume */
	bool no_prefetch; /* --no-prefetch: a restore reads no working set */
	int exit_fd;    /* --exit-file, or -1 */
	int console_fd; /* --console-log, or -1 */
	struct snap_restore *restore; /* --restore DIR, or NULL */
	struct migrate_in *incoming;  /* --incoming: the migration's connection, or NULL */
	const char *tls_dir;          /* --tls DIR: its TLS identity (include/capsule/tls.h) */
	bool insecure;                /* --insecure: plain TCP */
	const char *net_macs[8];      /* --net-mac, in order of the net devices */
	unsigned nr_net_macs;
	const char *net_taps[8];      /* --net-tap, the same */
	unsigned nr_net_taps;
	struct jail_opts jail;        /* --jail DIR --uid U --gid G ... (docs/jailer.md) */
};

/* Parse argv into o: 0, or -1 with a message printed (--help prints the usage and exits 0). */
int parse_opts(int argc, char **argv, struct run_opts *o);

#endif
