/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the JSON domain configuration (src/domain/config_json.c) and its
 * validation: any bytes must give a configuration or a message, never a crash.
 */
#include <stdlib.h>
#include <string.h>

#include "capsule/domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct domain_config c;
	char err[512];

	domain_config_init(&c);
	if (domain_config_from_json(&c, (const char *)data, size, err, sizeof(err)) == 0) {
		if (!c.image)
			c.image = "x";
		domain_config_validate(&c, DOMAIN_PV, err, sizeof(err));
		domain_config_validate(&c, DOMAIN_HVM, err, sizeof(err));
	} else if (!err[0]) {
		abort(); /* a refusal always says why */
	}
	return 0;
}
