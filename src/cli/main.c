/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "capsule/cli.h"
#include "capsule/vm.h"

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
