/* SPDX-License-Identifier: Apache-2.0 */
/* Linked into a kernel, this makes it bootable through PVH (XEN_ELFNOTE_PHYS32_ENTRY). */
	.section .note.Xen, "a"
	.balign 4
	.long 4, 4, 18       /* name size, descriptor size, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long _start32
	.section .note.GNU-stack, "", @progbits
