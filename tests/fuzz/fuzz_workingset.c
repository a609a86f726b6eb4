/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the working-set file reader (src/snapshot/workingset.c): any bytes
 * either are refused or give sorted, non-empty, non-overlapping ranges inside memory whose
 * pages add up to the count it reports.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capsule/workingset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint64_t mem = 64ull << 20, pages = mem / WS_PAGE;
	struct workingset ws;
	uint64_t next = 0, total = 0;
	char err[256];

	if (ws_parse(data, size, mem, &ws, err, sizeof(err)))
		return 0;
	for (uint64_t i = 0; i < ws.nr; i++) {
		if (!ws.r[i].pages || ws.r[i].first < next || ws.r[i].first + ws.r[i].pages > pages)
			abort();
		next = ws.r[i].first + ws.r[i].pages;
		total += ws.r[i].pages;
	}
	if (total != ws.pages)
		abort();
	ws_free(&ws);
	return 0;
}
