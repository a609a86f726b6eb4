/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The web dashboard's listener and pages (web.h). The dashboard is static files built
 * from npm packages (web/, `make web`), read into memory once at start, and a single-page
 * application that talks to the same REST API as the CLI, through web_proxy.c.
 *
 * Plain HTTP on loopback only: a session cookie or the token must not cross a network in
 * clear. Any other address needs TLS (--web-tls-cert, --web-tls-key: web_tls.c).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "web.h"

static const char security_headers[] =
	"Content-Security-Policy: default-src 'self'; script-src 'self'; connect-src 'self'; "
	"img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
	"base-uri 'none'; form-action 'self'\r\n"
	"X-Content-Type-Options: nosniff\r\n"
	"X-Frame-Options: DENY\r\n"
	"Referrer-Policy: same-origin\r\n"
	"Cache-Control: no-store\r\n";

char *web_headers(const char *more)
{
	size_t a = sizeof(security_headers) - 1, b = more ? strlen(more) : 0;
	char *h = malloc(a + b + 1);

	if (h) {
		memcpy(h, security_headers, a);
		if (b)
			memcpy(h + a, more, b);
		h[a + b] = 0;
	}
	return h;
}

static const char *content_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
		{".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
		{".json", "application/json"}, {".map", "application/json"},
		{".svg", "image/svg+xml"}, {".png", "image/png"}, {".ico", "image/x-icon"},
		{".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(dot, types[i].ext))
			return types[i].type;
	return NULL; /* not served */
}

/* Read the files under dir (and one level of subdirectories) into w->files. */
static int load_dir(struct web *w, const char *root, const char *sub, char *err, size_t errlen)
{
	char dir[4200];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s%s", root, sub);
	if (!(d = opendir(dir))) {
		snprintf(err, errlen, "cannot read the dashboard's files in %s: %s (build them: "
			 "make web; or name them: --web-root DIR)", dir, strerror(errno));
		return -errno;
	}
	while ((e = readdir(d))) {
		char path[4400], rel[300];
		struct web_file *f;
		struct stat st;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		snprintf(rel, sizeof(rel), "%s/%s", sub, e->d_name);
		if (stat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && !sub[0]) {
			int rc = load_dir(w, root, rel, err, errlen);

			if (rc) {
				closedir(d);
				return rc;
			}
			continue;
		}
		if (!S_ISREG(st.st_mode) || !content_type(e->d_name) ||
		    strlen(rel) >= sizeof(w->files[0].path))
			continue;
		if (w->nr_files == WEB_MAX_FILES || st.st_size > (off_t)WEB_FILE_MAX) {
			snprintf(err, errlen, "%s: more than %u files, or one over %u MiB",
				 root, WEB_MAX_FILES, WEB_FILE_MAX >> 20);
			closedir(d);
			return -EFBIG;
		}
		f = &w->files[w->nr_files];
		snprintf(f->path, sizeof(f->path), "%s", rel);
		f->type = content_type(e->d_name);
		f->len = (size_t)st.st_size;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || !(f->data = malloc(f->len + 1)) ||
		    read(fd, f->data, f->len) != (ssize_t)f->len) {
			snprintf(err, errlen, "cannot read %s", path);
			if (fd >= 0)
				close(fd);
			free(f->data);
			f->data = NULL;
			closedir(d);
			return -EIO;
		}
		close(fd);
		w->nr_files++;
	}
	closedir(d);
	return 0;
}

static void answer_file(const struct web_file *f, struct http_response *resp)
{
	if (!(resp->body = malloc(f->len ? f->len : 1))) {
		api_error(resp, 500, "out of memory");
		return;
	}
	memcpy(resp->body, f->data, f->len);
	resp->body_len = f->len;
	resp->status = 200;
	resp->content_type = f->type;
}

static void web_static(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct web *w = ctx;

	for (unsigned i = 0; i < w->nr_files; i++)
		if (!strcmp(w->files[i].path, req->path)) {
			answer_file(&w->files[i], resp);
			break;
		}
	if (!resp->status)
		api_error(resp, 404, "no such file: %s", req->path);
	resp->headers = web_headers(NULL);
}

/* "/": the dashboard with a session, the login page without one. */
static void web_page(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct web *w = ctx;

	answer_file(web_session(w, req) ? w->index : w->login, resp);
	resp->headers = web_headers(NULL);
}

static void add_route(struct web *w, const char *method, const char *path, api_handler fn)
{
	if (w->nr_routes < sizeof(w->routes) / sizeof(w->routes[0]))
		w->routes[w->nr_routes++] = (struct api_route){method, path, fn};
}

static bool loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return false;
}

/* ADDR:PORT, [ADDR6]:PORT or PORT (127.0.0.1): a listening socket, or -errno. */
static int web_listen(struct web *w, const char *spec, bool tls, char *err, size_t errlen)
{
	char host[256] = "127.0.0.1", port[16];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd, one = 1, rc;

	if (colon) {
		size_t hl = (size_t)(colon - spec);

		if (hl && spec[0] == '[' && spec[hl - 1] == ']')
			spec++, hl -= 2;
		if (hl >= sizeof(host))
			hl = sizeof(host) - 1;
		memcpy(host, spec, hl);
		host[hl] = 0;
	}
	snprintf(port, sizeof(port), "%s", colon ? colon + 1 : spec);
	if (!port[0] || strspn(port, "0123456789") != strlen(port) ||
	    (rc = getaddrinfo(host, port, &hints, &ai))) {
		snprintf(err, errlen, "--web %s: not ADDR:PORT (127.0.0.1:8080, [::1]:8080, "
			 "localhost:8080 or 8080)", spec);
		return -EINVAL;
	}
	if (!tls && !loopback(ai->ai_addr)) {
		snprintf(err, errlen, "--web %s: not a loopback address, and no TLS: the token and "
			 "the session cookie would cross the network in clear. Give a certificate "
			 "(--web-tls-cert FILE --web-tls-key FILE), or listen on 127.0.0.1 and reach "
			 "it through ssh -L 8080:127.0.0.1:8080 HOST", spec);
		freeaddrinfo(ai);
		return -EPERM;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		rc = -errno;
		snprintf(err, errlen, "--web %s: cannot listen: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return rc;
	}
	freeaddrinfo(ai);
	if (ss.ss_family == AF_INET6) {
		char a[INET6_ADDRSTRLEN];

		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, a, sizeof(a));
		snprintf(w->url, sizeof(w->url), "%s://[%s]:%u/", tls ? "https" : "http", a,
			 ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	} else {
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, a, sizeof(a));
		snprintf(w->url, sizeof(w->url), "%s://%s:%u/", tls ? "https" : "http", a,
			 ntohs(((struct sockaddr_in *)&ss)->sin_port));
	}
	return fd;
}

static void free_web(struct web *w)
{
	for (unsigned i = 0; i < w->nr_files; i++)
		free(w->files[i].data);
	if (w->listen_fd >= 0)
		close(w->listen_fd);
	usock_close(&w->inner);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

int web_start(struct daemon *dm, const struct web_options *o, struct web **out, char *err,
	      size_t errlen)
{
	struct api_options ao = {.thread_name = "capsuled-web", .unconfined = true};
	bool tls = o->tls_cert || o->tls_key;
	char path[4200], inner[4200];
	struct web *w;
	int rc;

	*out = NULL;
	if (tls && (!o->tls_cert || !o->tls_key)) {
		snprintf(err, errlen, "TLS needs both --web-tls-cert and --web-tls-key");
		return -EINVAL;
	}
	if (!(w = calloc(1, sizeof(*w))))
		return -ENOMEM;
	w->dm = dm;
	w->listen_fd = -1;
	w->inner = (struct usock){.fd = -1, .lock_fd = -1};
	w->secure = tls;
	pthread_mutex_init(&w->lock, NULL);
	for (unsigned i = 0; i < WEB_MAX_SOCKETS; i++)
		w->ws[i] = (struct web_ws){.w = w, .fd = -1, .up = -1};
	w->api = daemon_routes(&w->nr_api);
	if (o->token_file)
		snprintf(path, sizeof(path), "%s", o->token_file);
	else
		snprintf(path, sizeof(path), "%s/web.token", dm->state_dir);
	if ((rc = load_dir(w, o->root, "", err, errlen)) ||
	    (rc = web_token_load(w, path, err, errlen)))
		goto fail;
	for (unsigned i = 0; i < w->nr_files; i++) {
		if (!strcmp(w->files[i].path, "/index.html"))
			w->index = &w->files[i];
		else if (!strcmp(w->files[i].path, "/login.html"))
			w->login = &w->files[i];
	}
	if (!w->index || !w->login) {
		snprintf(err, errlen, "%s has no index.html or login.html: not the dashboard's "
			 "build (make web)", o->root);
		rc = -ENOENT;
		goto fail;
	}
	add_route(w, "GET", "/", web_page);
	add_route(w, "GET", "/index.html", web_page);
	add_route(w, "POST", "/login", web_login);
	add_route(w, "POST", "/logout", web_logout);
	add_route(w, "GET", "/session", web_whoami);
	add_route(w, "GET", "/ws/console", web_ws_console);
	add_route(w, "GET", "/ws/events", web_ws_events);
	for (size_t i = 0; i < w->nr_api; i++)
		add_route(w, w->api[i].method, w->api[i].path, web_api);
	for (unsigned i = 0; i < w->nr_files; i++)
		if (&w->files[i] != w->index)
			add_route(w, "GET", w->files[i].path, web_static);
	if ((w->listen_fd = web_listen(w, o->listen, tls, err, errlen)) < 0) {
		rc = w->listen_fd;
		goto fail;
	}
	snprintf(inner, sizeof(inner), "%s/web.sock", dm->state_dir);
	if (tls && (rc = usock_listen(&w->inner, inner, 0600, err, errlen)))
		goto fail;
	if ((rc = api_server_start_opts(&w->server, tls ? w->inner.fd : w->listen_fd, w->routes,
					w->nr_routes, w, &ao))) {
		snprintf(err, errlen, "cannot start the dashboard's server: %s", strerror(-rc));
		goto fail;
	}
	if (tls && (rc = web_tls_start(w, o, w->listen_fd, inner, err, errlen))) {
		api_server_stop(w->server);
		goto fail;
	}
	fprintf(stderr, "capsuled: web dashboard on %s (%s; %u files from %s; token in %s)\n",
		w->url, tls ? "TLS" : "loopback only", w->nr_files, o->root, path);
	*out = w;
	return 0;
fail:
	free_web(w);
	return rc;
}

void web_stop(struct web *w)
{
	if (!w)
		return;
	web_tls_stop(w);
	web_ws_stop(w);
	api_server_stop(w->server);
	free_web(w);
}
