/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capsule/loader.h"

int loader_error(char err[LOADER_ERR_MAX], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, LOADER_ERR_MAX, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int file_open(const char *path, char err[LOADER_ERR_MAX])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		snprintf(err, LOADER_ERR_MAX, "cannot open %s: %s", path, strerror(errno));
	return fd < 0 ? -errno : fd;
}

int file_read_all(const char *path, int open_fd, uint64_t max_size, uint8_t **buf, size_t *size,
		  char err[LOADER_ERR_MAX])
{
	struct stat st;
	size_t done = 0;
	int fd = open_fd, rc = 0;

	*buf = NULL;
	*size = 0;
	if (fd < 0 && (fd = file_open(path, err)) < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		snprintf(err, LOADER_ERR_MAX, "%s is not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max_size) {
		rc = -EFBIG;
		snprintf(err, LOADER_ERR_MAX, "%s is larger (%lld bytes) than guest memory", path,
			 (long long)st.st_size);
		goto out;
	}
	*buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!*buf) {
		rc = -ENOMEM;
		snprintf(err, LOADER_ERR_MAX, "out of memory reading %s", path);
		goto out;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = pread(fd, *buf + done, (size_t)st.st_size - done, (off_t)done);

		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			snprintf(err, LOADER_ERR_MAX, "cannot read %s", path);
			free(*buf);
			*buf = NULL;
			goto out;
		}
		done += (size_t)n;
	}
	*size = done;
out:
	if (open_fd < 0)
		close(fd);
	return rc;
}
