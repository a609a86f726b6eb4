/* SPDX-License-Identifier: Apache-2.0 */
/* Response heads and JSON bodies (include/capsule/api.h). */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsule/api.h"

const char *http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 401: return "Unauthorized";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
	}
}

/*
 * The IMF-fixdate of RFC 9110 ("Sun, 06 Nov 1994 08:49:37 GMT"), computed here: gmtime_r
 * and strftime may read /etc/localtime the first time, which a confined thread cannot.
 * Days to a civil date as in Howard Hinnant's chrono algorithms.
 */
static void imf_date(char *out, size_t size, time_t t)
{
	static const char wday[] = "ThuFriSatSunMonTueWed"; /* 1970-01-01 was a Thursday */
	static const char mon[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	uint64_t secs = t > 0 ? (uint64_t)t : 0, z = secs / 86400 + 719468;
	uint64_t era = z / 146097, doe = z - era * 146097;
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	uint64_t day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9;
	uint64_t year = yoe + era * 400 + (month <= 2), s = secs % 86400;

	/* Every field is bounded: say so to the compiler with narrow types. */
	unsigned d = (unsigned)day % 32, y = (unsigned)(year % 10000), hh = (unsigned)(s / 3600);
	unsigned mm = (unsigned)(s / 60 % 60), ss = (unsigned)(s % 60);

	snprintf(out, size, "%.3s, %02u %.3s %04u %02u:%02u:%02u GMT",
		 wday + 3 * (secs / 86400 % 7), d, mon + 3 * ((month - 1) % 12), y, hh % 24, mm, ss);
}

/* No body (nor Content-Length) in 1xx, 204 and 304 answers (RFC 9110 8.6). */
static bool has_body(int status)
{
	return status >= 200 && status != 204 && status != 304;
}

size_t http_format_head(char *out, size_t size, const struct http_head *h)
{
	size_t n = 0;
	int k;

#define ADD(...)                                                                           \
	do {                                                                               \
		k = snprintf(out + n, size - n, __VA_ARGS__);                              \
		if (k < 0 || (size_t)k >= size - n)                                        \
			return 0;                                                          \
		n += (size_t)k;                                                            \
	} while (0)
	if (!size)
		return 0;
	ADD("HTTP/1.1 %d %s\r\n", h->status, http_status_text(h->status));
	if (h->date) {
		/* The same second as the last answer of this thread's: the same text. */
		static __thread time_t last;
		static __thread char text[40];

		if (h->date != last) {
			imf_date(text, sizeof(text), h->date);
			last = h->date;
		}
		ADD("Date: %s\r\n", text);
	}
	if (h->content_type && has_body(h->status))
		ADD("Content-Type: %s\r\n", h->content_type);
	if (h->chunked)
		ADD("Transfer-Encoding: chunked\r\n");
	else if (has_body(h->status) && h->content_length != SIZE_MAX)
		ADD("Content-Length: %zu\r\n", h->content_length);
	if (h->allow)
		ADD("Allow: %s\r\n", h->allow);
	if (h->extra)
		ADD("%s", h->extra);
	ADD("Connection: %s\r\n\r\n", h->keep_alive ? "keep-alive" : "close");
#undef ADD
	return n;
}

static void set_body(struct http_response *resp, int status, char *body)
{
	free(resp->body);
	resp->status = body ? status : 500;
	resp->content_type = "application/json";
	resp->body = body;
	resp->body_len = body ? strlen(body) : 0;
}

void api_error(struct http_response *resp, int status, const char *fmt, ...)
{
	char msg[512];
	json_t *o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* json_pack refuses text that is not UTF-8: say so rather than send nothing. */
	o = json_pack("{s:s}", "error", msg);
	if (!o)
		o = json_pack("{s:s}", "error", "(an error message that is not UTF-8)");
	set_body(resp, status, o ? json_dumps(o, 0) : NULL);
	json_decref(o);
}

void api_json(struct http_response *resp, int status, const char *json)
{
	set_body(resp, status, strdup(json));
}
