/* SPDX-License-Identifier: Apache-2.0 */
/* The `capsule` command: one function per subcommand, each returning the exit status. */
#ifndef CAPSULE_CLI_H
#define CAPSULE_CLI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>


int cmd_run(int argc, char **argv);
int cmd_control(int argc, char **argv);
int cmd_snapshot_merge(int argc, char **argv);

/* Parse a decimal number in [min, max]; 0 or -1 with a message naming the option. */
int parse_u64(const char *opt, const char *text, uint64_t min, uint64_t max, uint64_t *out);

/*
 * The console's terminal (src/cli/terminal.c): if stdin is a terminal, make its input raw,
 * relay it to fd 0 and end the domain on Ctrl-]. 0 (also when stdin is no terminal) or -1.
 */
struct domain;
int terminal_take(struct domain *d);
void terminal_restore(void);
bool terminal_escaped(void);

#endif
