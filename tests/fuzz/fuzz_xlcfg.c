/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the xl.cfg parser (src/domain/xlcfg.c, xlcfg_spec.c), then the JSON
 * configuration it gives through domain_config_from_json and domain_config_validate, as the
 * daemon's create does: any bytes must give a configuration or a message, never a crash.
 * Seeds: tests/fuzz/seeds/fuzz_xlcfg/.
 */
#include <stdlib.h>
#include <string.h>

#include "capsule/domain.h"
#include "capsule/xlcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct domain_config c;
	char err[512] = "";
	json_t *j = NULL;
	char *text;

	if (xlcfg_parse((const char *)data, size, &j, err, sizeof(err))) {
		if (!err[0] || j)
			abort(); /* a refusal always says why, and leaves nothing */
		return 0;
	}
	if (!json_is_object(j) || !json_object_get(j, "name") || !json_object_get(j, "kernel"))
		abort();
	text = json_dumps(j, JSON_COMPACT);
	if (!text)
		abort();
	domain_config_init(&c);
	if (domain_config_from_json(&c, text, strlen(text), err, sizeof(err)) == 0) {
		domain_config_validate(&c, DOMAIN_PV, err, sizeof(err));
		domain_config_validate(&c, DOMAIN_HVM, err, sizeof(err));
	} else if (!err[0]) {
		abort();
	}
	free(text);
	json_decref(j);
	return 0;
}
