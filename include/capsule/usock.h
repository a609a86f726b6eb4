/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Listening Unix sockets at a path, made safely: an existing file that is not a socket is
 * never deleted, a socket some live process listens on is never stolen, and the mode is
 * set explicitly (not left to the umask). A lock file PATH.lock, held for the socket's
 * life, serialises two VMMs given the same path; it stays behind, empty, on purpose
 * (deleting it would reopen the race it closes).
 */
#ifndef CAPSULE_USOCK_H
#define CAPSULE_USOCK_H

#include <stddef.h>
#include <sys/types.h>

struct usock {
	int fd;      /* listening, non-blocking, close-on-exec */
	int lock_fd;
	char path[108];
};

/* 0, or a negative errno with a sentence for the user in err. */
int usock_listen(struct usock *u, const char *path, mode_t mode, char *err, size_t errlen);
/* Unlink the socket (if it is still ours) and close everything. */
void usock_close(struct usock *u);

#endif
