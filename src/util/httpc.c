/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP client of include/capsule/httpc.h. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "capsule/httpc.h"

#define REPLY_MAX (64u << 20) /* a reply bigger than this is refused */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline: 0, or -ETIMEDOUT. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		struct pollfd p = {.fd = fd, .events = events};
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int connect_to(const char *sock, long long deadline, char *err, size_t errlen)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, rc;

	if (strlen(sock) >= sizeof(addr.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", sock);
		return -ENAMETOOLONG;
	}
	memcpy(addr.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return rc;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (errno == EAGAIN || errno == EINPROGRESS) {
			/* A full backlog: wait for room (a listening socket whose server is
			 * starting queues us). */
			int soerr = 0;
			socklen_t len = sizeof(soerr);

			if ((rc = wait_fd(fd, POLLOUT, deadline)) == 0 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && !soerr)
				return fd;
			rc = rc ? rc : -soerr;
		} else {
			rc = -errno;
		}
		snprintf(err, errlen, "cannot connect to %s: %s", sock, strerror(-rc));
		close(fd);
		return rc;
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t n, long long deadline)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		int rc;

		if (w > 0) {
			p += w, n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if ((rc = wait_fd(fd, POLLOUT, deadline)))
			return rc;
	}
	return 0;
}

/* Decode a chunked body in place: its length, or -1. */
static long dechunk(char *b, size_t n)
{
	size_t in = 0, out = 0;

	for (;;) {
		char *end;
		unsigned long len = strtoul(b + in, &end, 16);
		char *crlf = memmem(b + in, n - in, "\r\n", 2);

		if (!crlf || end == b + in)
			return -1;
		in = (size_t)(crlf - b) + 2;
		if (!len)
			return (long)out;
		if (len > n - in)
			return -1;
		memmove(b + out, b + in, len);
		out += len, in += len + 2;
		if (in > n)
			return -1;
	}
}

void httpc_reply_free(struct httpc_reply *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

/* Read the reply until close; split head and body. */
static int read_reply(int fd, long long deadline, struct httpc_reply *r, char *err,
		      size_t errlen)
{
	size_t cap = 16384, len = 0;
	char *buf = malloc(cap), *body;
	int status, rc;
	long n;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t got;

		if (len + 1 >= cap) {
			char *nb = cap < REPLY_MAX ? realloc(buf, cap * 2) : NULL;

			if (!nb) {
				free(buf);
				snprintf(err, errlen, "reply too large");
				return -EMSGSIZE;
			}
			buf = nb, cap *= 2;
		}
		got = read(fd, buf + len, cap - 1 - len);
		if (got > 0) {
			len += (size_t)got;
			continue;
		}
		if (got == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || (rc = wait_fd(fd, POLLIN, deadline))) {
			rc = errno != EAGAIN ? -errno : rc;
			snprintf(err, errlen, "%s", rc == -ETIMEDOUT ? "no reply in time"
							: strerror(-rc));
			free(buf);
			return rc;
		}
	}
	buf[len] = 0;
	body = strstr(buf, "\r\n\r\n");
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || !body) {
		snprintf(err, errlen, "no HTTP reply (the connection was closed)");
		free(buf);
		return -EPROTO;
	}
	*body = 0;
	body += 4;
	n = (long)(len - (size_t)(body - buf));
	if (strcasestr(buf, "\r\ntransfer-encoding: chunked") && (n = dechunk(body, (size_t)n)) < 0) {
		snprintf(err, errlen, "a malformed chunked reply");
		free(buf);
		return -EPROTO;
	}
	memmove(buf, body, (size_t)n);
	buf[n] = 0;
	r->status = status;
	r->body = buf;
	r->len = (size_t)n;
	return status;
}

/* The first bytes of a request, with descriptors attached (SCM_RIGHTS) if there are any. */
static int send_first(int fd, const char *p, size_t n, const int *fds, unsigned nfds,
		      long long deadline)
{
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {(void *)p, n};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t k;

	if (!nfds)
		return send_all(fd, p, n, deadline);
	if (nfds > 8)
		return -EINVAL;
	memset(&ctl, 0, sizeof(ctl));
	m.msg_control = ctl.buf;
	m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
	CMSG_FIRSTHDR(&m)->cmsg_level = SOL_SOCKET;
	CMSG_FIRSTHDR(&m)->cmsg_type = SCM_RIGHTS;
	CMSG_FIRSTHDR(&m)->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(CMSG_FIRSTHDR(&m)), fds, nfds * sizeof(int));
	do
		k = sendmsg(fd, &m, MSG_NOSIGNAL);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return -errno;
	return send_all(fd, p + k, n - (size_t)k, deadline);
}

int httpc_request(const char *sock, const char *method, const char *path, const char *ctype,
		  const char *body, size_t len, int timeout_ms, struct httpc_reply *r, char *err,
		  size_t errlen)
{
	return httpc_request_fds(sock, method, path, ctype, body, len, NULL, 0, timeout_ms, r,
				 err, errlen);
}

int httpc_request_fds(const char *sock, const char *method, const char *path,
		      const char *ctype, const char *body, size_t len, const int *fds,
		      unsigned nfds, int timeout_ms, struct httpc_reply *r, char *err,
		      size_t errlen)
{
	long long deadline = now_ms() + timeout_ms;
	char head[1024];
	int fd, n, rc;

	*r = (struct httpc_reply){0};
	if ((fd = connect_to(sock, deadline, err, errlen)) < 0)
		return fd;
	n = snprintf(head, sizeof(head),
		     "%s %s HTTP/1.1\r\nHost: capsule\r\nConnection: close\r\n"
		     "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
		     method, path, ctype ? ctype : "application/json", body ? len : 0);
	if (n >= (int)sizeof(head)) {
		close(fd);
		snprintf(err, errlen, "request path too long");
		return -ENAMETOOLONG;
	}
	if ((rc = send_first(fd, head, (size_t)n, fds, nfds, deadline)) ||
	    (body && (rc = send_all(fd, body, len, deadline)))) {
		snprintf(err, errlen, "cannot send the request to %s: %s", sock, strerror(-rc));
		close(fd);
		return rc;
	}
	rc = read_reply(fd, deadline, r, err, errlen);
	close(fd);
	return rc;
}

int httpc_stream(const char *sock, const char *path, int timeout_ms, char *err, size_t errlen)
{
	long long deadline = now_ms() + timeout_ms;
	char head[1024], buf[8192];
	size_t len = 0;
	int fd, n, rc, status;

	if ((fd = connect_to(sock, deadline, err, errlen)) < 0)
		return fd;
	n = snprintf(head, sizeof(head), "GET %s HTTP/1.0\r\nHost: capsule\r\n\r\n", path);
	if (n >= (int)sizeof(head) || (rc = send_all(fd, head, (size_t)n, deadline))) {
		snprintf(err, errlen, "cannot send the request to %s", sock);
		close(fd);
		return -EIO;
	}
	/* The head, a byte at a time: what follows it stays in the socket for the caller. */
	while (len + 1 < sizeof(buf)) {
		ssize_t got = read(fd, buf + len, 1);

		if (got == 1) {
			len++;
			if (len >= 4 && !memcmp(buf + len - 4, "\r\n\r\n", 4))
				break;
			continue;
		}
		if (got == 0 || (errno != EAGAIN && errno != EINTR) ||
		    (rc = wait_fd(fd, POLLIN, deadline))) {
			snprintf(err, errlen, "no reply from %s", sock);
			close(fd);
			return -EPROTO;
		}
	}
	buf[len] = 0;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
		snprintf(err, errlen, "no HTTP reply from %s", sock);
		close(fd);
		return -EPROTO;
	}
	if (status < 200 || status > 299) {
		struct httpc_reply r = {0};
		char tmp[512];

		/* HTTP/1.0 error replies carry a Content-Length and end at close. */
		len = 0;
		while (len + 1 < sizeof(buf)) {
			ssize_t got = read(fd, buf + len, sizeof(buf) - 1 - len);

			if (got > 0) {
				len += (size_t)got;
				continue;
			}
			if (got < 0 && errno == EAGAIN && !wait_fd(fd, POLLIN, deadline))
				continue;
			break;
		}
		buf[len] = 0;
		snprintf(err, errlen, "%s", httpc_error_text(buf, tmp, sizeof(tmp)));
		httpc_reply_free(&r);
		close(fd);
		return -EPROTO;
	}
	/* The caller reads the stream as it comes: blocking, or with poll. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

const char *httpc_error_text(const char *body, char *out, size_t len)
{
	json_t *j = body ? json_loads(body, 0, NULL) : NULL;
	json_t *e = j ? json_object_get(j, "error") : NULL;
	const char *text = e && json_is_string(e) ? json_string_value(e) : body ? body : "";
	size_t n = strnlen(text, len - 1);

	memcpy(out, text, n);
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		n--;
	out[n] = 0;
	json_decref(j);
	return out;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encode(const void *in, size_t n, char *out)
{
	const unsigned char *p = in;
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);

		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = 0;
	return o;
}

long base64_decode(const char *in, size_t n, void *out)
{
	unsigned char *p = out;
	long o = 0;
	unsigned v = 0, bits = 0;

	for (size_t i = 0; i < n; i++) {
		const char *c = in[i] ? strchr(b64, in[i]) : NULL;

		if (in[i] == '=')
			break;
		if (!c)
			return -1;
		v = v << 6 | (unsigned)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			p[o++] = (unsigned char)(v >> bits);
		}
	}
	return o;
}
