/* SPDX-License-Identifier: Apache-2.0 */
/* Mutually authenticated TLS for live migration (include/capsule/tls.h), on OpenSSL. */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsule/tls.h"

struct tls_conn {
	SSL_CTX *ctx;
	SSL *ssl;
};

static void ssl_error(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s%s%s", what, buf[0] ? ": " : "", buf);
	ERR_clear_error();
}

int tls_connect(int fd, const char *dir, bool server, struct tls_conn **out, char *err,
		size_t errlen)
{
	struct tls_conn *c = calloc(1, sizeof(*c));
	char ca[4200], cert[4200], key[4200];

	*out = NULL;
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	c->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!c->ctx || !SSL_CTX_set_min_proto_version(c->ctx, TLS1_3_VERSION)) {
		ssl_error(err, errlen, "cannot set up TLS");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(c->ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(c->ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(c->ctx) != 1) {
		ssl_error(err, errlen, server ? "this host's certificate or key (cert.pem, "
			  "key.pem)" : "this host's certificate or key (cert.pem, key.pem)");
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(c->ctx, ca, NULL) != 1) {
		ssl_error(err, errlen, "the CA (ca.pem)");
		goto fail;
	}
	/* Mutual: each side insists on a certificate the CA signed. */
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* One connection, never resumed: no session tickets, which would arrive after the
	 * handshake as records without data. And a read that finds only such a record comes
	 * back (EAGAIN) instead of blocking for data: a relay polls before it reads. */
	SSL_CTX_set_num_tickets(c->ctx, 0);
	SSL_CTX_clear_mode(c->ctx, SSL_MODE_AUTO_RETRY);
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
		ssl_error(err, errlen, "cannot set up TLS");
		goto fail;
	}
	if ((server ? SSL_accept(c->ssl) : SSL_connect(c->ssl)) != 1) {
		long v = SSL_get_verify_result(c->ssl);
		char what[300];

		snprintf(what, sizeof(what), "the TLS handshake failed%s%s",
			 v != X509_V_OK ? ": the peer's certificate: " : "",
			 v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
		ssl_error(err, errlen, what);
		goto fail;
	}
	*out = c;
	return 0;
fail:
	tls_close(c);
	return -1;
}

ssize_t tls_read(struct tls_conn *c, void *buf, size_t n)
{
	size_t got = 0;

	errno = 0;
	if (SSL_read_ex(c->ssl, buf, n, &got) == 1)
		return (ssize_t)got;
	switch (SSL_get_error(c->ssl, 0)) {
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_WANT_READ:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_SYSCALL:
		if (!errno)
			return 0; /* the peer went away without close_notify */
		return -1;
	default:
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

int tls_write_all(struct tls_conn *c, const void *buf, size_t n)
{
	size_t done;

	errno = 0;
	if (SSL_write_ex(c->ssl, buf, n, &done) == 1 && done == n)
		return 0;
	ERR_clear_error();
	if (!errno)
		errno = EPIPE;
	return -1;
}

size_t tls_pending(struct tls_conn *c)
{
	return (size_t)SSL_pending(c->ssl);
}

void tls_close(struct tls_conn *c)
{
	if (!c)
		return;
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	free(c);
}
