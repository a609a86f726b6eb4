/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dashboard's authentication (web.h). One secret, the token: STATE_DIR/web.token
 * (mode 0600, made with 32 random bytes the first time; or --web-token-file), which the
 * login page exchanges for a session: a random id in a cookie (HttpOnly, SameSite=Strict,
 * Path=/) and a CSRF token the page keeps in memory and sends in X-CSRF-Token on every
 * state-changing request, which must also carry an Origin that is this server. Sessions
 * live in memory (a restart logs everyone out) for WEB_SESSION_S.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capsule/vm.h"
#include "web.h"

#define TOKEN_MIN 16

static int random_hex(char *out, size_t bytes)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[32];

	if (bytes > sizeof(b) || getrandom(b, bytes, 0) != (ssize_t)bytes)
		return -EIO;
	for (size_t i = 0; i < bytes; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * bytes] = 0;
	return 0;
}

/* Equal strings, in a time that does not depend on where they differ. */
static bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;

	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return !diff;
}

int web_token_load(struct web *w, const char *path, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0 && errno == ENOENT) {
		if (random_hex(w->token, 32) ||
		    (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
		    write(fd, w->token, 64) != 64 || write(fd, "\n", 1) != 1) {
			snprintf(err, errlen, "cannot make the dashboard's token %s: %s", path,
				 strerror(errno));
			if (fd >= 0)
				close(fd);
			return -EIO;
		}
		close(fd);
		return 0;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot read the dashboard's token %s: %s", path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) || st.st_uid != geteuid()) {
		snprintf(err, errlen, "the dashboard's token %s must be a file of capsuled's user "
			 "that nobody else may read (chmod 600 %s)", path, path);
		close(fd);
		return -EPERM;
	}
	n = read(fd, w->token, sizeof(w->token) - 1);
	close(fd);
	w->token[n > 0 ? n : 0] = 0;
	w->token[strcspn(w->token, "\r\n")] = 0;
	if (strlen(w->token) < TOKEN_MIN) {
		snprintf(err, errlen, "the dashboard's token in %s is shorter than %d characters",
			 path, TOKEN_MIN);
		return -EINVAL;
	}
	return 0;
}

/*
 * Host: a loopback name (any port: an ssh -L forward has its own). A page of another
 * site whose name was made to resolve to 127.0.0.1 (DNS rebinding) names its own host.
 */
static bool loopback_host(const struct http_request *req)
{
	static const char *const names[] = {"127.0.0.1", "localhost", "[::1]"};
	char host[256];

	if (!http_header(req, "host", host, sizeof(host)))
		return false;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);

		if (!strncasecmp(host, names[i], n) && (!host[n] || host[n] == ':'))
			return true;
	}
	return false;
}

/* With TLS the certificate names the host, and a rebound name fails the handshake. */
static bool host_ok(const struct web *w, const struct http_request *req)
{
	return w->secure || loopback_host(req);
}

struct web_session *web_session(struct web *w, const struct http_request *req)
{
	char cookies[1024], *p, id[65];
	int64_t now = time(NULL);
	size_t k = strlen(WEB_COOKIE);

	if (!host_ok(w, req) || !http_header(req, "cookie", cookies, sizeof(cookies)))
		return NULL;
	for (p = cookies; p && *p; p = strchr(p, ';') ? strchr(p, ';') + 1 : NULL) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, WEB_COOKIE, k) && p[k] == '=')
			break;
	}
	if (!p || !*p)
		return NULL;
	snprintf(id, sizeof(id), "%.*s", (int)strcspn(p + k + 1, "; "), p + k + 1);
	if (strlen(id) != 64)
		return NULL;
	for (unsigned i = 0; i < WEB_MAX_SESSIONS; i++) {
		struct web_session *s = &w->sessions[i];

		if (s->id[0] && s->expires <= now)
			s->id[0] = 0;
		if (s->id[0] && same_secret(s->id, id))
			return s;
	}
	return NULL;
}

bool web_same_origin(const struct web *w, const struct http_request *req)
{
	char origin[300], host[256], want[300];

	if (!host_ok(w, req) || !http_header(req, "origin", origin, sizeof(origin)) ||
	    !http_header(req, "host", host, sizeof(host)))
		return false;
	snprintf(want, sizeof(want), "%s://%s", w->secure ? "https" : "http", host);
	return !strcmp(origin, want);
}

bool web_csrf_ok(const struct web *w, const struct web_session *s,
		 const struct http_request *req, struct http_response *resp)
{
	char token[100];

	if (!web_same_origin(w, req)) {
		api_error(resp, 403, "a cross-site request (its Origin is not this dashboard)");
		return false;
	}
	if (!http_header(req, "x-csrf-token", token, sizeof(token)) ||
	    !same_secret(token, s->csrf)) {
		api_error(resp, 403, "no valid X-CSRF-Token (GET /session gives it)");
		return false;
	}
	return true;
}

static void answer_session(const struct web *w, const struct web_session *s,
			   struct http_response *resp, bool set_cookie)
{
	char body[160], cookie[200];

	snprintf(body, sizeof(body), "{\"csrf\": \"%s\", \"expires\": %lld}", s->csrf,
		 (long long)s->expires);
	api_json(resp, 200, body);
	snprintf(cookie, sizeof(cookie), "Set-Cookie: %s=%s; Path=/; Max-Age=%d; HttpOnly; "
		 "SameSite=Strict%s\r\n", WEB_COOKIE, s->id, WEB_SESSION_S,
		 w->secure ? "; Secure" : "");
	resp->headers = web_headers(set_cookie ? cookie : NULL);
}

/* POST /login {"token": "..."}: a session, or 401 (and a pause after repeated failures). */
void web_login(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct web *w = ctx;
	json_t *j = req->body_len ? json_loadb(req->body, req->body_len, 0, NULL) : NULL;
	const char *token = json_string_value(json_object_get(j, "token"));
	int64_t now_ms = (int64_t)(monotonic_ns() / 1000000), now = time(NULL);
	struct web_session *s = NULL;

	if (!web_same_origin(w, req)) {
		api_error(resp, 403, "a cross-site login (its Origin is not this dashboard)");
	} else if (now_ms < w->login_after) {
		api_error(resp, 429, "too many wrong tokens: wait a few seconds");
	} else if (!token || !same_secret(token, w->token)) {
		w->login_failures++;
		/* A second per failure past the third, up to 30: guessing 256 bits is hopeless
		 * anyway, but a short token set by hand is not. */
		if (w->login_failures > 3)
			w->login_after = now_ms + 1000 * (w->login_failures - 3 > 30
							  ? 30 : w->login_failures - 3);
		api_error(resp, 401, "wrong token (it is in the state directory's web.token)");
		fprintf(stderr, "capsuled: web: a login with a wrong token\n");
	} else {
		w->login_failures = 0;
		for (unsigned i = 0; i < WEB_MAX_SESSIONS; i++) {
			struct web_session *t = &w->sessions[i];

			if (!t->id[0] || t->expires <= now) {
				s = t;
				break;
			}
			if (!s || t->expires < s->expires)
				s = t; /* all taken: the oldest goes */
		}
		if (random_hex(s->id, 32) || random_hex(s->csrf, 32)) {
			s->id[0] = 0;
			api_error(resp, 500, "no random bytes for a session");
		} else {
			s->expires = now + WEB_SESSION_S;
			answer_session(w, s, resp, true);
			fprintf(stderr, "capsuled: web: a login\n");
		}
	}
	json_decref(j);
	if (!resp->headers)
		resp->headers = web_headers(NULL);
}

void web_logout(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct web_session *s = web_session(ctx, req);

	if (!s) {
		api_error(resp, 401, "not logged in");
	} else if (web_csrf_ok(ctx, s, req, resp)) {
		s->id[0] = 0;
		api_json(resp, 200, "{}");
		resp->headers = web_headers("Set-Cookie: " WEB_COOKIE "=; Path=/; Max-Age=0; "
					    "HttpOnly; SameSite=Strict\r\n");
		return;
	}
	resp->headers = web_headers(NULL);
}

/* GET /session: the CSRF token of the caller's session (the page asks at load), or 401. */
void web_whoami(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct web_session *s = web_session(ctx, req);

	if (s) {
		answer_session(ctx, s, resp, false);
	} else {
		api_error(resp, 401, "not logged in");
		resp->headers = web_headers(NULL);
	}
}
