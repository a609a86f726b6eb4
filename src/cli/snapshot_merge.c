/* SPDX-License-Identifier: Apache-2.0 */
/* `capsule snapshot-merge BASE DIFF... OUT`: a full snapshot from a chain of diffs. */
#include <stdio.h>
#include <string.h>

#include "capsule/cli.h"
#include "capsule/snapshot.h"
#include "capsule/vm.h"

int cmd_snapshot_merge(int argc, char **argv)
{
	char err[1024];

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: capsule snapshot-merge BASE DIFF1 [DIFF2...] OUT\n\n"
		       "Fold a full snapshot and the diff snapshots taken after it, in order\n"
		       "('capsule control SOCK snapshot DIR --diff'), into OUT: a full snapshot\n"
		       "of the last diff's point, for 'capsule run --restore OUT'\n"
		       "(docs/snapshot.md).\n");
		return 0;
	}
	if (argc < 4) {
		fprintf(stderr, "usage: capsule snapshot-merge BASE DIFF1 [DIFF2...] OUT\n");
		return CAPSULE_EXIT_VMM_ERROR;
	}
	if (snapshot_merge(argv[1], (const char *const *)argv + 2, (unsigned)argc - 3,
			   argv[argc - 1], err, sizeof(err))) {
		fprintf(stderr, "capsule snapshot-merge: %s\n", err);
		return CAPSULE_EXIT_VMM_ERROR;
	}
	printf("ok: %s and %d diff%s merged into %s\n", argv[1], argc - 3, argc == 4 ? "" : "s",
	       argv[argc - 1]);
	return 0;
}
