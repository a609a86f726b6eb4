/* SPDX-License-Identifier: Apache-2.0 */
/* Powers off with the code in its command line ("reboot" reboots instead). */
#include "kit.h"

int main(void)
{
	printf("exitcode: boot, cmdline \"%s\"\n", start_info->cmdline);
	if (!strcmp(start_info->cmdline, "reboot"))
		reboot();
	return (int)strtoul(start_info->cmdline, NULL, 10);
}
