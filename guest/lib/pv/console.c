/* SPDX-License-Identifier: Apache-2.0 */
/* Console output through the shared ring: bytes go in, a hypercall per line drains them. */
#include "kit_internal.h"

static spinlock_t console_lock;

static struct cap_console_ring *ring(void)
{
	return (struct cap_console_ring *)(uintptr_t)start_info->console_gpa;
}

void console_flush(void)
{
	hypercall(CAP_HC_CONSOLE_WRITE, 0, 0, 0, 0);
}

void console_write(const char *s, size_t n)
{
	struct cap_console_ring *r = ring();
	bool newline = false;

	spin_lock(&console_lock);
	for (size_t i = 0; i < n; i++) {
		uint32_t prod = r->prod;

		if (prod - __atomic_load_n(&r->cons, __ATOMIC_ACQUIRE) >= CAP_CONSOLE_RING_SIZE)
			console_flush(); /* full: let the VMM drain it */
		r->buf[prod % CAP_CONSOLE_RING_SIZE] = (uint8_t)s[i];
		__atomic_store_n(&r->prod, prod + 1, __ATOMIC_RELEASE);
		newline |= s[i] == '\n';
	}
	if (newline)
		console_flush();
	spin_unlock(&console_lock);
}

