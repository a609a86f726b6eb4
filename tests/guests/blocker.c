/* SPDX-License-Identifier: Apache-2.0 */
/* Blocks with no deadline and no event, for ever: pause must still reach it. */
#include "kit.h"

int main(void)
{
	printf("blocker: blocking\n");
	for (;;)
		block(0);
}
