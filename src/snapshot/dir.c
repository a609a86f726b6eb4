/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A snapshot directory (docs/snapshot.md): DIR/state and DIR/memory. A client (capsule
 * control, capsuled) makes the files as DIR/state.part and DIR/memory.part, hands them to
 * the VMM, and renames them into place only once the VMM says it is done: memory first,
 * then state, so a directory with a state file always holds a whole snapshot, and a
 * failed or interrupted snapshot leaves the previous one (or nothing) behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capsule/snapshot.h"

static void part_path(char *out, size_t len, const char *dir, const char *name, bool part)
{
	snprintf(out, len, "%s/%s%s", dir, name, part ? ".part" : "");
}

int snapdir_begin(const char *dir, int fds[2], char *err, size_t errlen)
{
	static const char *const names[2] = {"state", "memory"};
	char path[4200];

	fds[0] = fds[1] = -1;
	if (strlen(dir) > 4000) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot make %s: %s", dir, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < 2; i++) {
		part_path(path, sizeof(path), dir, names[i], true);
		fds[i] = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fds[i] < 0) {
			int e = errno;

			snprintf(err, errlen, "cannot create %s: %s", path, strerror(e));
			snapdir_end(dir, fds, false);
			return -e;
		}
	}
	return 0;
}

int snapdir_end(const char *dir, int fds[2], bool commit)
{
	static const char *const names[2] = {"memory", "state"}; /* memory first */
	char from[4200], to[4200];
	int rc = 0, dfd;

	for (int i = 0; i < 2; i++) {
		if (fds[i] >= 0 && commit && fsync(fds[i]) < 0)
			rc = -errno;
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
	for (int i = 0; i < 2; i++) {
		part_path(from, sizeof(from), dir, names[i], true);
		part_path(to, sizeof(to), dir, names[i], false);
		if (commit && !rc)
			rc = rename(from, to) < 0 ? -errno : 0;
		else
			unlink(from);
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (commit && !rc && fsync(dfd) < 0)
			rc = -errno;
		close(dfd);
	}
	return rc;
}
