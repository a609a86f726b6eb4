/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Measured launch (docs/measured-launch.md): SHA-256 over what a domain boots, folded into
 * one value the way a TPM extends a PCR. Each event's digest is
 *     D = SHA-256(name || 0x00 || le64(len) || data)
 * and the measurement starts as 32 zero bytes and becomes SHA-256(M || D) for each event
 * in this order: "image", "cmdline", "initrd", "config". The guest gets the value (PV
 * start_info, HVM ACPI table CMSR), the API reports it with each event's digest, and
 * capsuled signs it (capsule attest).
 */
#ifndef CAPSULE_MEASURE_H
#define CAPSULE_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#define MEASURE_LEN 32
#define MEASURE_EVENTS 4
#define MEASURE_CONFIG_MAX 1024

struct launch_measure {
	uint8_t value[MEASURE_LEN];                  /* the chain's end */
	uint8_t event[MEASURE_EVENTS][MEASURE_LEN];  /* each event's digest, in order */
	char config[MEASURE_CONFIG_MAX];             /* the "config" event's text */
};

extern const char *const measure_event_names[MEASURE_EVENTS];

/* The digest of one event (name, then its bytes from a buffer or a whole file). */
int measure_event_buf(const char *name, const void *data, size_t len, uint8_t out[MEASURE_LEN]);
int measure_event_fd(const char *name, int fd, uint8_t out[MEASURE_LEN]); /* fd -1: empty */
/* Fold the events into m->value (m->event filled). */
int measure_fold(struct launch_measure *m);
/* Lower-case hex of a digest: out holds 2 * MEASURE_LEN + 1 bytes. */
void measure_hex(const uint8_t d[MEASURE_LEN], char *out);

#endif
