/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The GDB stub's parts that read hostile input, against fake guest memory: the page-table
 * walker (src/mem/walk.c) in every paging mode, its refusals (absent entries, tables
 * outside RAM, non-canonical addresses), and the packet framing (src/gdb/packet.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "capsule/gdb.h"
#include "capsule/walk.h"

#define MEM (8u << 20)
#define P 1ull
#define RW 2ull
#define PS 0x80ull

static void put64(struct guest_mem *m, uint64_t gpa, uint64_t v)
{
	memcpy(m->host + gpa, &v, 8);
}

static void put32(struct guest_mem *m, uint64_t gpa, uint32_t v)
{
	memcpy(m->host + gpa, &v, 4);
}

static const struct walk_ctx lm = {.cr0 = 0x80000011, .cr3 = 0x1000, .cr4 = 0x20,
				   .efer = 0x500};

static void long_mode(void **state)
{
	struct guest_mem m;
	gpa_t gpa;
	uint64_t size;

	(void)state;
	assert_int_equal(gmem_init(&m, MEM), 0);
	/* PML4[0] -> PDPT 0x2000; PDPT[0] -> PD 0x3000; PD[0] -> PT 0x4000; PD[1]: 2 MiB page
	 * at 4 MiB; PT[5] -> 0x7000; PDPT[1]: a 1 GiB page at 0; PML4[511] -> PDPT 0x5000 */
	put64(&m, 0x1000, 0x2000 | P | RW);
	put64(&m, 0x2000, 0x3000 | P | RW);
	put64(&m, 0x3000, 0x4000 | P | RW);
	put64(&m, 0x3008, 0x400000 | P | RW | PS);
	put64(&m, 0x4000 + 5 * 8, 0x7000 | P | RW);
	put64(&m, 0x2008, 0 | P | RW | PS);
	put64(&m, 0x1000 + 511 * 8, 0x5000 | P);
	put64(&m, 0x5000 + 511 * 8, 0x6000 | P);
	put64(&m, 0x6000 + 511 * 8, 0x6000000 | P | PS);

	assert_int_equal(gva_to_gpa(&m, &lm, 0x5123, &gpa, &size), 0);
	assert_int_equal(gpa, 0x7123);
	assert_int_equal(size, 4096);
	assert_int_equal(gva_to_gpa(&m, &lm, 0x212345, &gpa, &size), 0);
	assert_int_equal(gpa, 0x412345);
	assert_int_equal(size, 2u << 20);
	assert_int_equal(gva_to_gpa(&m, &lm, 0x40000000 + 0x1234, &gpa, &size), 0);
	assert_int_equal(gpa, 0x1234);
	assert_int_equal(size, 1u << 30);
	/* the top of the address space: sign-extended, kernel-half */
	assert_int_equal(gva_to_gpa(&m, &lm, 0xffffffffffe01234ull, &gpa, &size), 0);
	assert_int_equal(gpa, 0x6001234);
	/* refusals */
	assert_int_equal(gva_to_gpa(&m, &lm, 0x6000, &gpa, &size), -EFAULT);  /* PT[6] absent */
	assert_int_equal(gva_to_gpa(&m, &lm, 0x0000800000000000ull, &gpa, &size), -EFAULT);
	put64(&m, 0x1008, 0x7ff000000ull | P); /* a table far outside RAM */
	assert_int_equal(gva_to_gpa(&m, &lm, 0x8000000000ull, &gpa, &size), -EFAULT);
	struct walk_ctx bad_cr3 = lm;
	bad_cr3.cr3 = MEM; /* the PML4 itself outside RAM */
	assert_int_equal(gva_to_gpa(&m, &bad_cr3, 0x5000, &gpa, &size), -EFAULT);
	struct walk_ctx la57 = lm;
	la57.cr4 |= 1u << 12;
	assert_int_equal(gva_to_gpa(&m, &la57, 0x5000, &gpa, &size), -ENOTSUP);
	gmem_destroy(&m);
}

static void legacy_modes(void **state)
{
	struct guest_mem m;
	struct walk_ctx off = {.cr0 = 0x11};
	struct walk_ctx pse = {.cr0 = 0x80000011, .cr3 = 0x1000, .cr4 = 0x10};
	struct walk_ctx pae = {.cr0 = 0x80000011, .cr3 = 0x1020, .cr4 = 0x20};
	gpa_t gpa;
	uint64_t size;

	(void)state;
	assert_int_equal(gmem_init(&m, MEM), 0);
	assert_int_equal(gva_to_gpa(&m, &off, 0x12345, &gpa, &size), 0);
	assert_int_equal(gpa, 0x12345);
	/* 32-bit: PDE[0] -> PT 0x2000, PT[3] -> 0x9000; PDE[1]: a 4 MiB page at 4 MiB */
	put32(&m, 0x1000, 0x2000 | P);
	put32(&m, 0x2000 + 3 * 4, 0x9000 | P);
	put32(&m, 0x1004, 0x400000 | P | PS);
	assert_int_equal(gva_to_gpa(&m, &pse, 0x3abc, &gpa, &size), 0);
	assert_int_equal(gpa, 0x9abc);
	assert_int_equal(gva_to_gpa(&m, &pse, 0x412345, &gpa, &size), 0);
	assert_int_equal(gpa, 0x412345);
	assert_int_equal(size, 4u << 20);
	assert_int_equal(gva_to_gpa(&m, &pse, 0x4000, &gpa, &size), -EFAULT);
	assert_int_equal(gva_to_gpa(&m, &pse, 0x100000000ull, &gpa, &size), -EFAULT);
	/* PAE: the PDPT at CR3 (32-byte aligned) 0x1020; PDPT[0] -> PD 0x3000; PD[0]: 2 MiB */
	put64(&m, 0x1020, 0x3000 | P);
	put64(&m, 0x3000, 0x200000 | P | PS);
	assert_int_equal(gva_to_gpa(&m, &pae, 0x1234, &gpa, &size), 0);
	assert_int_equal(gpa, 0x201234);
	assert_int_equal(gva_to_gpa(&m, &pae, 0x40000000, &gpa, &size), -EFAULT);
	gmem_destroy(&m);
}

static enum gdb_rx_event feed(struct gdb_rx *rx, const char *s, size_t n)
{
	enum gdb_rx_event e = GDB_RX_NONE;

	for (size_t i = 0; i < n; i++)
		if ((e = gdb_rx_feed(rx, (uint8_t)s[i])) != GDB_RX_NONE && i + 1 < n)
			return GDB_RX_BAD; /* an event before the end: not what the test expects */
	return e;
}

static void framing(void **state)
{
	static struct gdb_rx rx;
	char out[64];
	size_t n;

	(void)state;
	gdb_rx_init(&rx);
	assert_int_equal(feed(&rx, "$g#67", 5), GDB_RX_PACKET);
	assert_string_equal(rx.buf, "g");
	assert_int_equal(feed(&rx, "$g#68", 5), GDB_RX_BAD);
	assert_int_equal(feed(&rx, "\x03", 1), GDB_RX_INTR);
	assert_int_equal(feed(&rx, "+", 1), GDB_RX_ACK);
	/* an escaped '#' inside: }\x03 is '#' */
	n = gdb_frame("a#b$c}d*", 8, out, sizeof(out));
	assert_true(n > 0);
	out[n] = 0;
	assert_string_equal(out, "$a}\x03" "b}\x04" "c}]d}\x0a#ec"); /* 0x3ec: the escapes count */
	assert_int_equal(feed(&rx, out, n), GDB_RX_PACKET);
	assert_int_equal(rx.len, 8);
	assert_memory_equal(rx.buf, "a#b$c}d*", 8);
	assert_int_equal(gdb_frame("abcdef", 6, out, 8), 0); /* does not fit */
	assert_int_equal(gdb_regs_bytes(), 592);
	assert_int_equal(gdb_reg_offset(GDB_EFER), 584);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(long_mode),
		cmocka_unit_test(legacy_modes),
		cmocka_unit_test(framing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
