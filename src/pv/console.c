/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The console ring: the guest appends bytes and advances prod, then one hypercall drains
 * everything written so far. The VMM keeps its own consumer index; the ring's `cons` only
 * mirrors it for the guest, so a guest scribbling on it cannot make the VMM read twice.
 */
#include <stdio.h>

#include "capsule/log.h"
#include "capsule/pv.h"

int64_t pv_console_drain(struct pv_domain *pv)
{
	struct cap_console_ring *ring = pv->console;
	uint32_t prod, n, off, first;
	int64_t ret;

	pthread_mutex_lock(&pv->console_lock);
	prod = __atomic_load_n(&ring->prod, __ATOMIC_ACQUIRE);
	n = prod - pv->console_cons; /* wraps correctly in 32 bits */
	if (n > CAP_CONSOLE_RING_SIZE) {
		log_warn("guest console ring is inconsistent (prod %u, cons %u); dropping it", prod,
			 pv->console_cons);
		pv->console_cons = prod;
		ret = CAP_EINVAL;
		goto out;
	}
	off = pv->console_cons % CAP_CONSOLE_RING_SIZE;
	first = n < CAP_CONSOLE_RING_SIZE - off ? n : CAP_CONSOLE_RING_SIZE - off;
	if (pv->vm->console && n) {
		fwrite(ring->buf + off, 1, first, pv->vm->console);
		fwrite(ring->buf, 1, n - first, pv->vm->console);
		fflush(pv->vm->console);
	}
	if (n) {
		console_log_append(pv->vm->console_log, ring->buf + off, first);
		console_log_append(pv->vm->console_log, ring->buf, n - first);
	}
	pv->console_cons = prod;
	ret = n;
out:
	__atomic_store_n(&ring->cons, pv->console_cons, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&pv->console_lock);
	return ret;
}
