/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The domain object: configuration checks (every message), the device table, the event
 * loop, and two real domains running at once in one process (needs /dev/kvm and the
 * example guests: CAPSULE_GUESTS=build/guest, which `make unit` sets).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule/domain.h"
#include "capsule/log.h"
#include "capsule/loop.h"

static void refused(const struct domain_config *c, enum domain_kind kind, const char *want)
{
	char err[256] = "";

	assert_int_equal(domain_config_validate(c, kind, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("message '%s' does not say '%s'", err, want);
}

static void config_checks(void **state)
{
	struct domain_config c;
	char err[256];
	char long_cmdline[CAP_CMDLINE_MAX + 1];

	(void)state;
	domain_config_init(&c);
	refused(&c, DOMAIN_PV, "no image given");
	c.image = "x.elf";
	assert_int_equal(domain_config_validate(&c, DOMAIN_PV, err, sizeof(err)), 0);
	c.vcpus = 0;
	refused(&c, DOMAIN_PV, "vcpus must be from 1 to 64, not 0");
	c.vcpus = 65;
	refused(&c, DOMAIN_PV, "vcpus must be from 1 to 64");
	c.vcpus = 1;
	c.mem_mib = 2;
	refused(&c, DOMAIN_PV, "a PV domain needs 4 MiB");
	c.mem_mib = 8;
	refused(&c, DOMAIN_HVM, "which needs at least --mem 16");
	c.mem_mib = 4096; /* RAM above 4 GiB goes past the PCI hole (docs/hvm.md) */
	if (sysconf(_SC_PHYS_PAGES) / 256 > 4096) /* pages of 4 KiB: MiB */
		assert_int_equal(domain_config_validate(&c, DOMAIN_HVM, err, sizeof(err)), 0);
	else
		refused(&c, DOMAIN_HVM, "more than this host has");
	c.mem_mib = 1ull << 40;
	refused(&c, DOMAIN_PV, "more than this host has");
	c.mem_mib = 64;
	memset(long_cmdline, 'a', CAP_CMDLINE_MAX);
	long_cmdline[CAP_CMDLINE_MAX] = 0;
	c.cmdline = long_cmdline;
	refused(&c, DOMAIN_PV, "--cmdline is longer than 1023 bytes");
	c.cmdline = "";
	c.initrd = "initrd.img";
	refused(&c, DOMAIN_PV, "an initrd is for kernels");
	assert_int_equal(domain_config_validate(&c, DOMAIN_HVM, err, sizeof(err)), 0);
	c.initrd = NULL;
	c.no_pvh = true;
	refused(&c, DOMAIN_PV, "--no-pvh is for kernels");
	c.no_pvh = false;
	snprintf(c.name, sizeof(c.name), "bad name!");
	refused(&c, DOMAIN_PV, "name 'bad name!' must be letters");
	snprintf(c.name, sizeof(c.name), "web-1.example_a");
	for (unsigned i = 0; i < 2; i++)
		c.devices[c.nr_devices++].kind = device_kind_by_name("net");
	refused(&c, DOMAIN_PV, "at most 1 net device");
	c.nr_devices = 0;
	for (unsigned i = 0; i < 10; i++)
		c.devices[c.nr_devices++].kind = device_kind_by_name("disk");
	refused(&c, DOMAIN_PV, "at most 8 disk devices");
}

static void json_refused(const char *text, const char *want)
{
	struct domain_config c;
	char err[512] = "";

	domain_config_init(&c);
	assert_int_equal(domain_config_from_json(&c, text, strlen(text), err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("for %s: message '%s' does not say '%s'", text, err, want);
}

static void json_config(void **state)
{
	static const char good[] =
		"{\"name\": \"web\", \"image\": \"a.elf\", \"memory\": 96, \"vcpus\": 2,"
		" \"cmdline\": \"x y\", \"on_reboot\": \"destroy\", \"rng\": true,"
		" \"disk\": [{\"path\": \"d.img\", \"readonly\": true, \"serial\": \"s1\"}],"
		" \"net\": [{\"tap\": \"cap0\", \"mac\": \"52:54:00:12:34:56\"}], \"balloon\": 16}";
	struct domain_config c, copy;
	char err[512];

	(void)state;
	domain_config_init(&c);
	assert_int_equal(domain_config_from_json(&c, good, strlen(good), err, sizeof(err)), 0);
	assert_string_equal(c.name, "web");
	assert_string_equal(c.image, "a.elf");
	assert_string_equal(c.cmdline, "x y");
	assert_int_equal(c.mem_mib, 96);
	assert_int_equal(c.vcpus, 2);
	assert_int_equal(c.on_reboot, ACTION_DESTROY);
	assert_int_equal(c.on_crash, ACTION_DESTROY); /* defaults stay */
	assert_int_equal(c.nr_devices, 4);
	assert_string_equal(c.devices[0].kind->name, "rng");
	assert_string_equal(c.devices[1].arg, "d.img,readonly,serial=s1");
	assert_string_equal(c.devices[2].arg, "tap=cap0,mac=52:54:00:12:34:56");
	assert_string_equal(c.devices[3].arg, "16");
	domain_config_copy(&copy, &c); /* the copy owns its strings */
	memset(c.strings, 0, sizeof(c.strings));
	assert_string_equal(copy.image, "a.elf");
	assert_string_equal(copy.cmdline, "x y");
	json_refused("[1, 2]", "is a JSON object, not an array");
	json_refused("{\"memory\": 5", "line 1");
	json_refused("{\"memroy\": 5}", "unknown key \"memroy\"");
	json_refused("{\"memory\": \"lots\"}", "\"memory\" must be an integer");
	json_refused("{\"memory\": -1}", "\"memory\" must be an integer");
	json_refused("{\"vcpus\": 65}", "\"vcpus\" must be an integer from 1 to 64");
	json_refused("{\"name\": 7}", "\"name\" must be a string, not an integer");
	json_refused("{\"on_crash\": \"reboot\"}", "\"on_crash\" must be \"destroy\"");
	json_refused("{\"rng\": 1}", "\"rng\" must be a boolean");
	json_refused("{\"disk\": {}}", "\"disk\" must be an array");
	json_refused("{\"disk\": [{}]}", "disk[0]: \"path\" must be a string");
	json_refused("{\"disk\": [{\"path\": \"a\", \"ro\": true}]}", "disk[0]: unknown key \"ro\"");
	json_refused("{\"disk\": [{\"path\": \"a,b\"}]}", "a path with a comma");
	json_refused("{\"net\": [{\"tap\": \"t\", \"vlan\": \"1\"}]}", "net[0]: unknown key \"vlan\"");
	json_refused("{\"name\": \"a\", \"name\": \"b\"}", "duplicate");
	{ /* a path as long as a device's whole argument, then more after it */
		static char big[DEVICE_ARG_MAX + 600];
		int n = snprintf(big, sizeof(big), "{\"disk\": [{\"path\": \"/");

		memset(big + n, 'A', DEVICE_ARG_MAX + 10);
		snprintf(big + n + DEVICE_ARG_MAX + 10, 80, "\", \"serial\": \"%s\"}]}",
			 "BBBBBBBBBBBBBBBBBBBB");
		json_refused(big, "disk[0]: \"path\" is too long");
	}
}

/* The memory keys (docs/resources.md): parsed, kept through to_json (snapshots keep the config so), bad ones named. */
static void memory_config_keys(void **state)
{
	static const char good[] = "{\"name\": \"a\", \"image\": \"/x.elf\", \"memory\": 256,"
				   " \"memory_backing\": \"private\", \"memory_min\": 64,"
				   " \"memory_shares\": 5000}";
	struct domain_config c, back;
	char err[512], *text;

	(void)state;
	domain_config_init(&c);
	assert_int_equal(domain_config_from_json(&c, good, strlen(good), err, sizeof(err)), 0);
	assert_true(c.mem_private);
	assert_int_equal(c.mem_min_mib, 64);
	assert_int_equal(c.mem_shares, 5000);
	assert_int_equal(domain_config_validate(&c, DOMAIN_PV, err, sizeof(err)), 0);
	text = domain_config_to_json(&c);
	assert_non_null(text);
	domain_config_init(&back);
	assert_int_equal(domain_config_from_json(&back, text, strlen(text), err, sizeof(err)), 0);
	assert_true(back.mem_private);
	assert_int_equal(back.mem_min_mib, 64);
	assert_int_equal(back.mem_shares, 5000);
	free(text);
	c.mem_min_mib = 257;
	assert_int_equal(domain_config_validate(&c, DOMAIN_PV, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "memory_min of 257 MiB is more than the domain's memory"));
	json_refused("{\"memory_backing\": \"hugepages\"}", "\"memory_backing\" must be");
	json_refused("{\"memory_backing\": 1}", "\"memory_backing\" must be");
	json_refused("{\"memory_shares\": 0}", "\"memory_shares\" must be an integer from 1");
	json_refused("{\"memory_shares\": -5}", "\"memory_shares\" must be an integer from 1");
	json_refused("{\"memory_shares\": 1000001}", "\"memory_shares\" must be an integer");
	json_refused("{\"memory_min\": -1}", "\"memory_min\" must be an integer");
}

/* A disk's "direct" and "queues" become direct=on and queues=N, and come back as JSON. */
static void disk_direct_and_queues(void **state)
{
	static const char good[] = "{\"name\": \"a\", \"image\": \"/x.elf\", \"disk\": [{\"path\": "
				   "\"/d.img\", \"direct\": true, \"queues\": 4}, {\"path\": "
				   "\"/e.img\", \"direct\": false}]}";
	struct domain_config c, back;
	char err[512], *text;

	(void)state;
	domain_config_init(&c);
	assert_int_equal(domain_config_from_json(&c, good, strlen(good), err, sizeof(err)), 0);
	assert_int_equal(c.nr_devices, 2);
	assert_string_equal(c.devices[0].arg, "/d.img,direct=on,queues=4");
	assert_string_equal(c.devices[1].arg, "/e.img");
	text = domain_config_to_json(&c);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"direct\""));
	assert_non_null(strstr(text, "\"queues\""));
	domain_config_init(&back);
	assert_int_equal(domain_config_from_json(&back, text, strlen(text), err, sizeof(err)), 0);
	assert_string_equal(back.devices[0].arg, "/d.img,direct=on,queues=4");
	free(text);
	json_refused("{\"disk\": [{\"path\": \"d\", \"queues\": 5}]}",
		     "disk[0]: \"queues\" must be an integer from 1 to 4");
	json_refused("{\"disk\": [{\"path\": \"d\", \"queues\": \"2\"}]}",
		     "disk[0]: \"queues\" must be an integer from 1 to 4");
	json_refused("{\"disk\": [{\"path\": \"d\", \"direct\": \"on\"}]}",
		     "\"direct\" must be a boolean");
}

/* The write working-set sampler's keys (include/capsule/wss.h): defaults, kept, bounds. */
static void wss_config_keys(void **state)
{
	static const char good[] = "{\"name\": \"a\", \"image\": \"/x.elf\", "
				   "\"wss_period_ms\": 250, \"wss_sample_pages\": 0}";
	struct domain_config c, back;
	char err[512], *text;

	(void)state;
	domain_config_init(&c);
	assert_int_equal(c.wss_period_ms, WSS_PERIOD_MS_DEFAULT);
	assert_int_equal(c.wss_sample, WSS_SAMPLE_DEFAULT);
	assert_int_equal(domain_config_from_json(&c, good, strlen(good), err, sizeof(err)), 0);
	assert_int_equal(c.wss_period_ms, 250);
	assert_int_equal(c.wss_sample, 0);
	text = domain_config_to_json(&c);
	assert_non_null(text);
	domain_config_init(&back);
	assert_int_equal(domain_config_from_json(&back, text, strlen(text), err, sizeof(err)), 0);
	assert_int_equal(back.wss_period_ms, 250);
	assert_int_equal(back.wss_sample, 0);
	free(text);
	c.wss_period_ms = 10;
	assert_int_equal(domain_config_validate(&c, DOMAIN_PV, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "wss_period_ms must be from 50 to 60000 ms, not 10"));
	c.wss_period_ms = 1000;
	c.wss_sample = WSS_SAMPLE_MAX + 1;
	assert_int_equal(domain_config_validate(&c, DOMAIN_PV, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "wss_sample_pages must be from 0 (off) to 65536"));
	json_refused("{\"wss_period_ms\": 49}", "\"wss_period_ms\" must be an integer from 50");
	json_refused("{\"wss_period_ms\": \"1s\"}", "\"wss_period_ms\" must be an integer");
	json_refused("{\"wss_sample_pages\": 65537}", "\"wss_sample_pages\" must be an integer");
	json_refused("{\"wss_sample_pages\": -1}", "\"wss_sample_pages\" must be an integer");
}

static void console_history(void **state)
{
	static struct console_log l;
	static char big[CONSOLE_LOG_SIZE + 100], out[CONSOLE_LOG_SIZE];
	uint64_t total;
	size_t n;

	(void)state;
	console_log_init(&l);
	assert_int_equal(console_log_read(&l, out, sizeof(out), &total), 0);
	console_log_append(&l, "hello ", 6);
	console_log_append(&l, "world", 5);
	n = console_log_read(&l, out, sizeof(out), &total);
	assert_int_equal(n, 11);
	assert_memory_equal(out, "hello world", 11);
	assert_int_equal(console_log_read(&l, out, 5, NULL), 5); /* the last 5 */
	assert_memory_equal(out, "world", 5);
	/* More than it holds: only the newest CONSOLE_LOG_SIZE bytes, in order. */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	console_log_append(&l, big, sizeof(big));
	console_log_append(&l, "!", 1);
	n = console_log_read(&l, out, sizeof(out), &total);
	assert_int_equal(n, CONSOLE_LOG_SIZE);
	assert_int_equal(total, 11 + sizeof(big) + 1);
	assert_memory_equal(out, big + 101, CONSOLE_LOG_SIZE - 1);
	assert_int_equal(out[CONSOLE_LOG_SIZE - 1], '!');
	console_log_append(NULL, "x", 1); /* no log: nothing happens */
}

static void actions(void **state)
{
	enum domain_action a;

	(void)state;
	assert_int_equal(domain_action_parse("restart", &a), 0);
	assert_int_equal(a, ACTION_RESTART);
	assert_int_equal(domain_action_parse("preserve", &a), 0);
	assert_int_equal(a, ACTION_PRESERVE);
	assert_int_equal(domain_action_parse("reboot", &a), -1);
	assert_string_equal(domain_action_name(ACTION_DESTROY), "destroy");
	assert_string_equal(domain_state_name(DOMAIN_PAUSED), "paused");
}

static void device_table(void **state)
{
	char buf[4096] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	char err[256];

	(void)state;
	for (unsigned i = 0; device_kinds[i]; i++) {
		const struct device_kind *k = device_kinds[i];

		assert_ptr_equal(device_kind_by_name(k->name), k);
		assert_ptr_equal(device_kind_by_option(k->option), k);
		assert_true(k->max >= 1 && k->open && k->attach && k->close && k->usage);
	}
	assert_null(device_kind_by_option("--floppy"));
	device_kinds_usage(f);
	fclose(f);
	for (unsigned i = 0; device_kinds[i]; i++)
		assert_non_null(strstr(buf, device_kinds[i]->option));
	/* Each row's own parser refuses bad options with a message. */
	assert_null(device_kind_by_name("disk")->open("/nonexistent.img", err, sizeof(err)));
	assert_non_null(strstr(err, "cannot open /nonexistent.img"));
	assert_null(device_kind_by_name("balloon")->open("-5", err, sizeof(err)));
	assert_non_null(strstr(err, "--balloon expects a number"));
	assert_null(device_kind_by_name("net")->open("tap=abcdefghijklmnopqrstuvwxyz", err,
						     sizeof(err)));
	assert_non_null(strstr(err, "a TAP name has 1 to 15 characters"));
}

struct counter {
	struct loop_source src;
	int ticks, reads;
};

static void on_read(struct loop *l, struct loop_source *s, uint32_t events)
{
	struct counter *c = s->opaque;
	uint64_t v;

	(void)events;
	assert_int_equal(read(s->fd, &v, sizeof(v)), sizeof(v));
	if (++c->reads == 3)
		loop_stop(l);
}

static void on_tick(struct loop *l, void *opaque)
{
	struct counter *c = opaque;
	uint64_t one = 1;

	(void)l;
	c->ticks++;
	assert_int_equal(write(c->src.fd, &one, sizeof(one)), sizeof(one));
}

static void event_loop(void **state)
{
	struct counter c = {0};
	struct loop l;

	(void)state;
	assert_int_equal(loop_init(&l), 0);
	c.src = (struct loop_source){eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), on_read, &c};
	assert_true(c.src.fd >= 0);
	assert_int_equal(loop_add(&l, &c.src, 1 /* EPOLLIN */), 0);
	loop_set_tick(&l, 5, on_tick, &c);
	assert_int_equal(loop_run(&l), 0); /* each tick makes one read; the third stops it */
	assert_int_equal(c.reads, 3);
	assert_true(c.ticks >= 3);
	close(c.src.fd);
	loop_destroy(&l);
}

struct timers {
	struct loop_source once, periodic;
	uint64_t armed_at;
	int once_fired, periodic_fired;
	bool early;
};

static void on_once(struct loop *l, struct loop_source *s, uint32_t events)
{
	struct timers *t = s->opaque;

	(void)l, (void)events;
	if (!loop_timer_read(s))
		return;
	t->once_fired++;
	t->early |= monotonic_ns() < t->armed_at + 20000000ull;
}

static void on_periodic(struct loop *l, struct loop_source *s, uint32_t events)
{
	struct timers *t = s->opaque;

	(void)events;
	t->periodic_fired += (int)loop_timer_read(s);
	if (t->periodic_fired >= 3 && t->once_fired) {
		assert_int_equal(loop_timer_arm(s, 0, 0), 0); /* disarmed: no more */
		loop_stop(l);
	}
}

/* Timers on the loop: a one-shot fires once and not before its time; a periodic one fires
 * until disarmed; a one-shot re-armed for a time past fires at once. */
static void loop_timers(void **state)
{
	struct timers t = {0};
	struct loop l;

	(void)state;
	assert_int_equal(loop_init(&l), 0);
	assert_int_equal(loop_timer_add(&l, &t.once, on_once, &t), 0);
	assert_int_equal(loop_timer_add(&l, &t.periodic, on_periodic, &t), 0);
	t.armed_at = monotonic_ns();
	assert_int_equal(loop_timer_arm(&t.once, t.armed_at + 20000000ull, 0), 0);
	assert_int_equal(loop_timer_arm(&t.periodic, t.armed_at + 1000000ull, 2000000ull), 0);
	assert_int_equal(loop_run(&l), 0);
	assert_int_equal(t.once_fired, 1);
	assert_false(t.early);
	assert_true(t.periodic_fired >= 3);
	/* Past: at once (the loop is not running; the timerfd holds the expiry). */
	assert_int_equal(loop_timer_arm(&t.once, 1, 0), 0);
	usleep(1000);
	assert_int_equal(loop_timer_read(&t.once), 1);
	assert_int_equal(loop_timer_read(&t.periodic), 0); /* disarmed */
	loop_timer_del(&l, &t.once);
	loop_timer_del(&l, &t.periodic);
	assert_int_equal(t.once.fd, -1);
	loop_destroy(&l);
}

struct run {
	struct domain d;
	struct domain_config cfg;
	char out[512];
	FILE *console;
	enum vm_end_reason why;
	int code, rc;
};

static void *run_domain(void *arg)
{
	struct run *r = arg;

	r->rc = domain_run(&r->d, monotonic_ns() + 20000000000ull, &r->why, &r->code);
	return NULL;
}

static void two_domains(void **state)
{
	static struct run runs[2];
	const char *dir = getenv("CAPSULE_GUESTS");
	char image[512];
	pthread_t t[2];

	(void)state;
	if (!dir || access("/dev/kvm", R_OK | W_OK)) {
		fail_msg("needs /dev/kvm and CAPSULE_GUESTS=build/guest (make unit sets it)");
		return;
	}
	snprintf(image, sizeof(image), "%s/hello.elf", dir);
	log_set_level(LOG_ERROR);
	for (unsigned i = 0; i < 2; i++) {
		struct run *r = &runs[i];

		domain_config_init(&r->cfg);
		snprintf(r->cfg.name, sizeof(r->cfg.name), "dom%u", i);
		r->cfg.image = image;
		r->cfg.mem_mib = 64 + 32 * i;
		r->cfg.vcpus = 1 + i;
		r->cfg.cmdline = i ? "second" : "first";
		r->console = fmemopen(r->out, sizeof(r->out) - 1, "w");
		r->cfg.console = r->console;
		assert_int_equal(domain_create(&r->d, &r->cfg), 0);
		assert_int_equal(r->d.kind, DOMAIN_PV);
		assert_int_equal(r->d.state, DOMAIN_CREATED);
	}
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, run_domain, &runs[i]), 0);
	for (unsigned i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		fflush(runs[i].console);
	}
	for (unsigned i = 0; i < 2; i++) {
		struct run *r = &runs[i];

		assert_int_equal(r->rc, 0);
		assert_int_equal(r->why, VM_END_POWEROFF);
		assert_int_equal(r->code, 0);
		assert_int_equal(r->d.state, DOMAIN_SHUTOFF);
		assert_int_equal(r->d.boots, 1);
		fclose(r->console);
		domain_destroy(&r->d);
	}
	assert_non_null(strstr(runs[0].out, "64 MiB, 1 vCPU(s), cmdline \"first\""));
	assert_non_null(strstr(runs[1].out, "96 MiB, 2 vCPU(s), cmdline \"second\""));
	assert_null(strstr(runs[0].out, "second")); /* each console is its own */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_checks),
		cmocka_unit_test(json_config),
		cmocka_unit_test(disk_direct_and_queues),
		cmocka_unit_test(memory_config_keys),
		cmocka_unit_test(wss_config_keys),
		cmocka_unit_test(console_history),
		cmocka_unit_test(actions),
		cmocka_unit_test(device_table),
		cmocka_unit_test(event_loop),
		cmocka_unit_test(loop_timers),
		cmocka_unit_test(two_domains),
	};

	return cmocka_run_group_tests_name("domain", tests, NULL, NULL);
}
