/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the GDB stub's packet layer (src/gdb/packet.c, commands.c) and the
 * page-table walker it reads memory through (src/mem/walk.c): the first 4 KiB of the input
 * are guest memory (its page tables, hostile), the next 32 bytes CR0/CR3/CR4/EFER, the
 * rest bytes from gdb's socket. Every packet must get a reply that fits its buffer and
 * frames; no walk may leave guest memory.
 */
#include <stdlib.h>
#include <string.h>

#include "capsule/gdb.h"
#include "capsule/walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM_SIZE (64u << 10)

struct fake {
	struct guest_mem mem;
	struct walk_ctx walk;
	struct gdb_regs regs[2];
};

static unsigned f_nr(void *t)
{
	(void)t;
	return 2;
}

static int f_get(void *t, unsigned vcpu, struct gdb_regs *r)
{
	struct fake *f = t;

	if (vcpu >= 2)
		abort(); /* the command layer checked the thread id */
	*r = f->regs[vcpu];
	return 0;
}

static int f_set(void *t, unsigned vcpu, const struct gdb_regs *r)
{
	struct fake *f = t;

	if (vcpu >= 2)
		abort();
	f->regs[vcpu] = *r;
	return 0;
}

static long f_access(struct fake *f, uint64_t gva, void *buf, size_t len, bool write)
{
	size_t done = 0;

	if (len > GDB_PACKET_MAX)
		abort(); /* capped before it gets here */
	while (done < len) {
		gpa_t gpa;
		uint64_t page, chunk;
		uint8_t *p;

		if (gva_to_gpa(&f->mem, &f->walk, gva + done, &gpa, &page))
			break;
		chunk = page - (gpa & (page - 1));
		if (chunk > len - done)
			chunk = len - done;
		if (!(p = gmem_ptr(&f->mem, gpa, chunk)))
			break;
		if (write)
			memcpy(p, (const uint8_t *)buf + done, chunk);
		else
			memcpy((uint8_t *)buf + done, p, chunk);
		done += chunk;
	}
	return done ? (long)done : -14;
}

static long f_read(void *t, unsigned vcpu, uint64_t gva, void *buf, size_t len)
{
	(void)vcpu;
	return f_access(t, gva, buf, len, false);
}

static long f_write(void *t, unsigned vcpu, uint64_t gva, const void *buf, size_t len)
{
	(void)vcpu;
	return f_access(t, gva, (void *)buf, len, true);
}

static int f_bp(void *t, unsigned vcpu, enum gdb_bp_type type, uint64_t gva, bool insert)
{
	(void)t, (void)vcpu, (void)gva, (void)insert;
	return type == GDB_BP_SW ? 0 : -28;
}

static const struct gdb_target_ops fake_ops = {
	.nr_vcpus = f_nr, .get_regs = f_get, .set_regs = f_set,
	.read_mem = f_read, .write_mem = f_write, .breakpoint = f_bp,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fake f;
	static struct gdb_rx rx;
	static char reply[2 * GDB_PACKET_MAX + 8], framed[4 * GDB_PACKET_MAX + 16];
	struct gdb_session s = {.ops = &fake_ops, .target = &f, .c_vcpu = -1,
				.stop = {.signal = 5}};
	size_t head = 4096 + sizeof(f.walk);

	if (!f.mem.host && gmem_init(&f.mem, MEM_SIZE))
		abort();
	memset(f.mem.host, 0, MEM_SIZE);
	memset(&f.walk, 0, sizeof(f.walk));
	if (size >= head) {
		memcpy(f.mem.host, data, 4096); /* page tables at gpa 0 */
		memcpy(&f.walk, data + 4096, sizeof(f.walk));
		data += head;
		size -= head;
	}
	gdb_rx_init(&rx);
	for (size_t i = 0; i < size; i++) {
		struct gdb_resume res;
		enum gdb_action a;
		size_t n;

		if (gdb_rx_feed(&rx, data[i]) != GDB_RX_PACKET)
			continue;
		if (rx.len > GDB_PACKET_MAX || rx.buf[rx.len])
			abort();
		a = gdb_dispatch(&s, rx.buf, rx.len, reply, sizeof(reply), &res);
		n = strnlen(reply, sizeof(reply));
		if (n == sizeof(reply) || s.g_vcpu >= 2 || res.step_vcpu >= 2 ||
		    (a == GDB_RESUME && res.step_vcpu < -1))
			abort();
		if (n && !gdb_frame(reply, n, framed, sizeof(framed)))
			abort(); /* any reply frames in twice its size */
	}
	return 0;
}
