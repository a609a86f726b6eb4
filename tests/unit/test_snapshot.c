/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The snapshot stream (src/snapshot/format.c): what the writer writes the reader reads
 * back exactly; every damaged stream is refused with its reason; a configuration survives
 * its trip through JSON.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule/snapshot.h"

static struct vcpu_kvm_state vs;
static struct vm_kvm_state vms;
static struct snap_pv pv;

/* A small PV stream: config, domain, one vCPU, VM, PV; into a malloc'd buffer. */
static uint8_t *stream(size_t *len, uint32_t extra_type, uint32_t extra_flags)
{
	struct snap_header h = {.version = SNAP_VERSION, .arch = SNAP_ARCH_X86_64,
				.kind = SNAP_KIND_PV, .mem_bytes = 64 << 20};
	struct snap_domain dom = {.nr_vcpus = 1, .generation = 3, .domain_time_ns = 12345};
	const char *cfg = "{\"name\":\"t\",\"image\":\"x.elf\",\"memory\":64,\"vcpus\":1}";
	struct snap_writer w;
	char path[] = "/tmp/capsule-test-snap-XXXXXX";
	int fd = mkstemp(path);
	uint8_t *buf;
	off_t n;

	assert_true(fd >= 0);
	unlink(path);
	memcpy(h.magic, SNAP_MAGIC, 8);
	vs.regs.rip = 0x1234;
	vs.nr_msrs = 1;
	vs.msrs[0].index = 0x10;
	snap_writer_init(&w, fd, &h);
	snap_write(&w, SNAP_CONFIG, 0, cfg, strlen(cfg));
	snap_write(&w, SNAP_DOMAIN, 0, &dom, sizeof(dom));
	snap_write(&w, SNAP_VCPU, 0, &vs, sizeof(vs));
	if (extra_type)
		snap_write(&w, extra_type, extra_flags, "abc", 3);
	snap_write(&w, SNAP_VM, 0, &vms, sizeof(vms));
	snap_write(&w, SNAP_PV, 0, &pv, sizeof(pv));
	assert_int_equal(snap_writer_finish(&w), 0);
	n = lseek(fd, 0, SEEK_END);
	buf = malloc((size_t)n);
	assert_int_equal(pread(fd, buf, (size_t)n, 0), n);
	close(fd);
	*len = (size_t)n;
	return buf;
}

static void round_trip(void **state)
{
	struct domain_config c;
	struct snap_parsed p;
	char err[512];
	size_t len;
	uint8_t *b = stream(&len, 0, 0);

	(void)state;
	assert_int_equal(len % 8, 0);
	assert_int_equal(snapshot_parse_config(b, len, &p, &c, err, sizeof(err)), 0);
	assert_int_equal(p.nr_vcpus, 1);
	assert_int_equal(p.vcpu[0]->regs.rip, 0x1234);
	assert_int_equal(p.domain->generation, 3);
	assert_int_equal(p.domain->domain_time_ns, 12345);
	assert_string_equal(c.name, "t");
	assert_int_equal(c.mem_mib, 64);
	free(b);
	/* An optional record this build does not know is skipped; a required one refused. */
	b = stream(&len, 0x777, SNAP_OPTIONAL);
	assert_int_equal(snap_parse(b, len, &p, err, sizeof(err)), 0);
	assert_int_equal(p.skipped, 1);
	free(b);
	b = stream(&len, 0x777, 0);
	assert_int_equal(snap_parse(b, len, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "record type 1911 is not known"));
	free(b);
}

static void refuse(uint8_t *b, size_t len, const char *want)
{
	struct snap_parsed p;
	char err[512] = "";

	assert_int_equal(snap_parse(b, len, &p, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want))
		fail_msg("wanted '%s', got '%s'", want, err);
}

static void damage(void **state)
{
	size_t len;
	uint8_t *b = stream(&len, 0, 0), *c = malloc(len);

	(void)state;
	for (size_t cut = 0; cut < len; cut += 8) /* every truncation */
		refuse(b, cut, cut < sizeof(struct snap_header) ? "not a snapshot" : "truncated");
	for (size_t i = sizeof(struct snap_header); i < len - 16; i += 97) { /* flipped bytes */
		memcpy(c, b, len);
		c[i] ^= 0x10;
		refuse(c, len, ""); /* checksum, a length, or a record out of place: refused */
	}
	memcpy(c, b, len);
	c[8] = SNAP_VERSION + 1; /* version */
	refuse(c, len, "format version 3");
	memcpy(c, b, len);
	c[0] = 'X';
	refuse(c, len, "bad magic");
	memcpy(c, b, len);
	c[12] = 9; /* architecture */
	refuse(c, len, "architecture 9");
	free(b);
	free(c);
}

static void config_json(void **state)
{
	static const char *src = "{\"name\":\"web\",\"image\":\"i.elf\","
			 "\"memory\":128,\"vcpus\":2,\"cmdline\":\"x y\",\"rng\":true,\"balloon\":3,"
			 "\"disk\":[{\"path\":\"/d.img\",\"readonly\":true,\"serial\":\"s1\"}],"
			 "\"on_reboot\":\"destroy\"}";
	struct domain_config a, b;
	char err[512], *text;

	(void)state;
	domain_config_init(&a);
	assert_int_equal(domain_config_from_json(&a, src, strlen(src), err, sizeof(err)), 0);
	text = domain_config_to_json(&a);
	assert_non_null(text);
	domain_config_init(&b);
	assert_int_equal(domain_config_from_json(&b, text, strlen(text), err, sizeof(err)), 0);
	assert_string_equal(b.name, "web");
	assert_string_equal(b.image, "i.elf");
	assert_string_equal(b.cmdline, "x y");
	assert_int_equal(b.mem_mib, 128);
	assert_int_equal(b.vcpus, 2);
	assert_int_equal(b.on_reboot, ACTION_DESTROY);
	assert_int_equal(b.nr_devices, a.nr_devices);
	for (unsigned i = 0; i < a.nr_devices; i++) {
		assert_ptr_equal(b.devices[i].kind, a.devices[i].kind);
		assert_string_equal(b.devices[i].arg, a.devices[i].arg);
	}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(damage),
		cmocka_unit_test(config_json),
	};

	return cmocka_run_group_tests_name("snapshot stream", tests, NULL, NULL);
}
