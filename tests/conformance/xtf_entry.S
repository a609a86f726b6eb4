/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The image's Capsule note and the two entry points (docs/pv-abi.md, "Image" and "Start").
 * Both entries save every register exactly as Capsule set it, before any instruction that
 * could change one (lea and mov leave RFLAGS alone), into a struct xtf_regs on the stack
 * they were given, and hand it to C.
 */
#define FRAME 192 /* sizeof(struct xtf_regs) = 184, rounded up to keep RSP 16-byte aligned */

	/* R-IMG-2: in a PT_NOTE segment (link.ld), 4-byte aligned, name "Capsule\0". */
	.section .note.capsule, "a"
	.balign 4
	.long 8          /* n_namesz: "Capsule" and its NUL */
	.long 4          /* n_descsz */
	.long 1          /* n_type: CAP_ELFNOTE_ABI */
	.asciz "Capsule"
	.balign 4
	.long 1          /* CAP_PV_ABI_VERSION */

.macro SAVE_REGS
	lea -FRAME(%rsp), %rsp
	mov %rax, 0(%rsp)
	mov %rbx, 8(%rsp)
	mov %rcx, 16(%rsp)
	mov %rdx, 24(%rsp)
	mov %rsi, 32(%rsp)
	mov %rdi, 40(%rsp)
	mov %rbp, 48(%rsp)
	lea FRAME(%rsp), %rax
	mov %rax, 56(%rsp)
	mov %r8, 64(%rsp)
	mov %r9, 72(%rsp)
	mov %r10, 80(%rsp)
	mov %r11, 88(%rsp)
	mov %r12, 96(%rsp)
	mov %r13, 104(%rsp)
	mov %r14, 112(%rsp)
	mov %r15, 120(%rsp)
	pushfq
	pop %rax
	mov %rax, 128(%rsp)
	xor %eax, %eax
	mov %cs, %ax
	mov %rax, 136(%rsp)
	mov %ss, %ax
	mov %rax, 144(%rsp)
	mov %ds, %ax
	mov %rax, 152(%rsp)
	mov %es, %ax
	mov %rax, 160(%rsp)
	mov %fs, %ax
	mov %rax, 168(%rsp)
	mov %gs, %ax
	mov %rax, 176(%rsp)
	mov %rsp, %rdi
	xor %ebp, %ebp
.endm

	.section .text.start, "ax"
	.globl _start
/* vCPU 0: RDI = start_info, RSP = top of RAM (the initial stack). */
_start:
	SAVE_REGS
	call xtf_start_c
	ud2

	.text
	.globl xtf_ap_entry
/* Other vCPUs, as xtf_vcpu_up starts them: RSP = a stack of ours, RSI = vCPU number. */
xtf_ap_entry:
	SAVE_REGS
	call xtf_ap_c
	ud2

	.section .note.GNU-stack, "", @progbits
