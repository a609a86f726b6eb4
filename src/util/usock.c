/* SPDX-License-Identifier: Apache-2.0 */
/* Listening Unix sockets at a path (include/capsule/usock.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "capsule/usock.h"

#define BACKLOG 128

/* Is a live process accepting on the socket at path? */
static bool socket_alive(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive = fd >= 0 && connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;

	if (fd >= 0)
		close(fd);
	return alive;
}

static int take_lock(struct usock *u, const char *path, char *err, size_t errlen)
{
	char lock[sizeof(u->path) + 8];

	snprintf(lock, sizeof(lock), "%s.lock", path);
	u->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (u->lock_fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", lock, strerror(errno));
		return -errno;
	}
	if (flock(u->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		snprintf(err, errlen, "%s is in use by another capsule (%s is locked)", path, lock);
		return -e;
	}
	return 0;
}

/* Clear the way for bind(): only a stale socket of ours may go. */
static int clear_path(const struct sockaddr_un *addr, char *err, size_t errlen)
{
	const char *path = addr->sun_path;
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; not removing it", path);
		return -EEXIST;
	}
	if (socket_alive(addr)) {
		snprintf(err, errlen, "%s is in use by another process", path);
		return -EADDRINUSE;
	}
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0; /* stale: nobody listens */
}

int usock_listen(struct usock *u, const char *path, mode_t mode, char *err, size_t errlen)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	mode_t old_umask;
	int rc;

	u->fd = u->lock_fd = -1;
	u->path[0] = 0;
	if (strlen(path) >= sizeof(addr.sun_path) - 5) { /* room for ".lock" too */
		snprintf(err, errlen, "socket path %s is too long (at most %zu bytes)", path,
			 sizeof(addr.sun_path) - 6);
		return -ENAMETOOLONG;
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	rc = take_lock(u, path, err, errlen);
	if (!rc)
		rc = clear_path(&addr, err, errlen);
	if (rc)
		goto fail;
	u->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (u->fd < 0)
		goto fail_errno;
	/* The socket file is created with the mode asked for, whatever the umask. */
	old_umask = umask(0777 & ~mode);
	rc = bind(u->fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_umask);
	if (rc < 0)
		goto fail_errno;
	snprintf(u->path, sizeof(u->path), "%s", path); /* ours now: usock_close unlinks it */
	/* No chmod of the path afterwards: it follows symbolic links, and the umask already
	 * gave the socket its mode as bind created it. */
	if (listen(u->fd, BACKLOG) < 0)
		goto fail_errno;
	return 0;
fail_errno:
	rc = -errno;
	snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
fail:
	usock_close(u);
	return rc;
}

void usock_close(struct usock *u)
{
	if (u->fd >= 0 && u->path[0])
		unlink(u->path); /* still ours: we hold the lock */
	if (u->fd >= 0)
		close(u->fd);
	if (u->lock_fd >= 0)
		close(u->lock_fd); /* releases the lock */
	u->fd = u->lock_fd = -1;
	u->path[0] = 0;
}
