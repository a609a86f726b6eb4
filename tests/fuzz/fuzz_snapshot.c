/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the snapshot reader (src/snapshot/format.c, restore.c): any bytes
 * as a state stream must give a parsed snapshot whose every record has its exact size and
 * whose configuration is valid JSON of the schema, or a message; never a crash or a read
 * past the input. The seeds are real PV and HVM states (tests/fuzz/seeds/fuzz_snapshot/).
 */
#include <stdlib.h>
#include <string.h>

#include "capsule/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct domain_config cfg;
	struct snap_parsed p;
	char err[512] = "";
	/* 8-byte aligned and exactly size bytes long, as restore reads it (ASan sees past it) */
	uint64_t *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (snapshot_parse_config(buf, size, &p, &cfg, err, sizeof(err))) {
		if (!err[0])
			abort(); /* a refusal always says why */
	} else {
		/* Every record pointer lies inside the input. */
		for (unsigned i = 0; i < p.nr_vcpus; i++)
			if ((const uint8_t *)p.vcpu[i] < (const uint8_t *)buf ||
			    (const uint8_t *)(p.vcpu[i] + 1) > (const uint8_t *)buf + size)
				abort();
		if ((const uint8_t *)(p.domain + 1) > (const uint8_t *)buf + size)
			abort();
	}
	free(buf);
	return 0;
}
