/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Real-mode test kernel entry: multiboot starts it in flat 32-bit protected mode (EAX =
 * 0x2badb002, EBX = the information); it drops to real mode as a PC's real-mode program
 * runs (16-bit segments of 64 KiB, then CR0.PE off and a far jump), with every segment 0
 * and a stack of its own, and calls rm_main(magic, info) (compiled with -m16).
 */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00000002 /* memory information; the ELF says where to load */

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.section .text.entry, "ax"
	.code32
	.globl _start
_start:
	cli
	mov %eax, mb_magic
	mov %ebx, mb_info
	lgdt gdt_desc
	ljmp $0x08, $pm16

	.code16
pm16:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %fs
	mov %ax, %gs
	mov %ax, %ss
	mov %cr0, %eax
	and $0xfffffffe, %eax
	mov %eax, %cr0
	ljmp $0, $real
real:
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %fs
	mov %ax, %gs
	mov %ax, %ss
	mov $stack_top, %esp
	pushl mb_info
	pushl mb_magic
	calll rm_main
	/* QEMU's isa-debug-exit convention: status (code << 1) | 1. */
	mov $0xf4, %dx
	outl %eax, %dx
1:	hlt
	jmp 1b

	.balign 8
gdt:
	.quad 0
	.quad 0x00009a000000ffff /* 0x08: 16-bit code, base 0, 64 KiB */
	.quad 0x000092000000ffff /* 0x10: 16-bit data, base 0, 64 KiB */
gdt_desc:
	.word gdt_desc - gdt - 1
	.long gdt

	.section .bss
	.balign 16
	.globl mb_magic, mb_info
mb_magic: .long 0
mb_info: .long 0
stack: .space 2048
stack_top:
