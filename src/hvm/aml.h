/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Just enough of an AML encoder to describe Capsule's devices in the DSDT: scopes, devices,
 * names, integers, strings, EISA IDs, resource templates, and the few operators a GED's
 * _EVT method needs (ACPI 6.4, chapters 19 and 20).
 *
 * Expressions are written as AML stores them, prefix first: aml_store(a), then its source,
 * then its destination; aml_and(a), two operands and a target (aml_null_name for none).
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

/* Package (elements) { ... }: the elements follow, then aml_pkg_end(mark). */
void aml_package_begin(struct aml *a, uint8_t elements, size_t *mark);
void aml_scope_begin(struct aml *a, const char *path, size_t *mark);
void aml_device_begin(struct aml *a, const char *name, size_t *mark);
void aml_name(struct aml *a, const char *name); /* NameOp + NameSeg: follow with a value */
/* A reference to a named object, e.g. "GDAT" or "\\_SB_.PWRB" (as an operand). */
void aml_name_ref(struct aml *a, const char *path);
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
/* WordBusNumber (min..max) and DWordMemory (a window), as a host bridge produces them. */
void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max);
void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t len);

/* Method (NAME, nargs, Serialized?) { ... } and If (predicate) { ... }: close with
 * aml_pkg_end(mark). The predicate follows aml_if_begin. */
void aml_method_begin(struct aml *a, const char *name, unsigned nargs, bool serialized,
		      size_t *mark);
void aml_if_begin(struct aml *a, size_t *mark);
void aml_store(struct aml *a);
void aml_and(struct aml *a);
void aml_lequal(struct aml *a);
void aml_notify(struct aml *a); /* follow with the object and the value */
void aml_return(struct aml *a); /* follow with the value */
void aml_local(struct aml *a, unsigned n);
void aml_arg(struct aml *a, unsigned n);
void aml_null_name(struct aml *a);

/* OperationRegion (NAME, space, offset, len) and Field (REGION, flags) { units }. */
#define AML_SPACE_SYSTEM_MEMORY 0
#define AML_FIELD_DWORD_ACC 3 /* NoLock, Preserve */
void aml_operation_region(struct aml *a, const char *name, uint8_t space, uint64_t offset,
			  uint64_t len);
void aml_field_begin(struct aml *a, const char *region, uint8_t flags, size_t *mark);
void aml_field_unit(struct aml *a, const char *name, unsigned bits);

#endif
