/* SPDX-License-Identifier: Apache-2.0 */
/* Small kernel files (sysfs, cgroupfs, /proc): read whole, written in one write(). */
#ifndef CAPSULE_SYSFILE_H
#define CAPSULE_SYSFILE_H

#include <stddef.h>
#include <sys/types.h>

/* At most len - 1 bytes into buf, NUL-terminated: 0 or -errno. */
int sysfile_read(const char *path, char *buf, size_t len);
/* text in one write (O_TRUNC, which kernfs ignores, for a regular file standing in): 0 or
 * -errno. */
int sysfile_write(const char *path, const char *text);
/* All n bytes at off (pwrite again after a short write or EINTR): 0 or -errno. */
int pwrite_all(int fd, const void *buf, size_t n, off_t off);

#endif
