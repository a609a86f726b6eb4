/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Just enough of an AML encoder to describe Capsule's devices in the DSDT: scopes, devices,
 * names, integers, strings, EISA IDs and resource templates (ACPI 6.4, chapters 19 and 20).
 */
#ifndef CAPSULE_HVM_AML_H
#define CAPSULE_HVM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t len, cap;
	bool overflow; /* something did not fit: the caller must not use the result */
};

void aml_bytes(struct aml *a, const void *p, size_t n);
void aml_byte(struct aml *a, uint8_t b);
/* A package (scope, device, buffer): begin returns a mark, end writes its PkgLength. */
size_t aml_pkg_begin(struct aml *a);
void aml_pkg_end(struct aml *a, size_t mark);

void aml_scope_begin(struct aml *a, const char *path, size_t *mark);
void aml_device_begin(struct aml *a, const char *name, size_t *mark);
void aml_name(struct aml *a, const char *name); /* NameOp + NameSeg: follow with a value */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
void aml_eisaid(struct aml *a, const char *id);

/* Name(_CRS, ResourceTemplate() { ... }) */
void aml_crs_begin(struct aml *a, size_t *mark, size_t *buf_mark);
void aml_crs_end(struct aml *a, size_t mark, size_t buf_mark);
void aml_res_io(struct aml *a, uint16_t base, uint8_t len);
void aml_res_irq(struct aml *a, unsigned irq);
void aml_res_mem32(struct aml *a, uint32_t base, uint32_t len);
void aml_res_interrupt(struct aml *a, uint32_t gsi, bool edge);

#endif
