/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One GDB packet at a time: queries, registers, memory, breakpoints and the resume
 * commands, against a target's ops. Everything in a packet is checked before it is used:
 * numbers must be hex and in range, lengths are capped by the reply buffer, thread ids
 * must name a vCPU. An unknown packet gets the empty reply, as the protocol asks.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "capsule/gdb.h"

static const char hexdig[] = "0123456789abcdef";

/* A hex number at *p (at least one digit, at most 16), *p moved past it: 0 or -1. */
static int parse_hex(const char **p, uint64_t *out)
{
	uint64_t v = 0;
	int n = 0, h;

	while ((h = gdb_hexval(**p)) >= 0) {
		if (++n > 16)
			return -1;
		v = v << 4 | (uint64_t)h;
		(*p)++;
	}
	*out = v;
	return n ? 0 : -1;
}

static size_t to_hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdig[b[i] >> 4];
		out[2 * i + 1] = hexdig[b[i] & 15];
	}
	return 2 * n;
}

/* n bytes from exactly 2n hex digits at p: 0 or -1. */
static int from_hex(const char *p, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = gdb_hexval(p[2 * i]), lo = hi < 0 ? -1 : gdb_hexval(p[2 * i + 1]);

		if (lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static void reply_str(char *reply, size_t cap, const char *s)
{
	snprintf(reply, cap, "%s", s);
}

static void reply_err(char *reply, size_t cap, int err)
{
	snprintf(reply, cap, "E%02x", (unsigned)(err < 0 ? -err : err) & 0xff);
}

/* A thread id (vCPU n is thread n + 1; 0 and -1 mean any): the vCPU, -1 for "all", or
 * -2 if it names none. */
static int parse_thread(const struct gdb_session *s, const char *p)
{
	uint64_t t;

	if (!strcmp(p, "-1"))
		return -1;
	if (parse_hex(&p, &t) || *p)
		return -2;
	if (t == 0)
		return -1;
	return t <= s->ops->nr_vcpus(s->target) ? (int)(t - 1) : -2;
}

void gdb_stop_reply(const struct gdb_session *s, char *reply, size_t cap)
{
	snprintf(reply, cap, "T%02xthread:%x;%s%s", (unsigned)s->stop.signal & 0xff,
		 s->stop.vcpu + 1, s->stop.reason ? s->stop.reason : "",
		 s->stop.reason ? ":;" : "");
}

static void do_regs(struct gdb_session *s, char *reply, size_t cap)
{
	struct gdb_regs r;
	unsigned n = gdb_regs_bytes();
	int err = s->ops->get_regs(s->target, s->g_vcpu, &r);

	if (err || cap < 2 * n + 1)
		return reply_err(reply, cap, err ? err : -ENOSPC);
	reply[to_hex(r.raw, n, reply)] = 0;
}

static void do_set_regs(struct gdb_session *s, const char *hex, size_t len, char *reply,
			size_t cap)
{
	struct gdb_regs r;
	unsigned n = gdb_regs_bytes();
	int err = s->ops->get_regs(s->target, s->g_vcpu, &r);

	/* all of them, as 'g' gave them (P writes one) */
	if (!err && (len != 2 * n || from_hex(hex, n, r.raw)))
		err = -EINVAL;
	if (!err)
		err = s->ops->set_regs(s->target, s->g_vcpu, &r);
	if (err)
		return reply_err(reply, cap, err);
	reply_str(reply, cap, "OK");
}

static void do_reg(struct gdb_session *s, const char *p, char *reply, size_t cap)
{
	struct gdb_regs r;
	uint64_t reg;
	unsigned size;
	int err;

	if (parse_hex(&p, &reg) || reg >= GDB_NR_REGS || (*p != 0 && *p != '='))
		return reply_err(reply, cap, -EINVAL);
	size = gdb_reg_size((unsigned)reg);
	if ((err = s->ops->get_regs(s->target, s->g_vcpu, &r)))
		return reply_err(reply, cap, err);
	if (*p == 0) { /* p n */
		if (cap < 2 * size + 1)
			return reply_err(reply, cap, -ENOSPC);
		reply[to_hex(r.raw + gdb_reg_offset((unsigned)reg), size, reply)] = 0;
		return;
	}
	p++; /* P n=value */
	if (strlen(p) != 2 * size || from_hex(p, size, r.raw + gdb_reg_offset((unsigned)reg)))
		return reply_err(reply, cap, -EINVAL);
	if ((err = s->ops->set_regs(s->target, s->g_vcpu, &r)))
		return reply_err(reply, cap, err);
	reply_str(reply, cap, "OK");
}

/* "addr,len" then what follows at *rest. */
static int parse_addr_len(const char *p, uint64_t *addr, uint64_t *len, const char **rest)
{
	if (parse_hex(&p, addr) || *p++ != ',' || parse_hex(&p, len))
		return -1;
	*rest = p;
	return 0;
}

static void do_read_mem(struct gdb_session *s, const char *p, char *reply, size_t cap)
{
	uint8_t buf[4096];
	uint64_t addr, len;
	const char *rest;
	long got;

	if (parse_addr_len(p, &addr, &len, &rest) || *rest)
		return reply_err(reply, cap, -EINVAL);
	if (len > sizeof(buf))
		len = sizeof(buf);
	if (len > (cap - 1) / 2)
		len = (cap - 1) / 2; /* gdb asks again for the rest */
	if (len == 0)
		return reply_str(reply, cap, "");
	got = s->ops->read_mem(s->target, s->g_vcpu, addr, buf, len);
	if (got <= 0)
		return reply_err(reply, cap, got < 0 ? (int)got : -EFAULT);
	reply[to_hex(buf, (size_t)got, reply)] = 0;
}

static void do_write_mem(struct gdb_session *s, const char *p, char *reply, size_t cap)
{
	uint8_t buf[GDB_PACKET_MAX / 2];
	uint64_t addr, len;
	const char *rest;
	long put;

	if (parse_addr_len(p, &addr, &len, &rest) || *rest++ != ':' || len > sizeof(buf) ||
	    strlen(rest) != 2 * len || from_hex(rest, len, buf))
		return reply_err(reply, cap, -EINVAL);
	put = len ? s->ops->write_mem(s->target, s->g_vcpu, addr, buf, len) : 0;
	if (put < 0 || (uint64_t)put != len)
		return reply_err(reply, cap, put < 0 ? (int)put : -EFAULT);
	reply_str(reply, cap, "OK");
}

static void do_breakpoint(struct gdb_session *s, const char *p, bool insert, char *reply,
			  size_t cap)
{
	uint64_t type, addr, kind;
	int err;

	if (parse_hex(&p, &type) || *p++ != ',' || parse_hex(&p, &addr) || *p++ != ',' ||
	    parse_hex(&p, &kind))
		return reply_err(reply, cap, -EINVAL);
	if (type > GDB_BP_HW)
		return reply_str(reply, cap, ""); /* watchpoints: not supported */
	err = s->ops->breakpoint(s->target, s->g_vcpu, (enum gdb_bp_type)type, addr, insert);
	if (err == -ENOTSUP)
		return reply_str(reply, cap, "");
	if (err)
		return reply_err(reply, cap, err);
	reply_str(reply, cap, "OK");
}

static void do_xfer_features(const char *p, char *reply, size_t cap)
{
	const char *xml = gdb_target_xml();
	uint64_t off, len, total = strlen(xml);
	const char *rest;

	if (strncmp(p, "target.xml:", 11))
		return reply_str(reply, cap, "E00");
	if (parse_addr_len(p + 11, &off, &len, &rest) || *rest)
		return reply_err(reply, cap, -EINVAL);
	if (off > total)
		return reply_err(reply, cap, -EINVAL);
	if (len > cap - 2)
		len = cap - 2;
	if (len > total - off)
		len = total - off;
	reply[0] = off + len < total ? 'm' : 'l';
	memcpy(reply + 1, xml + off, len);
	reply[1 + len] = 0;
}

static void do_thread_list(const struct gdb_session *s, char *reply, size_t cap)
{
	unsigned n = s->ops->nr_vcpus(s->target);
	size_t used = 1;

	reply_str(reply, cap, "m");
	for (unsigned i = 0; i < n && used + 12 < cap; i++)
		used += (size_t)snprintf(reply + used, cap - used, "%s%x", i ? "," : "", i + 1);
}

/* vCont;ACTION[:thread];...: which vCPU steps, if any; -1 if the packet is bad. */
static int parse_vcont(const struct gdb_session *s, const char *p, struct gdb_resume *res)
{
	res->step_vcpu = -1;
	while (*p == ';') {
		char action = *++p, tid[24];
		size_t n = 0;
		int t = -1;

		if (action != 'c' && action != 's' && action != 'C' && action != 'S')
			return -1;
		p++;
		if (action == 'C' || action == 'S') { /* a signal to deliver: none is */
			uint64_t sig;

			if (parse_hex(&p, &sig))
				return -1;
		}
		if (*p == ':') {
			p++;
			while (*p && *p != ';' && n + 1 < sizeof(tid))
				tid[n++] = *p++;
			tid[n] = 0;
			if ((*p && *p != ';') || (t = parse_thread(s, tid)) == -2)
				return -1;
		}
		if ((action == 's' || action == 'S') && res->step_vcpu < 0)
			res->step_vcpu = t >= 0 ? t : (int)s->stop.vcpu;
	}
	return *p ? -1 : 0;
}

enum gdb_action gdb_dispatch(struct gdb_session *s, const char *pkt, size_t len, char *reply,
			     size_t cap, struct gdb_resume *res)
{
	const char *arg = pkt + 1;
	int t;

	reply[0] = 0;
	res->step_vcpu = -1;
	if (len == 0 || cap < 64)
		return GDB_REPLY;
	switch (pkt[0]) {
	case '?':
		gdb_stop_reply(s, reply, cap);
		return GDB_REPLY;
	case 'g':
		do_regs(s, reply, cap);
		return GDB_REPLY;
	case 'G':
		do_set_regs(s, arg, len - 1, reply, cap);
		return GDB_REPLY;
	case 'p':
	case 'P':
		do_reg(s, arg, reply, cap);
		return GDB_REPLY;
	case 'm':
		do_read_mem(s, arg, reply, cap);
		return GDB_REPLY;
	case 'M':
		do_write_mem(s, arg, reply, cap);
		return GDB_REPLY;
	case 'Z':
	case 'z':
		do_breakpoint(s, arg, pkt[0] == 'Z', reply, cap);
		return GDB_REPLY;
	case 'H':
		if ((arg[0] != 'g' && arg[0] != 'c') || (t = parse_thread(s, arg + 1)) == -2) {
			reply_err(reply, cap, -EINVAL);
			return GDB_REPLY;
		}
		if (arg[0] == 'g')
			s->g_vcpu = t >= 0 ? (unsigned)t : s->stop.vcpu;
		else
			s->c_vcpu = t;
		reply_str(reply, cap, "OK");
		return GDB_REPLY;
	case 'T':
		t = parse_thread(s, arg);
		reply_str(reply, cap, t >= 0 ? "OK" : "E01");
		return GDB_REPLY;
	case 'c':
		return GDB_RESUME; /* an address to resume at is not supported: it is ignored */
	case 's':
		res->step_vcpu = s->c_vcpu >= 0 ? s->c_vcpu : (int)s->stop.vcpu;
		return GDB_RESUME;
	case 'D':
		reply_str(reply, cap, "OK");
		return GDB_DETACH;
	case 'k':
		return GDB_KILL;
	case 'q':
		if (!strncmp(arg, "Supported", 9)) {
			snprintf(reply, cap, "PacketSize=%x;qXfer:features:read+;swbreak+;hwbreak+;"
				 "vContSupported+;QStartNoAckMode+", GDB_PACKET_MAX);
		} else if (!strncmp(arg, "Xfer:features:read:", 19)) {
			do_xfer_features(arg + 19, reply, cap);
		} else if (!strcmp(arg, "fThreadInfo")) {
			do_thread_list(s, reply, cap);
		} else if (!strcmp(arg, "sThreadInfo")) {
			reply_str(reply, cap, "l");
		} else if (!strcmp(arg, "C")) {
			snprintf(reply, cap, "QC%x", s->stop.vcpu + 1);
		} else if (!strncmp(arg, "Attached", 8)) {
			reply_str(reply, cap, "1");
		} else if (!strncmp(arg, "ThreadExtraInfo,", 16)) {
			char name[32];
			int n;

			t = parse_thread(s, arg + 16);
			if (t < 0) {
				reply_err(reply, cap, -EINVAL);
				return GDB_REPLY;
			}
			n = snprintf(name, sizeof(name), "vCPU %d", t);
			reply[to_hex((const uint8_t *)name, (size_t)n, reply)] = 0;
		} else if (!strncmp(arg, "Symbol", 6)) {
			reply_str(reply, cap, "OK");
		}
		return GDB_REPLY;
	case 'Q':
		if (!strcmp(arg, "StartNoAckMode")) {
			s->no_ack = true;
			reply_str(reply, cap, "OK");
		}
		return GDB_REPLY;
	case 'v':
		if (!strcmp(arg, "Cont?")) {
			reply_str(reply, cap, "vCont;c;C;s;S");
		} else if (!strncmp(arg, "Cont;", 5)) {
			if (parse_vcont(s, arg + 4, res) == 0)
				return GDB_RESUME;
			reply_err(reply, cap, -EINVAL);
		} else if (!strncmp(arg, "Kill", 4)) {
			reply_str(reply, cap, "OK");
			return GDB_KILL;
		}
		return GDB_REPLY; /* vMustReplyEmpty and the rest */
	default:
		return GDB_REPLY;
	}
}
