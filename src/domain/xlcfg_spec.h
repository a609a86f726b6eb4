/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device strings of xl.cfg (src/domain/xlcfg_spec.c), used by src/domain/xlcfg.c: each
 * gives one JSON device object of docs/domain-config.schema.json, or -1 and a sentence in
 * err. The spec is cut up in place.
 */
#ifndef CAPSULE_XLCFG_SPEC_H
#define CAPSULE_XLCFG_SPEC_H

#include <jansson.h>
#include <stddef.h>

/* xl-disk-configuration: "format=raw, vdev=xvda, access=rw, target=/path", "/path,raw,xvda,rw",
 * "phy:/dev/vg/lv,xvda,w"; to {"path": P, "readonly": B, "serial": VDEV}. */
int xlcfg_disk_spec(char *spec, json_t **out, char *err, size_t errlen);
/* xl-network-configuration: "mac=M, vifname=TAP"; to {"tap": TAP, "mac": M}. */
int xlcfg_vif_spec(char *spec, json_t **out, char *err, size_t errlen);

#endif
