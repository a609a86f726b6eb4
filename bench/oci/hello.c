/* SPDX-License-Identifier: Apache-2.0 */
/* The runc side of bench/oci.py: a static hello (or, with "sleep", a process that waits),
 * the smallest thing a container can run. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	printf("hello from a container\n");
	fflush(stdout);
	if (argc > 1 && !strcmp(argv[1], "sleep"))
		for (;;)
			pause();
	return 0;
}
