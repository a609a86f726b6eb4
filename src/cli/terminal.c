/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The console's terminal: while a domain owns stdin and it is a terminal, keystrokes go to
 * the guest as they are typed (no line editing, no echo, Ctrl-C to the guest too), output
 * stays cooked (a guest's "\n" still starts a new line), and Ctrl-] ends the domain, as
 * `xl console` detaches with it. A relay thread reads the real terminal and feeds the
 * devices through a pipe on fd 0, so the escape key is seen in one place. The terminal is
 * put back on every way out: the end of `capsule run`, a second signal, a seccomp stop.
 * A process has one terminal, so this is the one place with file-level state.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "capsule/cli.h"
#include "capsule/domain.h"
#include "capsule/sandbox.h"

#define ESCAPE 0x1d /* Ctrl-] */

static struct termios saved;
static int tty_fd = -1;           /* the real terminal, once raw */
static volatile sig_atomic_t raw; /* saved holds what to put back */
static struct domain *escape_dom;
static volatile sig_atomic_t escaped;

void terminal_restore(void)
{
	/* Async-signal-safe: also called on the way out of signal handlers. */
	if (raw && tty_fd >= 0)
		tcsetattr(tty_fd, TCSANOW, &saved);
	raw = 0;
}

bool terminal_escaped(void)
{
	return escaped;
}

static void *relay(void *arg)
{
	int out = (int)(intptr_t)arg;
	char buf[256];

	if (sandbox_enter("console-in", SANDBOX_SERVICE))
		return NULL;
	for (;;) {
		ssize_t n = read(tty_fd, buf, sizeof(buf));
		char *esc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		esc = memchr(buf, ESCAPE, (size_t)n);
		if (esc) {
			if (esc > buf && write(out, buf, (size_t)(esc - buf)) < 0)
				break;
			escaped = 1;
			terminal_restore();
			domain_end(escape_dom, VM_END_POWEROFF, 0);
			break;
		}
		if (write(out, buf, (size_t)n) != n)
			break;
	}
	close(out);
	return NULL;
}

int terminal_take(struct domain *d)
{
	struct termios t;
	pthread_t thread;
	int fds[2];

	if (!isatty(0) || tcgetattr(0, &saved) < 0)
		return 0; /* not a terminal: input goes to the guest as it is */
	tty_fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
	if (tty_fd < 0 || pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	t = saved;
	/* Input raw, output as it was: keys reach the guest at once, lines still end. */
	t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(tty_fd, TCSANOW, &t) < 0)
		return -1;
	raw = 1;
	atexit(terminal_restore);
	escape_dom = d;
	/* The devices read fd 0: make it the relay's pipe. */
	if (dup2(fds[0], 0) < 0 ||
	    pthread_create(&thread, NULL, relay, (void *)(intptr_t)fds[1])) {
		terminal_restore();
		return -1;
	}
	close(fds[0]);
	pthread_detach(thread);
	fprintf(stderr, "capsule: console on this terminal; Ctrl-] ends the domain\r\n");
	return 0;
}
