/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The xl.cfg parser (src/domain/xlcfg.c, xlcfg_spec.c): every key and the JSON it gives,
 * every message it refuses with, and a configuration carried through to a struct
 * domain_config by the one JSON path (domain_config_from_json, domain_config_validate).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capsule/domain.h"
#include "capsule/xlcfg.h"

/* Every accepted configuration needs these two; errors are put before them (line 1). */
#define BASE "name = 't'\nkernel = 'k.elf'\n"
#define BASE_JSON "\"name\": \"t\", \"kernel\": \"k.elf\""

static void parses_to_n(const char *text, size_t len, const char *want_json)
{
	json_t *got = NULL, *want;
	json_error_t jerr;
	char err[512] = "";

	if (xlcfg_parse(text, len, &got, err, sizeof(err)))
		fail_msg("for <<%s>>: refused: %s", text, err);
	want = json_loads(want_json, 0, &jerr);
	if (!want)
		fail_msg("bad expected JSON %s: %s", want_json, jerr.text);
	if (!json_equal(got, want)) {
		char *s = json_dumps(got, JSON_SORT_KEYS);

		fail_msg("for <<%s>>: got %s, want %s", text, s, want_json);
	}
	json_decref(got);
	json_decref(want);
}

static void parses_to(const char *text, const char *want_json)
{
	parses_to_n(text, strlen(text), want_json);
}

static void refused_n(const char *text, size_t len, const char *want)
{
	json_t *out = (json_t *)1;
	char err[512] = "";

	if (xlcfg_parse(text, len, &out, err, sizeof(err)) != -1)
		fail_msg("for <<%s>>: accepted", text);
	assert_null(out);
	if (strcmp(err, want))
		fail_msg("for <<%s>>:\n  got  '%s'\n  want '%s'", text, err, want);
}

static void refused(const char *text, const char *want)
{
	refused_n(text, strlen(text), want);
}

static void syntax(void **state)
{
	(void)state;
	/* comments, blank lines, ';', both quotes, escapes, lists over lines, trailing commas */
	parses_to("# a domain\n\n  name = \"t\" ; kernel='k.elf'   # the image\r\n"
		  "cmdline = \"a\\tb \\\"q\\\" \\x41\\101 \\\\ 'x'\"\n"
		  "disk = [\n  'a.img',  # first\n\n  \"b.img\",\n]\n",
		  "{" BASE_JSON ", \"cmdline\": \"a\\tb \\\"q\\\" AA \\\\ 'x'\","
		  " \"disk\": [{\"path\": \"a.img\"}, {\"path\": \"b.img\"}]}");
	parses_to(BASE "disk = []", "{" BASE_JSON ", \"disk\": []}");
	parses_to(BASE "memory = \"96\"\nvcpus = 0x2", "{" BASE_JSON ", \"memory\": 96, \"vcpus\": 2}");
	parses_to(BASE "extra = 'it\\'s'", "{" BASE_JSON ", \"cmdline\": \"it's\"}");
	refused(BASE "extra = 'it''s'", "line 3: extra: expected the end of the line after the value, "
					"not \"'\"");

	refused("= 5", "line 1: expected a key name, not '='");
	refused("\x01", "line 1: expected a key name, not 0x01");
	refused("\n\n9lives = 1", "line 3: expected a key name, not '9'");
	refused("memroy = 5", "line 1: memroy: unknown key (see docs/xl-cfg.md)");
	refused("bootloader = 'pygrub'", "line 1: bootloader: an xl key Capsule does not support");
	refused("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa = 1",
		"line 1: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...: unknown key (see docs/xl-cfg.md)");
	refused("memory = 1\n# again\nmemory = 2", "line 3: memory: set twice (first on line 1)");
	refused("extra += 'x'", "line 1: extra: '+=' is not supported: give the whole value with '='");
	refused("memory 5", "line 1: memory: expected '=' after the key, not '5'");
	refused("memory", "line 1: memory: expected '=' after the key, not the end of the file");
	refused("memory =\n", "line 1: memory: no value after '='");
	refused("memory = ;", "line 1: memory: no value after '='");
	refused("memory = lots", "line 1: memory: expected a value (a quoted string, a number or a "
				 "list), not 'l'");
	refused("memory = 5 6", "line 1: memory: expected the end of the line after the value, not '6'");
	refused("name = 'abc", "line 1: name: a string is not closed with ' on its line");
	refused("name = \"abc\ndef\"", "line 1: name: a string is not closed with \" on its line");
	refused("name = 'abc\\", "line 1: name: a string ends in a '\\'");
	refused("name = '\\xg1'", "line 1: name: '\\x' needs two hex digits");
	refused("name = '\\x4", "line 1: name: '\\x' needs two hex digits");
	refused("name = '\\777'", "line 1: name: an octal escape above \\377");
	refused("name = '\\q'", "line 1: name: unknown escape '\\' followed by 'q' in a string");
	refused("name = 'a\\0b'", "line 1: name: a NUL byte in a string");
	refused_n("name = 'a\0b'", 11, "line 1: name: a NUL byte in a string");
	refused("name = '\xff'", "line 1: name: not valid UTF-8");
	refused("memory = 123456789012345678901234567890123",
		"line 1: memory: a number longer than 32 characters");
	refused("disk = [ 'a',\n'b'\n", "line 1: disk: the list opened on this line is not closed "
					"with ']'");
	refused("disk = [ ['a'] ]", "line 1: disk: lists inside lists are not supported");
	refused("disk = [ 'a' 'b' ]", "line 1: disk: expected ',' or ']' in the list, not \"'\"");
	refused("disk = [ 'a', , ]", "line 1: disk: expected a value (a quoted string, a number or a "
				     "list), not ','");
	{
		static char big[XLCFG_STRING_MAX + 32];
		char *many = malloc(512);
		int n;

		n = snprintf(big, sizeof(big), "name = '");
		memset(big + n, 'a', XLCFG_STRING_MAX + 1);
		strcpy(big + n + XLCFG_STRING_MAX + 1, "'");
		refused(big, "line 1: name: a string longer than 4096 bytes");
		n = snprintf(many, 512, "disk = [");
		for (unsigned i = 0; i <= XLCFG_LIST_MAX; i++)
			n += snprintf(many + n, 512 - (size_t)n, "'d%u', ", i);
		snprintf(many + n, 512 - (size_t)n, "]");
		refused(many, "line 1: disk: a list of more than 16 items");
		free(many);
	}
	{
		size_t len = XLCFG_MAX_LEN + 1;
		char *huge = malloc(len);

		memset(huge, '\n', len);
		refused_n(huge, len, "the configuration is larger than 1024 KiB");
		free(huge);
	}
}

static void keys(void **state)
{
	(void)state;
	refused("", "name: missing (every domain needs a name)");
	refused("name = 't'", "kernel: missing (the PV image or the kernel to boot)");
	parses_to(BASE, "{" BASE_JSON "}");

	refused("name = ['a']", "line 1: name: expected a quoted string, not a list");
	refused("name = 5", "line 1: name: expected a quoted string, not the number 5");
	refused("name = ''", "line 1: name: a name has 1 to 63 characters");
	refused("name = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'",
		"line 1: name: a name has 1 to 63 characters");

	parses_to(BASE "type = 'pv'", "{" BASE_JSON "}");
	parses_to(BASE "type = 'pvh'", "{" BASE_JSON "}");
	parses_to(BASE "type = 'hvm'", "{" BASE_JSON ", \"no_pvh\": true}");
	refused("type = 'xen'", "line 1: type: expected \"pv\", \"pvh\" or \"hvm\", not \"xen\"");

	parses_to(BASE "memory = 256", "{" BASE_JSON ", \"memory\": 256}");
	refused("memory = 'lots'", "line 1: memory: expected an integer");
	refused("memory = 1.5", "line 1: memory: expected an integer");
	refused("memory = 012", "line 1: memory: expected an integer");
	refused("memory = 0x", "line 1: memory: expected an integer");
	refused("memory = ''", "line 1: memory: expected an integer");
	refused("memory = [1]", "line 1: memory: expected an integer, not a list");
	refused("memory = []", "line 1: memory: expected an integer, not a list");
	refused("name = [\n]", "line 1: name: expected a quoted string, not a list");
	refused("memory = 0", "line 1: memory: must be from 1 to 1073741824, not 0");
	refused("memory = 99999999999", "line 1: memory: must be from 1 to 1073741824, not 99999999999");
	refused("memory = 0xffffffffffffffffff", "line 1: memory: expected an integer");

	/* maxmem: the domain gets maxmem, and a balloon holds what memory leaves out */
	parses_to(BASE "memory = 128\nmaxmem = 512",
		  "{" BASE_JSON ", \"memory\": 512, \"balloon\": 384}");
	parses_to(BASE "maxmem = 512\nmemory = 512", "{" BASE_JSON ", \"memory\": 512, \"balloon\": 0}");
	parses_to(BASE "maxmem = 256", "{" BASE_JSON ", \"memory\": 256, \"balloon\": 0}");
	refused("memory = 512\nmaxmem = 128\n" BASE,
		"line 2: maxmem: 128 MiB is less than memory (512 MiB, line 1)");
	refused("maxmem = -1", "line 1: maxmem: expected a value (a quoted string, a number or a "
			       "list), not '-'");

	parses_to(BASE "vcpus = 4", "{" BASE_JSON ", \"vcpus\": 4}");
	refused("vcpus = 65", "line 1: vcpus: must be from 1 to 64, not 65");
	refused("vcpus = 0", "line 1: vcpus: must be from 1 to 64, not 0");

	refused("kernel = ''", "line 1: kernel: an empty path");
	refused("kernel = 7", "line 1: kernel: expected a quoted string, not the number 7");
	parses_to(BASE "ramdisk = '/boot/initrd.img'",
		  "{" BASE_JSON ", \"initrd\": \"/boot/initrd.img\"}");
	refused("ramdisk = ''", "line 1: ramdisk: an empty path");

	/* the command line, as xl folds root and extra */
	parses_to(BASE "cmdline = 'console=ttyS0'", "{" BASE_JSON ", \"cmdline\": \"console=ttyS0\"}");
	parses_to(BASE "root = '/dev/xvda1 ro'\nextra = 'quiet'",
		  "{" BASE_JSON ", \"cmdline\": \"root=/dev/xvda1 ro quiet\"}");
	parses_to(BASE "root = '/dev/xvda1'", "{" BASE_JSON ", \"cmdline\": \"root=/dev/xvda1\"}");
	parses_to(BASE "extra = 'demo'", "{" BASE_JSON ", \"cmdline\": \"demo\"}");
	refused("cmdline = 'a'\nextra = 'b'\n" BASE,
		"line 2: extra: cannot be combined with cmdline (line 1): put it in cmdline");
	refused("root = 'x'\ncmdline = 'a'\n" BASE,
		"line 1: root: cannot be combined with cmdline (line 2): put it in cmdline");
	refused("cmdline = ['a']", "line 1: cmdline: expected a quoted string, not a list");
	refused("root = 1", "line 1: root: expected a quoted string, not the number 1");
	refused("extra = 1", "line 1: extra: expected a quoted string, not the number 1");
	{
		char text[CAP_CMDLINE_MAX + 64];
		int n = snprintf(text, sizeof(text), BASE "extra = '");

		memset(text + n, 'x', CAP_CMDLINE_MAX);
		strcpy(text + n + CAP_CMDLINE_MAX, "'");
		refused(text, "line 3: extra: the command line is longer than 1023 bytes");
	}

	parses_to(BASE "on_poweroff = 'restart'\non_reboot = 'destroy'\non_crash = 'preserve'",
		  "{" BASE_JSON ", \"on_poweroff\": \"restart\", \"on_reboot\": \"destroy\","
		  " \"on_crash\": \"preserve\"}");
	refused("on_crash = 'coredump-destroy'", "line 1: on_crash: \"coredump-destroy\" is an xl "
						 "action Capsule does not have (destroy, restart or preserve)");
	refused("on_reboot = 'rename-restart'", "line 1: on_reboot: \"rename-restart\" is an xl "
						"action Capsule does not have (destroy, restart or preserve)");
	refused("on_poweroff = 'reboot'", "line 1: on_poweroff: expected \"destroy\", \"restart\" or "
					  "\"preserve\", not \"reboot\"");
	refused("on_crash = 1", "line 1: on_crash: expected a quoted string, not the number 1");
}

static void disks(void **state)
{
	(void)state;
	/* xl-disk-configuration's equivalent forms */
	parses_to(BASE "disk = [ 'format=raw, vdev=xvda, access=rw, target=/dev/vg/guest' ]",
		  "{" BASE_JSON ", \"disk\": [{\"path\": \"/dev/vg/guest\", \"serial\": \"xvda\"}]}");
	parses_to(BASE "disk = [ '/dev/vg/guest,raw,xvda,rw' ]",
		  "{" BASE_JSON ", \"disk\": [{\"path\": \"/dev/vg/guest\", \"serial\": \"xvda\"}]}");
	parses_to(BASE "disk = [ '/dev/vg/guest,,xvda' ]",
		  "{" BASE_JSON ", \"disk\": [{\"path\": \"/dev/vg/guest\", \"serial\": \"xvda\"}]}");
	parses_to(BASE "disk = [ 'phy:/dev/vg/guest,xvda,w' ]",
		  "{" BASE_JSON ", \"disk\": [{\"path\": \"/dev/vg/guest\", \"serial\": \"xvda\"}]}");
	parses_to(BASE "disk = [ 'tap:aio:/img/a.img,xvdb,r', 'file:/img/b.img,xvdc,ro,' ]",
		  "{" BASE_JSON ", \"disk\": [{\"path\": \"/img/a.img\", \"serial\": \"xvdb\","
		  " \"readonly\": true}, {\"path\": \"/img/b.img\", \"serial\": \"xvdc\","
		  " \"readonly\": true}]}");
	parses_to(BASE "disk = [ 'vdev=xvda,access=ro,discard,devtype=disk,specification=xen,"
		  "target= /img/with space.img ' ]",
		  "{" BASE_JSON ", \"disk\": [{\"path\": \"/img/with space.img\", \"serial\": \"xvda\","
		  " \"readonly\": true}]}");
	parses_to(BASE "disk = [ 'd.img' ]", "{" BASE_JSON ", \"disk\": [{\"path\": \"d.img\"}]}");
	parses_to(BASE "disk = [ 'd.img,raw,xvda,rw,direct-io-safe' ]",
		  "{" BASE_JSON ", \"disk\": [{\"path\": \"d.img\", \"direct\": true, \"serial\": \"xvda\"}]}");

	refused("disk = 'd.img'", "line 1: disk: expected a list of strings: [ '...', ... ]");
	refused("disk = [ 'a.img', 5 ]", "line 1: disk[1]: expected a quoted string, not the number 5");
	refused("disk = [\n'a.img',\n'target=/a,b' ]", "line 3: disk[1]: a path with a comma is not "
							"supported");
	refused("disk = [ 'a.img,qcow2,xvda' ]", "line 1: disk[0]: format \"qcow2\" is not supported "
						 "(raw images and block devices only)");
	refused("disk = [ 'qcow2:a.img,xvda' ]", "line 1: disk[0]: format \"qcow2\" is not supported "
						 "(raw images and block devices only)");
	refused("disk = [ 'format=vhd,target=a.img' ]", "line 1: disk[0]: format \"vhd\" is not "
							"supported (raw images and block devices only)");
	refused("disk = [ 'a.img,raw,xvda,rw,extra' ]", "line 1: disk[0]: \"extra\": more than four "
							"positional items (target, format, vdev, access)");
	refused("disk = [ 'vdev=xvda' ]", "line 1: disk[0]: no target (the raw image or block device)");
	refused("disk = [ '' ]", "line 1: disk[0]: no target (the raw image or block device)");
	refused("disk = [ 'a.img,raw,xvda,rx' ]", "line 1: disk[0]: access must be \"ro\" or \"rw\", "
						  "not \"rx\"");
	refused("disk = [ 'a.img,raw,xvdaaaaaaaaaaaaaaaaaaaaa' ]", "line 1: disk[0]: vdev "
		"\"xvdaaaaaaaaaaaaaaaaaaaaa\" is longer than 20 bytes (it becomes the disk's serial)");
	refused("disk = [ 'a.img,,hdc,cdrom' ]", "line 1: disk[0]: devtype \"cdrom\" is not supported "
						 "(disk)");
	refused("disk = [ 'devtype=cdrom,target=a.iso' ]", "line 1: disk[0]: devtype \"cdrom\" is "
							   "not supported (disk)");
	refused("disk = [ 'a.img,no-discard' ]", "line 1: disk[0]: the flag \"no-discard\" is not "
						 "supported by Capsule");
	refused("disk = [ 'backendtype=qdisk,target=a.img' ]", "line 1: disk[0]: backendtype= is not "
		"supported by Capsule (its disks are virtio-blk on a raw image or a block device)");
	refused("disk = [ 'script=block-iscsi,target=a' ]", "line 1: disk[0]: script= is not "
		"supported by Capsule (its disks are virtio-blk on a raw image or a block device)");
	refused("disk = [ 'size=5,target=a' ]", "line 1: disk[0]: unknown option \"size\" (format, "
						"vdev, access, devtype, target)");
	refused("disk = [ 'specification=ide,target=a' ]", "line 1: disk[0]: specification \"ide\" "
							   "is not supported (xen)");
	refused("disk = [ 'target=\xff' ]", "line 1: disk[0]: \"path\" is not valid UTF-8");
}

static void vifs(void **state)
{
	(void)state;
	parses_to(BASE "vif = [ 'mac=00:16:3e:12:34:56, vifname=cap0' ]",
		  "{" BASE_JSON ", \"net\": [{\"tap\": \"cap0\", \"mac\": \"00:16:3e:12:34:56\"}]}");
	parses_to(BASE "vif = [ 'vifname=cap0,type=vif,model=virtio-net,' ]",
		  "{" BASE_JSON ", \"net\": [{\"tap\": \"cap0\"}]}");
	refused("vif = [ 'mac=00:16:3e:12:34:56, bridge=xenbr0' ]", "line 1: vif[0]: bridge= is not "
		"supported: Capsule opens the TAP device named by vifname= and attaches it to nothing "
		"(ip link set TAP master xenbr0)");
	refused("vif = [ 'vifname=t,script=vif-bridge' ]", "line 1: vif[0]: script= is not supported: "
		"Capsule runs no hotplug scripts (give vifname= of a TAP device)");
	refused("vif = [ 'vifname=t,ip=10.0.0.2' ]", "line 1: vif[0]: ip= is not supported by Capsule");
	refused("vif = [ 'vifname=t,colour=red' ]", "line 1: vif[0]: unknown option \"colour\" (mac, "
						    "vifname, type, model)");
	refused("vif = [ 'vifname=t,bridge' ]", "line 1: vif[0]: expected KEY=VALUE, not \"bridge\"");
	refused("vif = [ 'vifname=t,mac=00:16:3e:12:34' ]", "line 1: vif[0]: mac \"00:16:3e:12:34\" "
							    "is not six hex bytes (52:54:00:12:34:56)");
	refused("vif = [ 'vifname=t,mac=00-16-3e-12-34-56' ]", "line 1: vif[0]: mac "
		"\"00-16-3e-12-34-56\" is not six hex bytes (52:54:00:12:34:56)");
	refused("vif = [ 'vifname=t,mac=01:16:3e:12:34:56' ]", "line 1: vif[0]: mac "
		"\"01:16:3e:12:34:56\" is a multicast address");
	refused("vif = [ 'vifname=a/b' ]", "line 1: vif[0]: vifname \"a/b\" is not a network "
		"interface name (1 to 15 characters, no '/', ':' or spaces)");
	refused("vif = [ 'vifname=0123456789abcdef' ]", "line 1: vif[0]: vifname \"0123456789abcdef\" "
		"is not a network interface name (1 to 15 characters, no '/', ':' or spaces)");
	refused("vif = [ 'vifname=t,type=tap' ]", "line 1: vif[0]: type \"tap\" is not supported (vif "
						  "or ioemu)");
	refused("vif = [ 'vifname=t,model=e1000' ]", "line 1: vif[0]: model \"e1000\" is not "
						     "supported (the NIC is virtio-net)");
	refused("vif = [ 'mac=00:16:3e:12:34:56' ]", "line 1: vif[0]: no vifname= (Capsule's network "
						     "device is the TAP device of that name)");
	refused("vif = [ '' ]", "line 1: vif[0]: no vifname= (Capsule's network device is the TAP "
				"device of that name)");
}

/* xl.cfg -> JSON -> struct domain_config: the daemon's path for `capsule create`. */
static void round_trip(void **state)
{
	static const char text[] =
		"# web server\n"
		"name = \"web\"\n"
		"type = \"hvm\"\n"
		"memory = 128\n"
		"maxmem = 256\n"
		"vcpus = 2\n"
		"kernel = \"/boot/vmlinuz\"\n"
		"ramdisk = \"/boot/initrd.img\"\n"
		"root = \"/dev/vda1\"\n"
		"extra = \"console=ttyS0\"\n"
		"disk = [ 'format=raw, vdev=xvda, access=rw, target=/var/img/web.img',\n"
		"         '/var/img/data.img,raw,xvdb,ro', ]\n"
		"vif = [ 'mac=52:54:00:12:34:56, vifname=web0' ]\n"
		"on_poweroff = \"destroy\"\n"
		"on_reboot = \"destroy\"\n"
		"on_crash = \"restart\"\n";
	struct domain_config c;
	char err[512] = "";
	json_t *j = NULL;
	char *s;

	(void)state;
	if (xlcfg_parse(text, strlen(text), &j, err, sizeof(err)))
		fail_msg("refused: %s", err);
	s = json_dumps(j, JSON_COMPACT);
	assert_non_null(s);
	domain_config_init(&c);
	if (domain_config_from_json(&c, s, strlen(s), err, sizeof(err)))
		fail_msg("%s refused by domain_config_from_json: %s", s, err);
	assert_string_equal(c.name, "web");
	assert_string_equal(c.image, "/boot/vmlinuz");
	assert_string_equal(c.initrd, "/boot/initrd.img");
	assert_string_equal(c.cmdline, "root=/dev/vda1 console=ttyS0");
	assert_int_equal(c.mem_mib, 256);
	assert_int_equal(c.vcpus, 2);
	assert_true(c.no_pvh);
	assert_int_equal(c.on_poweroff, ACTION_DESTROY);
	assert_int_equal(c.on_reboot, ACTION_DESTROY);
	assert_int_equal(c.on_crash, ACTION_RESTART);
	assert_int_equal(c.nr_devices, 4);
	for (unsigned i = 0; i < c.nr_devices; i++) {
		const char *k = c.devices[i].kind->name, *a = c.devices[i].arg;

		if (!strcmp(k, "balloon"))
			assert_string_equal(a, "128");
		else if (!strcmp(k, "net"))
			assert_string_equal(a, "tap=web0,mac=52:54:00:12:34:56");
		else if (!strcmp(k, "disk") && strstr(a, "web.img"))
			assert_string_equal(a, "/var/img/web.img,serial=xvda");
		else if (!strcmp(k, "disk"))
			assert_string_equal(a, "/var/img/data.img,readonly,serial=xvdb");
		else
			fail_msg("unexpected device %s", k);
	}
	if (domain_config_validate(&c, DOMAIN_HVM, err, sizeof(err)))
		fail_msg("refused by domain_config_validate: %s", err);
	free(s);
	json_decref(j);

	/* a PV domain, defaults left alone */
	{
		static const char pv[] = "name='pv1'\nkernel='build/guest/hello.elf'\n";

		assert_int_equal(xlcfg_parse(pv, strlen(pv), &j, err, sizeof(err)), 0);
		s = json_dumps(j, JSON_COMPACT);
		domain_config_init(&c);
		assert_int_equal(domain_config_from_json(&c, s, strlen(s), err, sizeof(err)), 0);
		assert_string_equal(c.name, "pv1");
		assert_int_equal(c.mem_mib, 64);
		assert_int_equal(c.vcpus, 1);
		assert_int_equal(c.on_reboot, ACTION_RESTART);
		assert_int_equal(c.nr_devices, 0);
		assert_int_equal(domain_config_validate(&c, DOMAIN_PV, err, sizeof(err)), 0);
		free(s);
		json_decref(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(syntax),
		cmocka_unit_test(keys),
		cmocka_unit_test(disks),
		cmocka_unit_test(vifs),
		cmocka_unit_test(round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
