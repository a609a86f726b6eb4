/* SPDX-License-Identifier: Apache-2.0 */
/* The smallest HVM test kernel: the serial port, the boot information, the debug exit. */
#include "hvm.h"

int main(void)
{
	printf("hvm: hello from a %s kernel on the serial port\n",
	       hvm_boot.pvh ? "PVH" : "multiboot");
	printf("hvm: cmdline \"%s\", RAM up to %llu MiB, %u memory map entries\n", hvm_boot.cmdline,
	       (unsigned long long)(hvm_boot.mem_top >> 20), hvm_boot.nr_mmap);
	TEST_CHECK(strstr(hvm_boot.cmdline, "hvm-test") != NULL);
	TEST_CHECK(hvm_boot.mem_top == 64ull << 20);
	TEST_CHECK(hvm_boot.nr_mmap >= 4);
	test_finish(true);
}
