/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capsule-oci [GLOBAL OPTIONS] COMMAND [OPTIONS] ID: runc's command line (docs/oci.md),
 * as containerd's runc shim and Docker call it.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "capsule/oci.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: capsule-oci [GLOBAL OPTIONS] COMMAND [OPTIONS] ID\n\n"
		"An OCI runtime with runc's command line: each container is a Capsule domain\n"
		"whose init process is its VMM (docs/oci.md).\n\n"
		"Commands:\n"
		"  create --bundle DIR [--pid-file F] [--console-socket S] ID\n"
		"                     build the domain, paused before its first instruction\n"
		"  start ID           run it\n"
		"  state ID           the OCI state as JSON (created, running, paused, stopped)\n"
		"  kill [--all] ID [SIGNAL]\n"
		"                     SIGTERM (default): ask the guest to power off (destroyed\n"
		"                     after %u s); SIGKILL: destroy; others go to the VMM\n"
		"  delete [--force] ID  remove a stopped (or created) container; --force: any\n"
		"  ps [--format table|json] ID, pause ID, resume ID\n"
		"  features           what this runtime supports, as JSON\n\n"
		"Global options:\n"
		"  --root DIR         state directory (default %s)\n"
		"  --log FILE         log there too; --log-format text|json\n"
		"  --debug            debug messages in the log\n"
		"  --systemd-cgroup   refused: cgroups are capsule-oci's own (cgroupfs)\n"
		"  -v, --version, -h, --help\n",
		OCI_SHUTDOWN_GRACE_S, OCI_DEFAULT_ROOT);
}

int main(int argc, char **argv)
{
	enum { O_ROOT = 1000, O_LOG, O_LOG_FORMAT, O_DEBUG, O_SYSTEMD, O_IGNORED };
	static const struct option opts[] = {
		{"root", required_argument, NULL, O_ROOT},
		{"log", required_argument, NULL, O_LOG},
		{"log-format", required_argument, NULL, O_LOG_FORMAT},
		{"debug", no_argument, NULL, O_DEBUG},
		{"systemd-cgroup", no_argument, NULL, O_SYSTEMD},
		{"rootless", required_argument, NULL, O_IGNORED},
		{"criu", required_argument, NULL, O_IGNORED},
		{"version", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct oci_opts o = {.root = OCI_DEFAULT_ROOT};
	bool systemd = false;
	const char *cmd;
	int c;

	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case O_ROOT:
			o.root = optarg;
			break;
		case O_LOG:
			o.log = optarg;
			break;
		case O_LOG_FORMAT:
			if (strcmp(optarg, "json") && strcmp(optarg, "text")) {
				fprintf(stderr, "capsule-oci: --log-format: json or text, not %s\n",
					optarg);
				return 1;
			}
			o.log_json = !strcmp(optarg, "json");
			break;
		case O_DEBUG:
			o.debug = true;
			break;
		case O_SYSTEMD:
			systemd = true;
			break;
		case O_IGNORED:
			break;
		case 'v':
			printf("capsule-oci version %s\nspec: %s\n", CAPSULE_VERSION, OCI_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	oci_log_init(&o);
	if (systemd)
		return oci_fail("--systemd-cgroup is not supported: capsule-oci places each VMM in "
				"its own cgroupfs cgroup; set SystemdCgroup = false for this runtime "
				"(docs/oci.md)");
	if (optind >= argc) {
		usage(stderr);
		return 1;
	}
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	if (!strcmp(cmd, "create"))
		return oci_create(&o, argc, argv);
	if (!strcmp(cmd, "start"))
		return oci_start(&o, argc, argv);
	if (!strcmp(cmd, "state"))
		return oci_state_cmd(&o, argc, argv);
	if (!strcmp(cmd, "kill"))
		return oci_kill(&o, argc, argv);
	if (!strcmp(cmd, "delete"))
		return oci_delete(&o, argc, argv);
	if (!strcmp(cmd, "ps"))
		return oci_ps(&o, argc, argv);
	if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume"))
		return oci_pause_resume(&o, argc, argv, !strcmp(cmd, "pause"));
	if (!strcmp(cmd, "features"))
		return oci_features();
	if (!strcmp(cmd, "exec") || !strcmp(cmd, "run") || !strcmp(cmd, "update") ||
	    !strcmp(cmd, "checkpoint") || !strcmp(cmd, "restore") || !strcmp(cmd, "events"))
		return oci_fail("%s is not supported: a domain has no processes to join or "
				"update (docs/oci.md)", cmd);
	return oci_fail("unknown command %s (capsule-oci --help)", cmd);
}
