/* SPDX-License-Identifier: Apache-2.0 */
/* Launch benchmark guest: its first action is a hypercall (poweroff flushes the console). */
#include "kit.h"

int main(void)
{
	return 0;
}
