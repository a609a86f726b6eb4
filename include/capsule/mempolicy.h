/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The arithmetic of capsuled's memory policy (docs/resources.md), after VMware ESX
 * (Waldspurger, OSDI 2002): when the domains' memory does not fit the host's budget,
 * reclaim from the domain with the fewest shares per page, charging idle pages more.
 *
 *   rho = S / (P * (f + k * (1 - f))),  k = 1 / (1 - tau)
 *
 * S the domain's shares, P the memory it holds, f the fraction of P it actively uses
 * (the paper's f: active, not idle), tau the idle memory tax. A domain is never taken
 * below its minimum. Pure arithmetic: no I/O, no state, so it is unit tested as it is.
 */
#ifndef CAPSULE_MEMPOLICY_H
#define CAPSULE_MEMPOLICY_H

#include <stdbool.h>
#include <stdint.h>

#define MP_TAU_DEFAULT 0.75
#define MP_TAU_MAX 0.99 /* tau 1 would make an idle page cost without bound */

struct mp_dom {
	/* in */
	uint64_t max_mib;     /* the domain's memory */
	uint64_t min_mib;     /* its reservation: never reclaimed below */
	uint64_t shares;      /* 1 or more */
	uint64_t active_mib;  /* its working set as sampled (capped at what it holds) */
	bool fixed;           /* no balloon: holds max_mib, nothing to reclaim */
	/* out */
	uint64_t target_mib;  /* the memory it may hold; its balloon is max - target */
};

/* rho for a domain holding p_mib with active_mib active under tax tau (no checks). */
double mp_rho(uint64_t shares, uint64_t p_mib, uint64_t active_mib, double tau);
/*
 * Targets for n domains within budget_mib, reclaiming step_mib at a time from the lowest
 * rho: 0 when they fit, the MiB still over budget when every reclaimable domain is at its
 * minimum (> 0), or -EINVAL for a bad input (shares 0, min above max, tau outside
 * [0, MP_TAU_MAX], step 0).
 */
int64_t mp_targets(struct mp_dom *d, unsigned n, uint64_t budget_mib, double tau,
		   uint64_t step_mib);

#endif
