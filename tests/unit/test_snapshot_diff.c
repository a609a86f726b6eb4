/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Diff snapshots' records (src/snapshot/format.c): the chain and the page list are read
 * back; a page list of the wrong size, with a count that does not match its bits, with a
 * page past the end of memory, or without a chain is refused; a diff is never restored.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule/snapshot.h"

#define MEM ((64ull << 20) + 3 * 4096) /* 16387 pages: the last word is partial */
#define PAGES (MEM / 4096)
#define WORDS ((PAGES + 63) / 64)

static struct vcpu_kvm_state vs;
static struct vm_kvm_state vms;
static struct snap_pv pv;

enum damage { NONE, NO_CHAIN, SHORT, COUNT, PAST_END };

static uint8_t *stream(size_t *len, enum damage dmg)
{
	struct snap_header h = {.version = SNAP_VERSION, .arch = SNAP_ARCH_X86_64,
				.kind = SNAP_KIND_PV, .mem_bytes = MEM};
	struct snap_domain dom = {.nr_vcpus = 1};
	struct snap_chain chain = {.id = {1, 2, 3}, .parent = {9, 8, 7}, .depth = 2};
	const char *cfg = "{\"name\":\"t\",\"image\":\"x.elf\",\"memory\":64,\"vcpus\":1}";
	size_t plen = sizeof(struct snap_pages) + WORDS * 8;
	struct snap_pages *pg = calloc(1, plen);
	struct snap_writer w;
	int fd = memfd_create("snap", 0);
	uint8_t *buf;
	off_t n;

	assert_true(fd >= 0 && pg);
	memcpy(h.magic, SNAP_MAGIC, 8);
	pg->nr_pages = PAGES;
	pg->bits[0] = 0x5;
	pg->bits[WORDS - 1] = 0x4; /* page 16386, the last */
	pg->nr_dirty = dmg == COUNT ? 4 : 3;
	if (dmg == PAST_END) {
		pg->bits[WORDS - 1] |= 0x8; /* page 16387: not memory */
		pg->nr_dirty++;
	}
	vs.nr_msrs = 0;
	snap_writer_init(&w, fd, &h);
	snap_write(&w, SNAP_CONFIG, 0, cfg, strlen(cfg));
	snap_write(&w, SNAP_DOMAIN, 0, &dom, sizeof(dom));
	if (dmg != NO_CHAIN)
		snap_write(&w, SNAP_CHAIN, SNAP_OPTIONAL, &chain, sizeof(chain));
	snap_write(&w, SNAP_PAGES, 0, pg, dmg == SHORT ? plen - 8 : plen);
	snap_write(&w, SNAP_VCPU, 0, &vs, sizeof(vs));
	snap_write(&w, SNAP_VM, 0, &vms, sizeof(vms));
	snap_write(&w, SNAP_PV, 0, &pv, sizeof(pv));
	assert_int_equal(snap_writer_finish(&w), 0);
	n = lseek(fd, 0, SEEK_END);
	buf = malloc((size_t)n);
	assert_int_equal(pread(fd, buf, (size_t)n, 0), n);
	close(fd);
	free(pg);
	*len = (size_t)n;
	return buf;
}

static void read_back(void **state)
{
	struct snap_parsed p;
	struct domain_config cfg;
	char err[256] = "";
	size_t len;
	uint8_t *b = stream(&len, NONE);

	(void)state;
	assert_int_equal(snap_parse(b, len, &p, err, sizeof(err)), 0);
	assert_non_null(p.chain);
	assert_non_null(p.pages);
	assert_int_equal(p.chain->depth, 2);
	assert_int_equal(p.chain->parent[0], 9);
	assert_int_equal(p.pages->nr_dirty, 3);
	assert_int_equal(p.pages->bits[WORDS - 1], 0x4);
	/* Restore takes a full snapshot only. */
	assert_int_equal(snapshot_parse_config(b, len, &p, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "snapshot-merge"));
	free(b);
}

static void refused(void **state)
{
	static const struct {
		enum damage d;
		const char *want;
	} cases[] = {
		{NO_CHAIN, "without its chain"},
		{SHORT, "the page list has"},
		{COUNT, "malformed"},
		{PAST_END, "malformed"},
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct snap_parsed p;
		char err[256] = "";
		size_t len;
		uint8_t *b = stream(&len, cases[i].d);

		assert_int_equal(snap_parse(b, len, &p, err, sizeof(err)), -EINVAL);
		if (!strstr(err, cases[i].want))
			fail_msg("case %u: \"%s\" lacks \"%s\"", i, err, cases[i].want);
		free(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(read_back),
		cmocka_unit_test(refused),
	};

	return cmocka_run_group_tests_name("diff snapshot records", tests, NULL, NULL);
}
