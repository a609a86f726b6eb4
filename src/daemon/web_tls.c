/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS for the dashboard (web.h), with GnuTLS: --web-tls-cert and --web-tls-key. The
 * dashboard's server itself speaks plain HTTP on a Unix socket of its own (STATE_DIR/
 * web.sock, 0600); this front accepts on the TCP address, and one thread per connection
 * does the handshake and then relays bytes both ways between the TLS session and a
 * connection to that socket. The server, the WebSocket handover and the relays behind
 * them stay as they are; the front adds what only TLS brings (Secure cookies, https
 * origins). At most WEB_TLS_CONNS connections at once; more are closed at accept.
 */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "web.h"

#define WEB_TLS_CONNS 64
#define HANDSHAKE_MS 10000
#define RELAY_BUF 16384

struct tls_conn {
	struct web_tls *t;
	pthread_t thread;
	int fd, inner; /* the client's TCP connection, ours to the server's socket */
	enum { TC_FREE, TC_RUNNING, TC_DONE } state;
};

struct web_tls {
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
	int listen_fd, stop_fd;
	char inner_path[4200];
	pthread_t thread;
	pthread_mutex_t lock;
	bool stopping;
	struct tls_conn conns[WEB_TLS_CONNS];
};

static int connect_inner(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k, n -= (size_t)k;
	}
	return 0;
}

/* Bytes both ways until either side ends. */
static void relay(gnutls_session_t s, int fd, int inner)
{
	char buf[RELAY_BUF];

	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = inner, .events = POLLIN}};
		bool pending = gnutls_record_check_pending(s) > 0;

		if (!pending && poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (pending || p[0].revents) {
			ssize_t n = gnutls_record_recv(s, buf, sizeof(buf));

			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				continue;
			if (n <= 0 || write_all(inner, buf, (size_t)n))
				return;
		}
		if (p[1].revents) {
			ssize_t n = read(inner, buf, sizeof(buf));

			if (n <= 0)
				return;
			for (ssize_t off = 0; off < n;) {
				ssize_t k = gnutls_record_send(s, buf + off, (size_t)(n - off));

				if (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED)
					continue;
				if (k < 0)
					return;
				off += k;
			}
		}
	}
}

static void *conn_thread(void *arg)
{
	struct tls_conn *c = arg;
	struct web_tls *t = c->t;
	struct timeval tv = {.tv_sec = 30};
	gnutls_session_t s = NULL;
	int r, inner = -1;

	/* Every wait bounded: a client that stops mid-record holds only this thread. */
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (gnutls_init(&s, GNUTLS_SERVER) || gnutls_priority_set(s, t->prio) ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, t->cred))
		goto out;
	gnutls_certificate_server_set_request(s, GNUTLS_CERT_IGNORE);
	gnutls_handshake_set_timeout(s, HANDSHAKE_MS);
	gnutls_transport_set_int(s, c->fd);
	do
		r = gnutls_handshake(s);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0 || (inner = connect_inner(t->inner_path)) < 0)
		goto out;
	pthread_mutex_lock(&t->lock);
	c->inner = inner;
	if (t->stopping)
		shutdown(inner, SHUT_RDWR);
	pthread_mutex_unlock(&t->lock);
	relay(s, c->fd, inner);
	gnutls_bye(s, GNUTLS_SHUT_WR);
out:
	if (s)
		gnutls_deinit(s);
	pthread_mutex_lock(&t->lock);
	close(c->fd);
	if (inner >= 0)
		close(inner);
	c->fd = c->inner = -1;
	c->state = TC_DONE;
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static void *accept_thread(void *arg)
{
	struct web_tls *t = arg;

	for (;;) {
		struct pollfd p[2] = {{.fd = t->listen_fd, .events = POLLIN},
				      {.fd = t->stop_fd, .events = POLLIN}};
		struct tls_conn *c = NULL;
		int fd;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!p[0].revents || (fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		pthread_mutex_lock(&t->lock);
		for (unsigned i = 0; i < WEB_TLS_CONNS && !c; i++) {
			if (t->conns[i].state == TC_DONE) {
				pthread_join(t->conns[i].thread, NULL);
				t->conns[i].state = TC_FREE;
			}
			if (t->conns[i].state == TC_FREE)
				c = &t->conns[i];
		}
		if (c) {
			*c = (struct tls_conn){.t = t, .fd = fd, .inner = -1, .state = TC_RUNNING};
			if (pthread_create(&c->thread, NULL, conn_thread, c))
				c->state = TC_FREE, c = NULL;
		}
		pthread_mutex_unlock(&t->lock);
		if (!c)
			close(fd); /* too many at once */
	}
	return NULL;
}

int web_tls_start(struct web *w, const struct web_options *o, int listen_fd,
		  const char *inner_path, char *err, size_t errlen)
{
	struct web_tls *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -ENOMEM;
	t->listen_fd = listen_fd;
	t->stop_fd = -1;
	pthread_mutex_init(&t->lock, NULL);
	snprintf(t->inner_path, sizeof(t->inner_path), "%s", inner_path);
	if ((r = gnutls_global_init()) ||
	    (r = gnutls_certificate_allocate_credentials(&t->cred)) ||
	    (r = gnutls_certificate_set_x509_key_file(t->cred, o->tls_cert, o->tls_key,
						      GNUTLS_X509_FMT_PEM)) < 0 ||
	    (r = gnutls_priority_init(&t->prio, NULL, NULL))) {
		snprintf(err, errlen, "TLS: cannot use the certificate %s and key %s: %s",
			 o->tls_cert, o->tls_key, gnutls_strerror(r));
		goto fail;
	}
	if ((t->stop_fd = eventfd(0, EFD_CLOEXEC)) < 0 ||
	    pthread_create(&t->thread, NULL, accept_thread, t)) {
		snprintf(err, errlen, "TLS: cannot start its thread");
		goto fail;
	}
	w->tls = t;
	return 0;
fail:
	if (t->stop_fd >= 0)
		close(t->stop_fd);
	if (t->prio)
		gnutls_priority_deinit(t->prio);
	if (t->cred)
		gnutls_certificate_free_credentials(t->cred);
	pthread_mutex_destroy(&t->lock);
	free(t);
	return -EINVAL;
}

void web_tls_stop(struct web *w)
{
	struct web_tls *t = w->tls;
	uint64_t one = 1;

	if (!t)
		return;
	if (write(t->stop_fd, &one, sizeof(one)) != sizeof(one))
		shutdown(t->listen_fd, SHUT_RDWR);
	pthread_join(t->thread, NULL);
	pthread_mutex_lock(&t->lock);
	t->stopping = true;
	for (unsigned i = 0; i < WEB_TLS_CONNS; i++) {
		if (t->conns[i].state != TC_RUNNING)
			continue;
		shutdown(t->conns[i].fd, SHUT_RDWR);
		if (t->conns[i].inner >= 0)
			shutdown(t->conns[i].inner, SHUT_RDWR);
	}
	pthread_mutex_unlock(&t->lock);
	for (unsigned i = 0; i < WEB_TLS_CONNS; i++)
		if (t->conns[i].state != TC_FREE)
			pthread_join(t->conns[i].thread, NULL);
	close(t->stop_fd);
	gnutls_priority_deinit(t->prio);
	gnutls_certificate_free_credentials(t->cred);
	gnutls_global_deinit();
	pthread_mutex_destroy(&t->lock);
	free(t);
	w->tls = NULL;
}
