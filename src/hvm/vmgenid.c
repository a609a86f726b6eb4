/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM generation ID (src/hvm/acpi.c, build_vmgenid): 16 random bytes at HVM_VMGENID,
 * new at every boot and again whenever a saved state starts running (a restore, a clone,
 * the destination of a migration... anything through snapshot_apply), and then announced
 * by the GED's VMGENID event, as QEMU's vmgenid does after a load.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "capsule/hvm.h"
#include "capsule/log.h"

int hvm_vmgenid_new(struct hvm_domain *h)
{
	uint8_t *id = gmem_vmm_ptr(&h->vm->mem, HVM_VMGENID, HVM_VMGENID_LEN);
	uint8_t fresh[HVM_VMGENID_LEN];

	if (!id || getrandom(fresh, sizeof(fresh), 0) != (ssize_t)sizeof(fresh)) {
		log_err("cannot make a VM generation ID: %s", id ? strerror(errno) : "no memory");
		return -EIO;
	}
	memcpy(id, fresh, sizeof(fresh));
	return 0;
}

int hvm_vmgenid_renew(struct hvm_domain *h)
{
	int rc = hvm_vmgenid_new(h);

	return rc ? rc : ged_raise(&h->ged, GED_EVENT_VMGENID);
}
