/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Domain configurations in Xen's xl.cfg syntax (`key = value` lines, '#' comments, quoted
 * strings, integers, lists), for the keys Capsule supports (docs/xl-cfg.md). The result is a
 * JSON object in the shape of docs/domain-config.schema.json, so the one validation path
 * (domain_config_from_json, then domain_config_validate) checks it like any other
 * configuration:
 *
 *	json_t *cfg;
 *	char *text;
 *
 *	if (xlcfg_parse(buf, len, &cfg, err, sizeof(err)) == 0) {
 *		text = json_dumps(cfg, JSON_COMPACT);
 *		domain_config_from_json(&c, text, strlen(text), err, sizeof(err));
 *		...
 */
#ifndef CAPSULE_XLCFG_H
#define CAPSULE_XLCFG_H

#include <jansson.h>
#include <stddef.h>

#define XLCFG_MAX_LEN (1u << 20)  /* the largest configuration parsed */
#define XLCFG_STRING_MAX 4096u    /* the longest string value, after its escapes */
#define XLCFG_LIST_MAX 16u        /* the most items in a list (DOMAIN_MAX_DEVICES) */

/*
 * Parse len bytes of xl.cfg text (no NUL needed). 0 and a new JSON object in *out (the
 * caller's reference), or -1 with one sentence in err naming the line and the key
 * ("line 7: memory: expected an integer") and *out NULL. Unknown and repeated keys, and xl
 * features Capsule does not have, are refused by name.
 */
int xlcfg_parse(const char *text, size_t len, json_t **out, char *err, size_t errlen);

#endif
