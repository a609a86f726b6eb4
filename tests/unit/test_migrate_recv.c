/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The receiving side of a migration (src/snapshot/migrate_recv.c) against crafted streams
 * on a socketpair: a whole stream lands its pages and state; a wrong header, a page batch
 * outside memory or of a bad size, a record out of place, a checksum that does not match,
 * or a source that goes away is refused with its reason, and nothing is kept.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule/migrate.h"

#define MEM (1u << 20)

static struct vcpu_kvm_state vs;
static struct vm_kvm_state vms;
static struct snap_pv pv;
static uint8_t page[sizeof(struct mig_pages) + 4096];

enum damage { NONE, MAGIC, STATE_FILE, SIZE, PFN, COUNT0, COUNT_BIG, TYPE, CRC, CUT };

static void state_stream(int fd)
{
	struct snap_header h = {.version = SNAP_VERSION, .arch = SNAP_ARCH_X86_64,
				.kind = SNAP_KIND_PV, .mem_bytes = MEM};
	struct snap_domain dom = {.nr_vcpus = 1};
	const char *cfg = "{\"name\":\"t\",\"image\":\"x.elf\",\"memory\":1,\"vcpus\":1}";
	struct snap_writer w;

	memcpy(h.magic, SNAP_MAGIC, 8);
	snap_writer_init(&w, fd, &h);
	snap_write(&w, SNAP_CONFIG, 0, cfg, strlen(cfg));
	snap_write(&w, SNAP_DOMAIN, 0, &dom, sizeof(dom));
	snap_write(&w, SNAP_VCPU, 0, &vs, sizeof(vs));
	snap_write(&w, SNAP_VM, 0, &vms, sizeof(vms));
	snap_write(&w, SNAP_PV, 0, &pv, sizeof(pv));
	assert_int_equal(snap_writer_finish(&w), 0);
}

/* A stream with one page (pfn 3, bytes 0xab) and the state, damaged as asked. */
static int receive(enum damage d, struct snap_restore **r, char *err, size_t errlen)
{
	struct snap_header h = {.version = SNAP_VERSION, .arch = SNAP_ARCH_X86_64,
				.kind = SNAP_KIND_PV, .flags = SNAP_HDR_MIGRATION,
				.mem_bytes = d == SIZE ? MEM + 100 : MEM};
	struct mig_pages mp = {.pfn = d == PFN ? MEM / 4096 : 3, .count = 1};
	struct mig_round round = {.round = 0, .pages = 1};
	struct domain_config cfg;
	struct snap_writer w;
	uint32_t end[2] = {0, 0};
	int sv[2], rc;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memcpy(h.magic, d == MAGIC ? "NOTSNAP" : SNAP_MAGIC, 8);
	if (d == STATE_FILE)
		h.flags = 0;
	memcpy(page, &mp, sizeof(mp));
	memset(page + sizeof(mp), 0xab, 4096);
	snap_writer_init(&w, sv[0], &h);
	snap_write(&w, SNAP_MIG_ROUND, SNAP_OPTIONAL, &round, sizeof(round));
	if (d == COUNT0 || d == COUNT_BIG) {
		mp.count = d == COUNT0 ? 0 : MIG_MAX_BATCH + 1;
		snap_write(&w, SNAP_MIG_PAGES, 0, &mp, sizeof(mp));
	} else {
		snap_write(&w, SNAP_MIG_PAGES, 0, page, sizeof(page));
	}
	if (d == TYPE)
		snap_write(&w, SNAP_VCPU, 0, &vs, 8);
	end[0] = d == CRC ? w.crc ^ 1 : w.crc;
	if (d != CUT) {
		snap_write(&w, SNAP_MIG_STATE, 0, end, sizeof(end));
		state_stream(sv[0]);
	}
	assert_int_equal(w.error, 0);
	close(sv[0]);
	rc = migrate_receive_fd(sv[1], r, &cfg, err, errlen);
	close(sv[1]);
	if (!rc)
		assert_string_equal(cfg.name, "t");
	return rc;
}

static void whole(void **state)
{
	struct snap_restore *r = NULL;
	uint8_t got[4096], want[4096];
	char err[256] = "";

	(void)state;
	assert_int_equal(receive(NONE, &r, err, sizeof(err)), 0);
	assert_non_null(r);
	assert_int_equal(r->p.header.mem_bytes, MEM);
	assert_int_equal(pread(r->mem_fd, got, sizeof(got), 3 * 4096), 4096);
	memset(want, 0xab, sizeof(want));
	assert_memory_equal(got, want, sizeof(got));
	assert_int_equal(pread(r->mem_fd, got, sizeof(got), 2 * 4096), 4096);
	memset(want, 0, sizeof(want));
	assert_memory_equal(got, want, sizeof(got));
	snapshot_close(r);
}

static void refused(void **state)
{
	static const struct {
		enum damage d;
		const char *want;
	} cases[] = {
		{MAGIC, "not a Capsule migration stream"},
		{STATE_FILE, "not a Capsule migration stream"},
		{SIZE, "cannot take it"},
		{PFN, "out of the domain's memory"},
		{COUNT0, "out of the domain's memory"},
		{COUNT_BIG, "out of the domain's memory"},
		{TYPE, "no place in a migration stream"},
		{CRC, "corrupted"},
		{CUT, "went away"},
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct snap_restore *r = NULL;
		char err[256] = "";

		assert_int_not_equal(receive(cases[i].d, &r, err, sizeof(err)), 0);
		assert_null(r);
		if (!strstr(err, cases[i].want))
			fail_msg("case %u: \"%s\" lacks \"%s\"", i, err, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(whole),
		cmocka_unit_test(refused),
	};

	return cmocka_run_group_tests_name("migration stream, receiving", tests, NULL, NULL);
}
