/* SPDX-License-Identifier: Apache-2.0 */
/* The shares-per-page rule with an idle memory tax (include/capsule/mempolicy.h). */
#include <errno.h>

#include "capsule/mempolicy.h"

double mp_rho(uint64_t shares, uint64_t p_mib, uint64_t active_mib, double tau)
{
	double k = 1.0 / (1.0 - tau), f;

	if (p_mib == 0)
		return 1e300; /* holds nothing: never the one to reclaim from */
	f = active_mib >= p_mib ? 1.0 : (double)active_mib / (double)p_mib;
	return (double)shares / ((double)p_mib * (f + k * (1.0 - f)));
}

int64_t mp_targets(struct mp_dom *d, unsigned n, uint64_t budget_mib, double tau,
		   uint64_t step_mib)
{
	uint64_t total = 0;

	if (!(tau >= 0.0 && tau <= MP_TAU_MAX) || step_mib == 0)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (d[i].shares == 0 || d[i].min_mib > d[i].max_mib)
			return -EINVAL;
		d[i].target_mib = d[i].max_mib;
		total += d[i].max_mib;
	}
	/* Greedy, as ESX reclaims: each step from whoever pays least per share now. Bounded:
	 * every pass takes at least one MiB or stops. */
	while (total > budget_mib) {
		unsigned victim = n;
		double low = 0;
		uint64_t take;

		for (unsigned i = 0; i < n; i++) {
			double r;

			if (d[i].fixed || d[i].target_mib <= d[i].min_mib)
				continue;
			r = mp_rho(d[i].shares, d[i].target_mib, d[i].active_mib, tau);
			if (victim == n || r < low)
				victim = i, low = r;
		}
		if (victim == n)
			return (int64_t)(total - budget_mib);
		take = d[victim].target_mib - d[victim].min_mib;
		if (take > step_mib)
			take = step_mib;
		if (take > total - budget_mib)
			take = total - budget_mib;
		d[victim].target_mib -= take;
		total -= take;
	}
	return 0;
}
