/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capsuled's start: every domain in the database is either still running (its VMM is the
 * same process: pid and start time match) and re-attached, or it ended while capsuled was
 * down and is settled now from its exit file, with its lifecycle action applied. A
 * directory with no row is a create that never committed (capsuled died in the middle):
 * its VMM, if any, is ended and the directory removed, so a create is all or nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "capsule/vm.h"
#include "daemon.h"

static bool has_row(struct daemon *dm, const char *uuid)
{
	for (unsigned i = 0; i < dm->nr_doms; i++)
		if (!strcmp(dm->doms[i]->uuid, uuid))
			return true;
	return false;
}

static unsigned remove_orphans(struct daemon *dm)
{
	DIR *dir = opendir(dm->dom_dir);
	struct dirent *e;
	unsigned n = 0;

	if (!dir)
		return 0;
	while ((e = readdir(dir))) {
		char path[4200];

		if (e->d_name[0] == '.' || strlen(e->d_name) != 36 || has_row(dm, e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dm->dom_dir, e->d_name);
		kill_orphan(path);
		remove_dom_dir(path);
		if (dm->cg.version) /* its cgroup, if the create got that far (sched.c) */
			cgroup_dom_remove(&dm->cg, e->d_name);
		n++;
	}
	closedir(dir);
	return n;
}

int daemon_reattach(struct daemon *dm)
{
	uint64_t t0 = monotonic_ns();
	unsigned attached = 0, ended = 0, orphans, n;
	int64_t *ids;

	if (db_load_domains(dm))
		return -EIO;
	orphans = remove_orphans(dm);
	n = dm->nr_doms;
	if (!(ids = calloc(n + 1, sizeof(*ids))))
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		ids[i] = dm->doms[i]->id;
	for (unsigned i = 0; i < n; i++) {
		struct ddom *d = dom_find_id(dm, ids[i]);
		char dir[4200];

		if (!d)
			continue;
		dom_sched_load(dm, d);
		if (d->state != DS_RUNNING && d->state != DS_PAUSED && d->state != DS_DYING)
			continue;
		dom_path(dm, d, NULL, dir, sizeof(dir));
		d->pidfd = vmm_pidfd(d->pid, d->pid_start, dir);
		if (d->pidfd >= 0) {
			monitor_watch(dm, d);
			if (d->state == DS_DYING) /* a destroy that capsuled did not see through */
				syscall(SYS_pidfd_send_signal, d->pidfd, SIGKILL, NULL, 0);
			attached++;
		} else {
			dom_vmm_ended(dm, d);
			ended++;
		}
	}
	free(ids);
	fprintf(stderr, "capsuled: %u domains: re-attached to %u, %u ended while capsuled was "
		"down, %u unfinished creates removed, in %.1f ms\n", dm->nr_doms, attached, ended,
		orphans, (double)(monotonic_ns() - t0) / 1e6);
	return 0;
}
