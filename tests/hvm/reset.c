/* SPDX-License-Identifier: Apache-2.0 */
/* Reset through the i8042: the VMM restarts the domain (or exits with --no-reboot). */
#include "hvm.h"

int main(void)
{
	printf("reset: pulsing the i8042 reset line\n");
	outb(0x64, 0xfe);
	printf("reset: still running\n");
	test_finish(false);
}
