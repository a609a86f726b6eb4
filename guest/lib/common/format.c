/* SPDX-License-Identifier: Apache-2.0 */
/* vsnprintf: %d %i %u %x %X %p %s %c %%, with 0/-/width, and l, ll, z length modifiers. */
#include "kit.h"

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_padded(struct out *o, const char *s, size_t n, int width, bool left, char pad)
{
	int fill = width > (int)n ? width - (int)n : 0;

	while (!left && fill-- > 0)
		put(o, pad);
	for (size_t i = 0; i < n; i++)
		put(o, s[i]);
	while (left && fill-- > 0)
		put(o, ' ');
}

static size_t utoa(char *tmp, uint64_t v, unsigned base, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t n = 0;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	for (size_t i = 0; i < n / 2; i++) {
		char t = tmp[i];

		tmp[i] = tmp[n - 1 - i];
		tmp[n - 1 - i] = t;
	}
	return n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = {buf, size, 0};

	for (; *fmt; fmt++) {
		char tmp[24], pad = ' ';
		bool left = false, neg = false;
		int width = 0, lng = 0;
		uint64_t v;
		size_t n;

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		for (fmt++; *fmt == '0' || *fmt == '-'; fmt++)
			*fmt == '0' ? (pad = '0') : (left = true);
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			width = width * 10 + (*fmt - '0');
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			lng++;
		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t s = lng ? va_arg(ap, int64_t) : va_arg(ap, int);

			neg = s < 0;
			v = neg ? -(uint64_t)s : (uint64_t)s;
			n = utoa(tmp + 1, v, 10, false);
			if (neg)
				tmp[0] = '-';
			put_padded(&o, neg ? tmp : tmp + 1, n + neg, width, left, pad);
			break;
		}
		case 'u':
		case 'x':
		case 'X':
			v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			n = utoa(tmp, v, *fmt == 'u' ? 10 : 16, *fmt == 'X');
			put_padded(&o, tmp, n, width, left, pad);
			break;
		case 'p':
			v = (uint64_t)(uintptr_t)va_arg(ap, void *);
			tmp[0] = '0', tmp[1] = 'x';
			n = utoa(tmp + 2, v, 16, false);
			put_padded(&o, tmp, n + 2, width, left, pad);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);

			s = s ? s : "(null)";
			put_padded(&o, s, strlen(s), width, left, ' ');
			break;
		}
		case 'c':
			tmp[0] = (char)va_arg(ap, int);
			put_padded(&o, tmp, 1, width, left, ' ');
			break;
		case '%':
			put(&o, '%');
			break;
		case '\0':
			fmt--; /* a lone % at the end */
			break;
		default:
			put(&o, '%');
			put(&o, *fmt);
			break;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
