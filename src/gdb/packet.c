/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GDB remote protocol framing: "$body#xx" with a modulo-256 checksum in two hex digits,
 * '}' escaping the next byte XOR 0x20, '+'/'-' acknowledgements, and a bare 0x03 for
 * Ctrl-C. Bytes come from the socket one at a time; nothing here trusts their order.
 */
#include <string.h>

#include "capsule/gdb.h"

void gdb_rx_init(struct gdb_rx *rx)
{
	memset(rx, 0, offsetof(struct gdb_rx, buf));
	rx->buf[0] = 0;
}

int gdb_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void put(struct gdb_rx *rx, uint8_t c)
{
	if (rx->len < GDB_PACKET_MAX)
		rx->buf[rx->len++] = (char)c;
	else
		rx->overflow = true;
}

enum gdb_rx_event gdb_rx_feed(struct gdb_rx *rx, uint8_t c)
{
	int h;

	switch (rx->state) {
	case RX_IDLE:
		if (c == '$') {
			rx->state = RX_BODY;
			rx->len = 0;
			rx->sum = 0;
			rx->overflow = false;
			return GDB_RX_NONE;
		}
		if (c == 0x03)
			return GDB_RX_INTR;
		return c == '+' || c == '-' ? GDB_RX_ACK : GDB_RX_NONE; /* noise between packets */
	case RX_BODY:
		if (c == '#') {
			rx->state = RX_SUM1;
			return GDB_RX_NONE;
		}
		if (c == '$') { /* a new packet before this one ended: start over */
			rx->len = 0;
			rx->sum = 0;
			rx->overflow = false;
			return GDB_RX_NONE;
		}
		rx->sum = (uint8_t)(rx->sum + c);
		if (c == '}')
			rx->state = RX_ESC;
		else
			put(rx, c);
		return GDB_RX_NONE;
	case RX_ESC:
		rx->sum = (uint8_t)(rx->sum + c);
		put(rx, c ^ 0x20);
		rx->state = RX_BODY;
		return GDB_RX_NONE;
	case RX_SUM1:
		h = gdb_hexval(c);
		rx->want = (uint8_t)((h < 0 ? 0 : h) << 4);
		rx->state = h < 0 ? RX_IDLE : RX_SUM2;
		return h < 0 ? GDB_RX_BAD : GDB_RX_NONE;
	case RX_SUM2:
		h = gdb_hexval(c);
		rx->state = RX_IDLE;
		if (h < 0 || (uint8_t)(rx->want | h) != rx->sum || rx->overflow)
			return GDB_RX_BAD;
		rx->buf[rx->len] = 0;
		return GDB_RX_PACKET;
	}
	rx->state = RX_IDLE;
	return GDB_RX_BAD;
}

size_t gdb_frame(const char *body, size_t len, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	uint8_t sum = 0;

	if (cap < 4)
		return 0;
	out[n++] = '$';
	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)body[i];
		bool esc = c == '#' || c == '$' || c == '}' || c == '*';

		if (n + (esc ? 2 : 1) + 3 > cap)
			return 0;
		if (esc) {
			out[n++] = '}';
			sum = (uint8_t)(sum + '}');
			c ^= 0x20;
		}
		out[n++] = (char)c;
		sum = (uint8_t)(sum + c);
	}
	out[n++] = '#';
	out[n++] = hex[sum >> 4];
	out[n++] = hex[sum & 15];
	return n;
}
