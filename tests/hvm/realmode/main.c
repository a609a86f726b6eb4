/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A real-mode kernel linked at 0x8000 (compiled with -m16): what a loader must do for an
 * image below 1 MiB. It checks that it runs in real mode where it was linked, that its
 * .data came and its .bss is zero, and reads the multiboot information through segments
 * (it may be anywhere below 1 MiB): the magic, mem_lower, the command line (the kernel's
 * path first, then "lowload-test"), and that the information does not overlap the image.
 * Prints "Test result: SUCCESS|FAILURE" on COM1 and leaves through the debug-exit port.
 */
#include <stdint.h>

#define COM1 0x3f8
#define MB_BOOT_MAGIC 0x2badb002u

extern char __image_start[], __image_end[];
static const uint32_t table[4] = {0x01234567, 0x89abcdef, 0xdeadbeef, 0x0badf00d};
static uint32_t zeroed[64];
static unsigned failures;

static void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static void putc(char c)
{
	outb(COM1, (uint8_t)c);
}

static void puts(const char *s)
{
	while (*s)
		putc(*s++);
}

static void puthex(uint32_t v)
{
	puts("0x");
	for (int i = 28; i >= 0; i -= 4)
		putc("0123456789abcdef"[(v >> i) & 15]);
}

/* Any byte below 1 MiB, through FS (real-mode addressing: segment << 4 + offset). */
static uint8_t peek8(uint32_t linear)
{
	uint8_t v;

	__asm__ volatile("mov %w1, %%fs\n\tmovb %%fs:(%2), %0"
			 : "=q"(v)
			 : "r"((uint32_t)(linear >> 4)), "r"(linear & 15));
	return v;
}

static uint32_t peek32(uint32_t linear)
{
	return peek8(linear) | (uint32_t)peek8(linear + 1) << 8 | (uint32_t)peek8(linear + 2) << 16 |
	       (uint32_t)peek8(linear + 3) << 24;
}

static void check(int ok, const char *what)
{
	puts(ok ? "realmode: ok: " : "realmode: FAILED: ");
	puts(what);
	putc('\n');
	failures += !ok;
}

/* Does the string at linear address s contain word? */
static int contains(uint32_t s, const char *word)
{
	for (uint32_t i = 0; i < 4096 && peek8(s + i); i++) {
		uint32_t j = 0;

		while (word[j] && peek8(s + i + j) == (uint8_t)word[j])
			j++;
		if (!word[j])
			return 1;
	}
	return 0;
}

uint32_t rm_main(uint32_t magic, uint32_t info);
uint32_t rm_main(uint32_t magic, uint32_t info)
{
	uint16_t msw, cs;
	uint32_t sum = 0, nonzero = 0, cmdline, first_space = 0;

	__asm__ volatile("smsw %0" : "=r"(msw));
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	puts("realmode: hello from real mode at ");
	puthex((uint32_t)(uintptr_t)__image_start);
	puts(", multiboot information at ");
	puthex(info);
	putc('\n');
	check(magic == MB_BOOT_MAGIC, "the multiboot magic");
	check(!(msw & 1) && cs == 0, "real mode (CR0.PE clear, CS 0)");
	check((uint32_t)(uintptr_t)rm_main < 0x10000, "linked low");
	for (unsigned i = 0; i < 4; i++)
		sum += table[i];
	check(sum == 0x01234567u + 0x89abcdefu + 0xdeadbeefu + 0x0badf00du, "its .data");
	for (unsigned i = 0; i < 64; i++)
		nonzero |= zeroed[i];
	check(nonzero == 0, "its .bss is zero");
	check(peek32(0x8000) == peek32((uint32_t)(uintptr_t)__image_start) &&
		      peek8(0x8000) == ((const uint8_t *)__image_start)[0],
	      "segment arithmetic (FS 0x800 reads the image)");
	if (info >= 0x100000 || info < 0x500) {
		check(0, "the information is below 1 MiB");
		goto out;
	}
	check(info + 52 <= (uint32_t)(uintptr_t)__image_start ||
		      info >= (uint32_t)(uintptr_t)__image_end,
	      "the information is outside the image");
	check(peek32(info) & 1, "memory information given");
	check(peek32(info + 4) >= 600 && peek32(info + 4) <= 640, "mem_lower (KiB below 640)");
	if (!(peek32(info) & 4)) {
		check(0, "a command line");
		goto out;
	}
	cmdline = peek32(info + 16);
	puts("realmode: command line \"");
	for (uint32_t i = 0; i < 200 && peek8(cmdline + i); i++) {
		putc((char)peek8(cmdline + i));
		if (!first_space && peek8(cmdline + i) == ' ')
			first_space = i;
	}
	puts("\"\n");
	check(first_space > 0 && contains(cmdline, "realmode") &&
		      !contains(cmdline + first_space, "realmode"),
	      "the kernel's path comes first");
	check(contains(cmdline + first_space, " lowload-test"), "then the arguments");
out:
	puts(failures ? "Test result: FAILURE\n" : "Test result: SUCCESS\n");
	return failures ? 1 : 0;
}
