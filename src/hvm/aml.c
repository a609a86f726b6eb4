/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "aml.h"

#define SCOPE_OP 0x10
#define NAME_OP 0x08
#define BUFFER_OP 0x11
#define STRING_PREFIX 0x0d
#define EXT_OP 0x5b
#define DEVICE_OP 0x82
#define METHOD_OP 0x14
#define IF_OP 0xa0
#define STORE_OP 0x70
#define AND_OP 0x7b
#define LEQUAL_OP 0x93
#define NOTIFY_OP 0x86
#define LOCAL0_OP 0x60
#define ARG0_OP 0x68
#define OPREGION_OP 0x80 /* after EXT_OP */
#define FIELD_OP 0x81    /* after EXT_OP */
#define DUAL_NAME_PREFIX 0x2e
#define MULTI_NAME_PREFIX 0x2f

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->len + n > a->cap) {
		a->overflow = true;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

size_t aml_pkg_begin(struct aml *a)
{
	size_t mark = a->len;

	aml_bytes(a, "\0\0\0\0", 4); /* room for the longest PkgLength, shrunk at the end */
	return mark;
}

void aml_pkg_end(struct aml *a, size_t mark)
{
	size_t body, n, total;
	uint8_t enc[4];

	if (a->overflow)
		return;
	body = a->len - mark - 4;
	/* The length counts its own bytes: 1 byte up to 63, then 2, 3 or 4. */
	for (n = 1; n <= 4; n++) {
		total = body + n;
		if ((n == 1 && total < 0x40) || (n > 1 && total < (1ull << (4 + 8 * (n - 1)))))
			break;
	}
	if (n > 4) {
		a->overflow = true;
		return;
	}
	if (n == 1) {
		enc[0] = (uint8_t)total;
	} else {
		enc[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
		for (size_t i = 1; i < n; i++)
			enc[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	memmove(a->buf + mark + n, a->buf + mark + 4, body);
	memcpy(a->buf + mark, enc, n);
	a->len = mark + n + body;
}

/*
 * "\\_SB_", "COM1" or "\\_SB_.PWRB": an optional root prefix and 4-character segments
 * joined by dots (a path of two or more takes a prefix saying how many follow).
 */
static void name_string(struct aml *a, const char *path)
{
	size_t segs;

	if (*path == '\\')
		aml_byte(a, *path++);
	segs = (strlen(path) + 1) / 5;
	if (segs == 2)
		aml_byte(a, DUAL_NAME_PREFIX);
	else if (segs > 2)
		aml_byte(a, MULTI_NAME_PREFIX), aml_byte(a, (uint8_t)segs);
	for (size_t i = 0; i < segs; i++)
		aml_bytes(a, path + 5 * i, 4);
}

void aml_package_begin(struct aml *a, uint8_t elements, size_t *mark)
{
	aml_byte(a, 0x12); /* PackageOp */
	*mark = aml_pkg_begin(a);
	aml_byte(a, elements);
}

void aml_scope_begin(struct aml *a, const char *path, size_t *mark)
{
	aml_byte(a, SCOPE_OP);
	*mark = aml_pkg_begin(a);
	name_string(a, path);
}

void aml_device_begin(struct aml *a, const char *name, size_t *mark)
{
	aml_byte(a, EXT_OP);
	aml_byte(a, DEVICE_OP);
	*mark = aml_pkg_begin(a);
	name_string(a, name);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, NAME_OP);
	name_string(a, name);
}

void aml_name_ref(struct aml *a, const char *path)
{
	name_string(a, path);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0 || v == 1) {
		aml_byte(a, (uint8_t)v); /* ZeroOp, OneOp */
		return;
	}
	int n = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffff ? 4 : 8;
	aml_byte(a, n == 1 ? 0x0a : n == 2 ? 0x0b : n == 4 ? 0x0c : 0x0e);
	for (int i = 0; i < n; i++)
		aml_byte(a, (uint8_t)(v >> (8 * i)));
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

/* "PNP0501": three letters in 5 bits each (big-endian 16 bits), then four hex digits. */
void aml_eisaid(struct aml *a, const char *id)
{
	uint16_t letters = (uint16_t)(((id[0] - '@') & 0x1f) << 10 | ((id[1] - '@') & 0x1f) << 5 |
				      ((id[2] - '@') & 0x1f));
	uint8_t b[4] = {(uint8_t)(letters >> 8), (uint8_t)letters, 0, 0};

	for (int i = 0; i < 4; i++) {
		char c = id[3 + i];
		uint8_t d = (uint8_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);

		b[2 + i / 2] |= (uint8_t)(d << (i % 2 ? 0 : 4));
	}
	aml_byte(a, 0x0c); /* DWordConst */
	aml_bytes(a, b, 4);
}

void aml_crs_begin(struct aml *a, size_t *mark, size_t *buf_mark)
{
	aml_name(a, "_CRS");
	aml_byte(a, BUFFER_OP);
	*mark = aml_pkg_begin(a);
	aml_byte(a, 0x0b); /* WordConst: the buffer size, patched at the end */
	*buf_mark = a->len;
	aml_bytes(a, "\0\0", 2);
}

void aml_crs_end(struct aml *a, size_t mark, size_t buf_mark)
{
	size_t size;

	aml_byte(a, 0x79); /* End tag, checksum 0: "treat as correct" */
	aml_byte(a, 0x00);
	if (a->overflow)
		return;
	size = a->len - buf_mark - 2;
	a->buf[buf_mark] = (uint8_t)size;
	a->buf[buf_mark + 1] = (uint8_t)(size >> 8);
	aml_pkg_end(a, mark);
}

void aml_res_io(struct aml *a, uint16_t base, uint8_t len)
{
	uint8_t d[8] = {0x47, 0x01, (uint8_t)base, (uint8_t)(base >> 8), (uint8_t)base,
			(uint8_t)(base >> 8), 0x01, len};

	aml_bytes(a, d, sizeof(d));
}

void aml_res_irq(struct aml *a, unsigned irq)
{
	uint16_t mask = (uint16_t)(1u << irq);
	uint8_t d[3] = {0x22, (uint8_t)mask, (uint8_t)(mask >> 8)};

	aml_bytes(a, d, sizeof(d));
}

void aml_res_mem32(struct aml *a, uint32_t base, uint32_t len)
{
	uint8_t d[12] = {0x86, 9, 0, 0x01};

	for (int i = 0; i < 4; i++) {
		d[4 + i] = (uint8_t)(base >> (8 * i));
		d[8 + i] = (uint8_t)(len >> (8 * i));
	}
	aml_bytes(a, d, sizeof(d));
}

void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max)
{
	/* Word Address Space: bus numbers, producer, min and max fixed, positive decode. */
	uint8_t d[16] = {0x88, 13, 0, 2, 0x0c, 0};
	uint16_t len = (uint16_t)(max - min + 1);

	d[8] = (uint8_t)min, d[9] = (uint8_t)(min >> 8);
	d[10] = (uint8_t)max, d[11] = (uint8_t)(max >> 8);
	d[14] = (uint8_t)len, d[15] = (uint8_t)(len >> 8);
	aml_bytes(a, d, sizeof(d));
}

void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t len)
{
	/* DWord Address Space: memory, producer, min and max fixed, non-cacheable, read-write. */
	uint8_t d[26] = {0x87, 23, 0, 0, 0x0c, 0x01};
	uint32_t max = min + len - 1;

	for (int i = 0; i < 4; i++) {
		d[10 + i] = (uint8_t)(min >> (8 * i));
		d[14 + i] = (uint8_t)(max >> (8 * i));
		d[22 + i] = (uint8_t)(len >> (8 * i));
	}
	aml_bytes(a, d, sizeof(d));
}

void aml_res_interrupt(struct aml *a, uint32_t gsi, bool edge)
{
	/* Extended Interrupt: consumer, edge or level, active high, exclusive, one GSI. */
	uint8_t d[9] = {0x89, 6, 0, (uint8_t)(0x01 | (edge ? 0x02 : 0)), 1};

	for (int i = 0; i < 4; i++)
		d[5 + i] = (uint8_t)(gsi >> (8 * i));
	aml_bytes(a, d, sizeof(d));
}

void aml_method_begin(struct aml *a, const char *name, unsigned nargs, bool serialized,
		      size_t *mark)
{
	aml_byte(a, METHOD_OP);
	*mark = aml_pkg_begin(a);
	name_string(a, name);
	aml_byte(a, (uint8_t)((nargs & 7) | (serialized ? 0x08 : 0))); /* sync level 0 */
}

void aml_if_begin(struct aml *a, size_t *mark)
{
	aml_byte(a, IF_OP);
	*mark = aml_pkg_begin(a);
}

void aml_store(struct aml *a)
{
	aml_byte(a, STORE_OP);
}

void aml_and(struct aml *a)
{
	aml_byte(a, AND_OP);
}

void aml_lequal(struct aml *a)
{
	aml_byte(a, LEQUAL_OP);
}

void aml_notify(struct aml *a)
{
	aml_byte(a, NOTIFY_OP);
}

void aml_return(struct aml *a)
{
	aml_byte(a, 0xa4); /* ReturnOp */
}

void aml_local(struct aml *a, unsigned n)
{
	aml_byte(a, (uint8_t)(LOCAL0_OP + (n & 7)));
}

void aml_arg(struct aml *a, unsigned n)
{
	aml_byte(a, (uint8_t)(ARG0_OP + (n < 7 ? n : 6)));
}

void aml_null_name(struct aml *a)
{
	aml_byte(a, 0x00);
}

void aml_operation_region(struct aml *a, const char *name, uint8_t space, uint64_t offset,
			  uint64_t len)
{
	aml_byte(a, EXT_OP);
	aml_byte(a, OPREGION_OP);
	name_string(a, name);
	aml_byte(a, space);
	aml_integer(a, offset);
	aml_integer(a, len);
}

void aml_field_begin(struct aml *a, const char *region, uint8_t flags, size_t *mark)
{
	aml_byte(a, EXT_OP);
	aml_byte(a, FIELD_OP);
	*mark = aml_pkg_begin(a);
	name_string(a, region);
	aml_byte(a, flags);
}

void aml_field_unit(struct aml *a, const char *name, unsigned bits)
{
	uint8_t len[2];

	aml_bytes(a, name, 4);
	/* Its width is a PkgLength: one byte below 64 bits, else two. */
	if (bits < 0x40) {
		aml_byte(a, (uint8_t)bits);
		return;
	}
	len[0] = (uint8_t)(0x40 | (bits & 0xf));
	len[1] = (uint8_t)(bits >> 4);
	aml_bytes(a, len, 2);
}
