/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The incremental HTTP/1.1 request parser (include/capsule/api.h). Input is buffered
 * (one whole request at most, HTTP_BUF_MAX bytes) and looked at once: every byte is
 * checked as it arrives, and every line is parsed as soon as its CRLF is here, so a bad
 * request line or a Content-Length over the limit is refused before the rest is sent.
 *
 * Strict on purpose (RFC 9112 allows a server to be): a line ends with CRLF and nothing
 * else (a bare LF or CR is a 400: the difference between parsers that tolerate them is
 * what request smuggling feeds on); no NUL, no control byte but HTAB; no obsolete line
 * folding; no whitespace before a header's colon; one Content-Length, digits only; no
 * Transfer-Encoding at all (501: we take no chunked bodies); one Host, required in
 * HTTP/1.1. Empty lines before a request line are skipped (RFC 9112, 2.2).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "capsule/api.h"

enum {
	HP_REQLINE = 1 << 0,   /* the request line is parsed */
	HP_HOST = 1 << 1,      /* Host: seen */
	HP_LENGTH = 1 << 2,    /* Content-Length: seen */
	HP_EXPECT = 1 << 3,    /* Expect: 100-continue */
	HP_CONTINUE = 1 << 4,  /* ... and "100 Continue" is due */
	HP_CLOSE = 1 << 5,     /* Connection: close */
	HP_KEEP = 1 << 6,      /* Connection: keep-alive */
	HP_DELIVERED = 1 << 7, /* http_parse returned the request; http_consume is next */
};

#define BUF_MIN 1024u
#define BUF_KEEP (4 * BUF_MIN) /* an idle connection keeps a buffer this small at most */

static int refuse(struct http_parser *p, int status, const char *why)
{
	p->error = -status;
	p->reason = why;
	return p->error;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(unsigned char c)
{
	return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

static bool is_hex(unsigned char c)
{
	return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* RFC 9110 tchar: methods and header names. */
static bool is_tchar(unsigned char c)
{
	return is_alnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* RFC 3986 pchar, '/' and '?': what an origin-form target may hold ('%' checked apart). */
static bool is_target_char(unsigned char c)
{
	return is_alnum(c) || (c && strchr("-._~!$&'()*+,;=:@/?%", c));
}

static bool all(const char *s, size_t n, bool (*ok)(unsigned char))
{
	for (size_t i = 0; i < n; i++)
		if (!ok((unsigned char)s[i]))
			return false;
	return true;
}

static bool same(const char *s, size_t n, const char *word)
{
	return n == strlen(word) && !strncasecmp(s, word, n);
}

/* "HTTP/1.1" and "HTTP/1.0" (a later 1.x is served as 1.1); other versions get 505. */
static int version(struct http_parser *p, const char *v, size_t n)
{
	if (n != 8 || memcmp(v, "HTTP/", 5) || !is_digit(v[5]) || v[6] != '.' || !is_digit(v[7]))
		return refuse(p, 400, "the request line does not end with HTTP/1.1");
	if (v[5] != '1')
		return refuse(p, 505, "only HTTP/1.0 and HTTP/1.1 are served");
	p->req.minor = v[7] == '0' ? 0 : 1;
	return 0;
}

static int target(struct http_parser *p, const char *t, size_t n)
{
	const char *q;
	size_t plen;

	if (!n || t[0] != '/')
		return refuse(p, 400, "the target must be a path (/path?query)");
	for (size_t i = 0; i < n; i++) {
		if (!is_target_char((unsigned char)t[i]))
			return refuse(p, 400, "a character the target may not hold");
		if (t[i] == '%' && (i + 2 >= n || !is_hex((unsigned char)t[i + 1]) ||
				    !is_hex((unsigned char)t[i + 2])))
			return refuse(p, 400, "a '%' in the target not followed by two hex digits");
	}
	q = memchr(t, '?', n);
	plen = q ? (size_t)(q - t) : n;
	if (plen >= sizeof(p->req.path) || (q && n - plen - 1 >= sizeof(p->req.query)))
		return refuse(p, 414, "the path or the query is too long");
	memcpy(p->req.path, t, plen);
	p->req.path[plen] = 0;
	if (q) {
		memcpy(p->req.query, q + 1, n - plen - 1);
		p->req.query[n - plen - 1] = 0;
	}
	return 0;
}

/* METHOD SP target SP HTTP/1.x, one space each. */
static int request_line(struct http_parser *p, const char *s, size_t n)
{
	const char *sp1 = memchr(s, ' ', n), *t, *sp2;
	size_t mlen;
	int r;

	if (!sp1 || !(sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - s))) ||
	    memchr(sp2 + 1, ' ', n - (size_t)(sp2 + 1 - s)))
		return refuse(p, 400, "the request line is not METHOD /path HTTP/1.1");
	mlen = (size_t)(sp1 - s);
	if (!mlen || !all(s, mlen, is_tchar))
		return refuse(p, 400, "a bad method");
	if (mlen >= sizeof(p->req.method))
		return refuse(p, 501, "no such method");
	memcpy(p->req.method, s, mlen);
	p->req.method[mlen] = 0;
	t = sp1 + 1;
	r = target(p, t, (size_t)(sp2 - t));
	return r ? r : version(p, sp2 + 1, n - (size_t)(sp2 + 1 - s));
}

static int content_length(struct http_parser *p, const char *v, size_t n)
{
	uint64_t len = 0;

	if (p->flags & HP_LENGTH)
		return refuse(p, 400, "more than one Content-Length");
	if (!n || !all(v, n, is_digit))
		return refuse(p, 400, "a Content-Length that is not a number");
	for (size_t i = 0; i < n && len <= HTTP_MAX_BODY; i++)
		len = len * 10 + (uint64_t)(v[i] - '0');
	if (len > HTTP_MAX_BODY)
		return refuse(p, 413, "the body is larger than 64 KiB");
	p->flags |= HP_LENGTH;
	p->content_length = len;
	return 0;
}

/* Connection: a list of tokens; "close" wins over "keep-alive". */
static void connection(struct http_parser *p, const char *v, size_t n)
{
	while (n) {
		const char *comma = memchr(v, ',', n);
		size_t len = comma ? (size_t)(comma - v) : n, tok = len;

		while (tok && (v[tok - 1] == ' ' || v[tok - 1] == '\t'))
			tok--;
		if (same(v, tok, "close"))
			p->flags |= HP_CLOSE;
		else if (same(v, tok, "keep-alive"))
			p->flags |= HP_KEEP;
		v += len, n -= len;
		while (n && (*v == ',' || *v == ' ' || *v == '\t'))
			v++, n--;
	}
}

static int header_line(struct http_parser *p, const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n), *v, *end = s + n;
	size_t nlen;

	if (s[0] == ' ' || s[0] == '\t')
		return refuse(p, 400, "a folded header line (obsolete line folding)");
	if (!colon)
		return refuse(p, 400, "a header line without a colon");
	nlen = (size_t)(colon - s);
	if (!nlen || !all(s, nlen, is_tchar))
		return refuse(p, 400, "a bad header name (or whitespace before its colon)");
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (same(s, nlen, "content-length"))
		return content_length(p, v, (size_t)(end - v));
	if (same(s, nlen, "transfer-encoding"))
		return refuse(p, 501, "Transfer-Encoding in a request is not supported: send the "
			      "body with a Content-Length");
	if (same(s, nlen, "connection"))
		connection(p, v, (size_t)(end - v));
	if (same(s, nlen, "expect")) {
		if (!same(v, (size_t)(end - v), "100-continue"))
			return refuse(p, 417, "the only expectation served is 100-continue");
		p->flags |= HP_EXPECT;
	}
	if (same(s, nlen, "host")) {
		if (p->flags & HP_HOST)
			return refuse(p, 400, "more than one Host");
		p->flags |= HP_HOST;
	}
	return 0;
}

/* The empty line: 1, the header block is whole. */
static int end_of_head(struct http_parser *p, size_t head)
{
	struct http_request *r = &p->req;

	if (r->minor == 1 && !(p->flags & HP_HOST))
		return refuse(p, 400, "an HTTP/1.1 request without Host");
	r->keep_alive = !(p->flags & HP_CLOSE) && (r->minor == 1 || (p->flags & HP_KEEP));
	p->head = head;
	/* RFC 9110 10.1.1: ignored in HTTP/1.0, and not sent if the body is here already. */
	if ((p->flags & HP_EXPECT) && r->minor == 1 && p->content_length &&
	    p->len - p->off < head + p->content_length)
		p->flags |= HP_CONTINUE;
	return 1;
}

/* One line without its CRLF: 0, 1 at the end of the header block, or a refusal. */
static int line(struct http_parser *p, const char *s, size_t n, size_t next)
{
	if (!(p->flags & HP_REQLINE)) {
		if (!n)
			return 0; /* an empty line before the request line */
		p->flags |= HP_REQLINE;
		return request_line(p, s, n);
	}
	return n ? header_line(p, s, n) : end_of_head(p, next);
}

/* Look at the bytes not looked at yet: 1 once the header block is whole. */
static int scan(struct http_parser *p)
{
	size_t avail = p->len - p->off;
	const char *b;

	if (!avail)
		return 0; /* and buf may be NULL: no arithmetic on it */
	b = p->buf + p->off;
	for (; p->scan < avail; p->scan++) {
		size_t i = p->scan;
		unsigned char c = (unsigned char)b[i];
		int r;

		if (i >= HTTP_MAX_HEADER)
			return refuse(p, 431, "the request line and headers pass 8 KiB");
		if (i > p->line && b[i - 1] == '\r' && c != '\n')
			return refuse(p, 400, "a CR not followed by LF");
		if (c == '\n') {
			if (i == p->line || b[i - 1] != '\r')
				return refuse(p, 400, "a bare LF (lines end with CRLF)");
			r = line(p, b + p->line, i - 1 - p->line, i + 1);
			p->line = i + 1;
			if (r) {
				p->scan++;
				return r;
			}
		} else if (!c) {
			return refuse(p, 400, "a NUL byte in the request head");
		} else if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
			return refuse(p, 400, "a control character in the request head");
		}
	}
	return 0;
}

void http_parser_init(struct http_parser *p)
{
	memset(p, 0, sizeof(*p));
}

void http_parser_free(struct http_parser *p)
{
	free(p->buf);
	http_parser_init(p);
}

size_t http_room(const struct http_parser *p)
{
	return p->error ? 0 : HTTP_BUF_MAX - (p->len - p->off);
}

size_t http_feed(struct http_parser *p, const void *data, size_t n)
{
	size_t live = p->len - p->off, room = http_room(p);

	if (n > room)
		n = room;
	if (!n)
		return 0;
	/* One byte more than the input, for the NUL after a body. */
	if (p->len + n + 1 > p->cap && p->off) {
		memmove(p->buf, p->buf + p->off, live);
		p->off = 0, p->len = live;
	}
	if (live + n + 1 > p->cap) {
		size_t cap = p->cap ? p->cap : BUF_MIN;
		char *b;

		while (cap < live + n + 1)
			cap *= 2;
		if (cap > HTTP_BUF_MAX + 1)
			cap = HTTP_BUF_MAX + 1;
		if (!(b = realloc(p->buf, cap)))
			return 0;
		p->buf = b, p->cap = cap;
	}
	memcpy(p->buf + p->len, data, n);
	p->len += n;
	return n;
}

int http_parse(struct http_parser *p, struct http_request *req, size_t *used)
{
	size_t end;
	int r;

	if (p->error)
		return p->error;
	if (!p->head && (r = scan(p)) <= 0)
		return r;
	end = p->head + p->content_length;
	if (p->len - p->off < end)
		return 0;
	if (!(p->flags & HP_DELIVERED)) {
		/* The body is handed out NUL-terminated in place: the byte after it (the next
		 * request's first, or spare room) is kept aside until http_consume. */
		p->saved = p->buf[p->off + end];
		p->buf[p->off + end] = 0;
		p->flags = (p->flags | HP_DELIVERED) & ~(unsigned)HP_CONTINUE;
	}
	*req = p->req;
	req->head = p->buf + p->off;
	req->head_len = p->head;
	req->body = p->buf + p->off + p->head;
	req->body_len = p->content_length;
	*used = end;
	return 1;
}

bool http_take_continue(struct http_parser *p)
{
	bool due = p->flags & HP_CONTINUE;

	p->flags &= ~(unsigned)HP_CONTINUE;
	return due;
}

void http_consume(struct http_parser *p)
{
	size_t end = p->head + p->content_length;

	if (!(p->flags & HP_DELIVERED))
		return;
	p->buf[p->off + end] = p->saved;
	p->off += end;
	p->scan = p->line = p->head = 0;
	p->content_length = 0;
	p->flags = 0;
	memset(&p->req, 0, sizeof(p->req));
	if (p->off == p->len) {
		p->off = p->len = 0;
		if (p->cap > BUF_KEEP) {
			free(p->buf);
			p->buf = NULL, p->cap = 0;
		}
	}
}

bool http_header(const struct http_request *req, const char *name, char *out, size_t len)
{
	const char *s = req->head, *end = req->head + req->head_len;
	size_t k = strlen(name);

	if (!s || !len)
		return false;
	/* Past the request line (and any empty lines before it, which hold no colon). */
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s)), *v, *ve;

		if (!nl)
			break;
		ve = nl > s && nl[-1] == '\r' ? nl - 1 : nl;
		if ((size_t)(ve - s) > k && s[k] == ':' && !strncasecmp(s, name, k)) {
			for (v = s + k + 1; v < ve && (*v == ' ' || *v == '\t'); v++)
				;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			if ((size_t)(ve - v) >= len)
				return false;
			memcpy(out, v, (size_t)(ve - v));
			out[ve - v] = 0;
			return true;
		}
		s = nl + 1;
	}
	return false;
}
