/* SPDX-License-Identifier: Apache-2.0 */
/* Console input through the shared input ring (docs/pv-abi.md 7.1): no exit per byte, only
 * a block() while the ring is empty, woken by the ring's port. */
#include "kit_internal.h"

static struct cap_console_in *in_ring(void)
{
	return (struct cap_console_in *)(uintptr_t)CAP_GPA_CONSOLE_IN;
}

/* What is in the ring, up to cap bytes; cons is advanced after the copy (release), so the
 * VMM never overwrites a byte not yet taken. */
static int take(struct cap_console_in *r, uint8_t *out, size_t cap)
{
	uint32_t cons = r->cons;
	uint32_t n = __atomic_load_n(&r->prod, __ATOMIC_ACQUIRE) - cons;

	if (n > CAP_CONSOLE_IN_SIZE) /* we broke cons ourselves: the ring is not ours to trust */
		return 0;
	if (n > cap)
		n = (uint32_t)cap;
	for (uint32_t i = 0; i < n; i++)
		out[i] = r->buf[(cons + i) % CAP_CONSOLE_IN_SIZE];
	__atomic_store_n(&r->cons, cons + n, __ATOMIC_RELEASE);
	return (int)n;
}

int console_read(void *buf, size_t cap, uint64_t deadline_ns)
{
	struct cap_console_in *r = in_ring();
	int n;

	if (!(start_info->flags & CAP_SI_CONSOLE_INPUT))
		return CAP_ENOENT;
	for (;;) {
		n = cap ? take(r, buf, cap) : 0;
		if (n || !cap)
			return n;
		/* The port is raised after prod moves: empty now and not pending means wait. */
		if (!evtchn_wait((int)r->port, deadline_ns))
			return take(r, buf, cap);
	}
}
