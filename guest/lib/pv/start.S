/* SPDX-License-Identifier: Apache-2.0 */
/* Entry points of a PV guest (docs/pv-abi.md, "Start"). */
	.section .note.capsule, "a"
	.balign 4
	.long 8          /* name size: "Capsule\0" */
	.long 4          /* descriptor size */
	.long 1          /* CAP_ELFNOTE_ABI */
	.asciz "Capsule"
	.balign 4
	.long 1          /* CAP_PV_ABI_VERSION */

	.section .text.start, "ax"
	.globl _start
/* vCPU 0: rdi = start_info, rsi = 0. Move to the kit's aligned boot stack at once. */
_start:
	lea kit_boot_stack+0x10000(%rip), %rsp
	xor %ebp, %ebp
	call kit_main
	ud2

	.globl kit_ap_entry
/* Other vCPUs: rsp = top of a stack from smp_start, rdi = its struct kit_cpu, rsi = id. */
kit_ap_entry:
	xor %ebp, %ebp
	call kit_ap_main
	ud2

	.section .note.GNU-stack, "", @progbits
