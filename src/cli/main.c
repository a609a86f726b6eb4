/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "capsule/cli.h"
#include "capsule/vm.h"
#include "xl.h"

#ifndef CAPSULE_VERSION
#define CAPSULE_VERSION "unknown"
#endif

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{"run", cmd_run, "run a domain in the foreground, console on stdout"},
	{"control", cmd_control, "send a command to a running domain's control socket"},
	{"snapshot-merge", cmd_snapshot_merge, "fold a chain of diff snapshots into a full one"},
	/* xl's verbs, clients of capsuled (docs/capsuled.md) */
	{"create", cmd_create, "create a domain from a JSON or xl.cfg configuration"},
	{"list", cmd_list, "list the domains (xl's columns)"},
	{"info", cmd_info, "one domain's state and configuration"},
	{"pause", cmd_pause, "pause a domain"},
	{"unpause", cmd_unpause, "let a paused domain run"},
	{"shutdown", cmd_shutdown, "ask a domain to power off (-w: and wait)"},
	{"reboot", cmd_reboot, "ask a domain to reboot"},
	{"destroy", cmd_destroy, "end a domain at once and remove it"},
	{"mem-set", cmd_memset, "set a domain's memory target (MiB)"},
	{"dump-core", cmd_dump_core, "write an ELF core of a domain for gdb"},
	{"console", cmd_console, "attach to a domain's console (Ctrl-] detaches)"},
	{"top", cmd_top, "a live table of the domains (like xentop)"},
	{"events", cmd_events, "follow the domains' lifecycle events"},
	{"log", cmd_log, "a domain's history and its VMM's log"},
	{"save", cmd_save, "save a domain into a snapshot directory; it ends"},
	{"restore", cmd_restore, "a new domain from a snapshot directory"},
	{"snapshot", cmd_snapshot, "snapshot a running domain; it runs on"},
	{"clone", cmd_clone, "N running domains from one snapshot"},
	{"sched-credit", cmd_sched_credit, "show or set domains' CPU weight and cap"},
	{"vcpu-pin", cmd_vcpu_pin, "pin a domain's vCPU (or all) to host CPUs"},
	{"vcpu-list", cmd_vcpu_list, "each vCPU: its CPU, state, time and affinity"},
	{"attest", cmd_attest, "a domain's launch measurement, signed by the host"},
	{"verify-attestation", cmd_verify_attestation, "check a statement of capsule attest"},
	{"migrate", cmd_migrate, "live-migrate a domain to another host's capsuled"},
	{"migrate-abort", cmd_migrate_abort, "stop a migration; the domain runs on here"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: capsule [--help] [--version] COMMAND [ARGS]\n\n"
		     "Capsule runs isolated virtual machines (domains) on Linux KVM.\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nRun 'capsule COMMAND --help' for the options of a command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CAPSULE_EXIT_VMM_ERROR;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("capsule %s\n", CAPSULE_VERSION);
#if defined(__SANITIZE_ADDRESS__)
		printf("sandbox: off in this sanitizer build\n");
#else
		printf("sandbox: seccomp allowlist on guest-facing threads\n");
#endif
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "capsule: unknown command '%s'; see 'capsule --help'\n", argv[1]);
	return CAPSULE_EXIT_VMM_ERROR;
}
