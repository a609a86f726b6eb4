/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The register file gdb sees: the features gdb's i386:x86-64 expects (core with the x87
 * registers, SSE, the segment bases), then the control registers in a feature of ours.
 * The order here is the order of the 'g' packet and of the XML below.
 */
#include <string.h>

#include "capsule/gdb.h"

static unsigned size_of(unsigned reg)
{
	if (reg < GDB_RIP + 1)
		return 8;
	if (reg < GDB_ST0)
		return 4; /* eflags and the selectors */
	if (reg < GDB_FCTRL)
		return 10;
	if (reg < GDB_XMM0)
		return 4;
	if (reg < GDB_MXCSR)
		return 16;
	if (reg == GDB_MXCSR)
		return 4;
	return reg < GDB_NR_REGS ? 8 : 0;
}

unsigned gdb_reg_size(unsigned reg)
{
	return size_of(reg);
}

unsigned gdb_reg_offset(unsigned reg)
{
	unsigned off = 0;

	for (unsigned i = 0; i < reg && i < GDB_NR_REGS; i++)
		off += size_of(i);
	return off;
}

unsigned gdb_regs_bytes(void)
{
	return gdb_reg_offset(GDB_NR_REGS);
}

_Static_assert(sizeof(((struct gdb_regs *)0)->raw) >= 16 * 8 + 8 + 7 * 4 + 8 * 10 + 8 * 4 +
		       16 * 16 + 4 + 7 * 8, "the register file fits");

uint64_t gdb_reg_get(const struct gdb_regs *r, unsigned reg)
{
	uint64_t v = 0;
	unsigned n = size_of(reg);

	if (n)
		memcpy(&v, r->raw + gdb_reg_offset(reg), n < 8 ? n : 8);
	return v;
}

void gdb_reg_set(struct gdb_regs *r, unsigned reg, uint64_t v)
{
	unsigned n = size_of(reg);

	if (!n)
		return;
	memset(r->raw + gdb_reg_offset(reg), 0, n);
	memcpy(r->raw + gdb_reg_offset(reg), &v, n < 8 ? n : 8);
}

#define R(name, bits, type) "<reg name=\"" name "\" bitsize=\"" #bits "\" type=\"" type "\"/>"
#define R64(name) R(name, 64, "int64")
#define R32(name) R(name, 32, "int32")
#define RF(name) "<reg name=\"" name "\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
#define FLAG(name, bit) "<field name=\"" name "\" start=\"" #bit "\" end=\"" #bit "\"/>"

static const char target_xml[] =
	"<?xml version=\"1.0\"?>"
	"<!DOCTYPE target SYSTEM \"gdb-target.dtd\">"
	"<target version=\"1.0\"><architecture>i386:x86-64</architecture>"
	"<feature name=\"org.gnu.gdb.i386.core\">"
	"<flags id=\"i386_eflags\" size=\"4\">"
	FLAG("CF", 0) FLAG("", 1) FLAG("PF", 2) FLAG("AF", 4) FLAG("ZF", 6) FLAG("SF", 7)
	FLAG("TF", 8) FLAG("IF", 9) FLAG("DF", 10) FLAG("OF", 11) FLAG("NT", 14) FLAG("RF", 16)
	FLAG("VM", 17) FLAG("AC", 18) FLAG("VIF", 19) FLAG("VIP", 20) FLAG("ID", 21)
	"</flags>"
	R64("rax") R64("rbx") R64("rcx") R64("rdx") R64("rsi") R64("rdi")
	R("rbp", 64, "data_ptr") R("rsp", 64, "data_ptr")
	R64("r8") R64("r9") R64("r10") R64("r11") R64("r12") R64("r13") R64("r14") R64("r15")
	R("rip", 64, "code_ptr") R("eflags", 32, "i386_eflags")
	R32("cs") R32("ss") R32("ds") R32("es") R32("fs") R32("gs")
	R("st0", 80, "i387_ext") R("st1", 80, "i387_ext") R("st2", 80, "i387_ext")
	R("st3", 80, "i387_ext") R("st4", 80, "i387_ext") R("st5", 80, "i387_ext")
	R("st6", 80, "i387_ext") R("st7", 80, "i387_ext")
	RF("fctrl") RF("fstat") RF("ftag") RF("fiseg") RF("fioff") RF("foseg") RF("fooff")
	RF("fop")
	"</feature>"
	"<feature name=\"org.gnu.gdb.i386.sse\">"
	"<vector id=\"v4i32\" type=\"int32\" count=\"4\"/>"
	"<vector id=\"v2i64\" type=\"int64\" count=\"2\"/>"
	"<union id=\"vec128\"><field name=\"v4_int32\" type=\"v4i32\"/>"
	"<field name=\"v2_int64\" type=\"v2i64\"/><field name=\"uint128\" type=\"uint128\"/>"
	"</union>"
	R("xmm0", 128, "vec128") R("xmm1", 128, "vec128") R("xmm2", 128, "vec128")
	R("xmm3", 128, "vec128") R("xmm4", 128, "vec128") R("xmm5", 128, "vec128")
	R("xmm6", 128, "vec128") R("xmm7", 128, "vec128") R("xmm8", 128, "vec128")
	R("xmm9", 128, "vec128") R("xmm10", 128, "vec128") R("xmm11", 128, "vec128")
	R("xmm12", 128, "vec128") R("xmm13", 128, "vec128") R("xmm14", 128, "vec128")
	R("xmm15", 128, "vec128")
	"<reg name=\"mxcsr\" bitsize=\"32\" type=\"int\" group=\"vector\"/>"
	"</feature>"
	"<feature name=\"org.gnu.gdb.i386.segments\">"
	R64("fs_base") R64("gs_base")
	"</feature>"
	"<feature name=\"org.capsule.x86.control\">"
	R64("cr0") R64("cr2") R64("cr3") R64("cr4") R64("efer")
	"</feature>"
	"</target>";

const char *gdb_target_xml(void)
{
	return target_xml;
}
