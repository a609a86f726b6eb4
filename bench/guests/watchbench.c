/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Watch benchmark guest (bench/introspect.py): waits for "go" on its console (the host
 * arms its watches first), then times the compute kernel, CAP_HC_TIME round trips and
 * writes to watch_target (a page of its own), each in the guest. `--cmdline "ROUNDS CALLS
 * WRITES"`. watch_elsewhere is a page the host may watch that the guest never touches.
 */
#include "kit.h"

#include "../compute_kernel.h"

__attribute__((aligned(4096))) volatile uint64_t watch_target[512];
__attribute__((aligned(4096))) volatile uint64_t watch_elsewhere[512];

static uint64_t next_number(const char **p)
{
	char *end;
	uint64_t v = strtoul(*p, &end, 10);

	*p = end;
	return v;
}

int main(void)
{
	const char *p = start_info->cmdline;
	uint64_t rounds = next_number(&p), calls = next_number(&p), writes = next_number(&p);
	uint64_t t0, t1, t2, t3, hash;
	char line[16];
	size_t len = 0;

	watch_elsewhere[0] = 1;
	printf("watchbench: ready\n");
	while (len < sizeof(line) - 1) { /* "go\n" */
		int n = console_read(line + len, sizeof(line) - 1 - len, time_ns() + 60000000000ull);

		TEST_CHECK(n > 0);
		len += (size_t)n;
		line[len] = 0;
		if (strchr(line, '\n'))
			break;
	}
	t0 = time_ns();
	hash = compute_kernel((uint32_t)rounds);
	t1 = time_ns();
	for (uint64_t i = 0; i < calls; i++)
		hypercall(CAP_HC_TIME, 0, 0, 0, 0);
	t2 = time_ns();
	for (uint64_t i = 0; i < writes; i++)
		watch_target[i % 512] = i;
	t3 = time_ns();
	printf("watchbench: compute_ns=%llu hc_ns=%llu write_ns=%llu hash=%llx\n",
	       (unsigned long long)(t1 - t0), (unsigned long long)((t2 - t1) / (calls ? calls : 1)),
	       (unsigned long long)((t3 - t2) / (writes ? writes : 1)), (unsigned long long)hash);
	return 0;
}
