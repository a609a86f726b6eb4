/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HVM kernel entry: multiboot v1 (EAX = 0x2badb002, EBX = info) or PVH (EBX = start info),
 * both in flat 32-bit protected mode without paging. Identity-map 4 GiB, enter long mode,
 * call hvm_main(magic, info). Also the interrupt stubs and the AP trampoline.
 */
/* From flat 32-bit mode with EAX = the PML4: PAE and SSE, EFER.LME, paging, far jump. */
	.macro ENTER_LONG_MODE target
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x620, %eax         /* PAE, OSFXSR, OSXMMEXCPT */
	mov %eax, %cr4
	mov $0xc0000080, %ecx   /* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax    /* PG, PE */
	mov %eax, %cr0
	ljmp $0x10, $\target
	.endm

#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00010003 /* page-aligned modules, memory info, load addresses */

	.section .multiboot, "a"
	.balign 4
mb_header:
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
	.long mb_header, __load_start, __load_end, __bss_end, _start32

	.section .text.entry, "ax"
	.code32
	.globl _start32
_start32:
	cli
	mov %eax, %edi
	mov %ebx, %esi
	lgdt gdt_desc
	mov $0x18, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov $boot_stack_top, %esp
	/* pml4[0] -> pdpt; pdpt[0..3] -> pd; pd: 2048 large pages covering 4 GiB */
	mov $pdpt + 3, %eax
	mov %eax, pml4
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $12, %eax
	add $pd + 3, %eax
	mov %eax, pdpt(, %ecx, 8)
	inc %ecx
	cmp $4, %ecx
	jb 1b
	xor %ecx, %ecx
2:	mov %ecx, %eax
	shl $21, %eax
	or $0x83, %eax
	mov %eax, pd(, %ecx, 8)
	mov %ecx, %edx
	shr $11, %edx
	mov %edx, pd + 4(, %ecx, 8)
	inc %ecx
	cmp $2048, %ecx
	jb 2b
	mov $pml4, %eax
	ENTER_LONG_MODE long_mode

	.code64
long_mode:
	mov $boot_stack_top, %rsp
	call hvm_main
3:	cli
	hlt
	jmp 3b

/* Interrupt stubs, 16 bytes each: push a zero error code if the CPU did not, the vector. */
	.balign 16
	.globl isr_stubs
isr_stubs:
	.set vec, 0
	.rept 256
	.balign 16
	.if vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21
	.else
	pushq $0
	.endif
	pushq $vec
	jmp isr_common
	.set vec, vec + 1
	.endr

isr_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	call hvm_isr
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp
	iretq

/*
 * AP trampoline: copied to 0x8000 and started by SIPI vector 8 in real mode (CS = 0x800).
 * Every address is written as 0x8000 + its offset, so the copy runs wherever it lands.
 */
#define TRAMP(x) (0x8000 + (x) - tramp_start)
	.globl tramp_start, tramp_end, tramp_cr3
	.code16
tramp_start:
	cli
	mov %cs, %ax
	mov %ax, %ds
	lgdtl tramp_gdt - tramp_start
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $0x08, $TRAMP(tramp32)
	.code32
tramp32:
	mov $0x18, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov TRAMP(tramp_cr3), %eax
	ENTER_LONG_MODE ap_long_mode
	.balign 8
tramp_gdt:
	.word gdt_end - gdt - 1
	.long gdt
tramp_cr3:
	.long 0
tramp_end:

	.code64
ap_long_mode:
	mov $0x18, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $1, %eax
	cpuid
	shr $24, %ebx           /* this CPU's APIC ID */
	mov %ebx, %edi
	mov ap_stacks(, %rdi, 8), %rsp
	call ap_entry
4:	cli
	hlt
	jmp 4b

	.section .data
	.balign 8
	.globl gdt
gdt:
	.quad 0
	.quad 0x00cf9b000000ffff /* 0x08 code32 */
	.quad 0x00af9b000000ffff /* 0x10 code64 */
	.quad 0x00cf93000000ffff /* 0x18 data */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.quad gdt

	.section .bss
	.balign 4096
pml4:	.skip 4096
pdpt:	.skip 4096
pd:	.skip 4 * 4096
	.balign 16
	.skip 16384
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
