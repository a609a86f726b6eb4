/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The xl-style verbs of the capsule CLI (capsule create, list, ...): clients of capsuled's
 * API (docs/capsuled.md). What they share: the common options (-S/--socket, --json), the
 * socket (CAPSULE_SOCKET, or /run/capsule/capsuled.sock), and one call that turns every
 * failure into a sentence that says what to do.
 */
#ifndef CAPSULE_CLI_XL_H
#define CAPSULE_CLI_XL_H

#include <stdbool.h>
#include <stddef.h>

#include "capsule/httpc.h"

#define XL_DEFAULT_SOCKET "/run/capsule/capsuled.sock"
#define XL_TIMEOUT_MS 30000
#define XL_MAX_ARGS 256 /* a verb's arguments, itself included */

struct xl {
	const char *verb;
	const char *sock;
	bool json;
	int argc;    /* the verb's own arguments, common options taken out */
	char *argv[XL_MAX_ARGS]; /* argv[0] is the verb; NULL after the last */
};

/* Take the common options out of argv: 0, 1 for --help (usage printed), or -1. */
int xl_init(struct xl *x, int argc, char **argv, const char *usage);
/* One request: 0 with r filled (2xx), or -1 with a message printed. */
int xl_call(const struct xl *x, const char *method, const char *path, const char *ctype,
	    const char *body, size_t len, struct httpc_reply *r);
/* path?domain=NAME into out (NAME checked: letters, digits, . _ -). 0 or -1 (printed). */
int xl_dom_path(const struct xl *x, const char *base, const char *name, char *out, size_t len);
/* Print a JSON text pretty (for --json). */
void xl_print_json(const char *text);
/* A message for a failed connection, by errno. */
void xl_conn_error(const struct xl *x, int rc, const char *err);

int cmd_create(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_unpause(int argc, char **argv);
int cmd_shutdown(int argc, char **argv);
int cmd_reboot(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
int cmd_memset(int argc, char **argv);
int cmd_dump_core(int argc, char **argv);
int cmd_console(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_save(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_clone(int argc, char **argv);
int cmd_sched_credit(int argc, char **argv);
int cmd_vcpu_pin(int argc, char **argv);
int cmd_vcpu_list(int argc, char **argv);
int cmd_attest(int argc, char **argv);
int cmd_verify_attestation(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_migrate_abort(int argc, char **argv);

#endif
