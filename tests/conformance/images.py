#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Craft PV images that break one rule of docs/pv-abi.md "Image" each (R-IMG-*).

usage: images.py VARIANT GOOD.elf OUT [MEM_BYTES]

GOOD.elf is a correct conformance image (two PT_LOAD segments, text then data, and a
PT_NOTE holding the Capsule note); OUT is GOOD.elf with one thing changed. Variants that
grow the image print the address the image ends at, which the runner passes to the guest.
"""
import struct
import sys

EHDR = "<16sHHIQQQIHHHHHH"
PHDR = "<IIQQQQQQ"
PT_NULL, PT_LOAD, PT_NOTE = 0, 1, 4
PF_X = 1


class Elf:
    def __init__(self, data):
        self.d = bytearray(data)
        f = struct.unpack_from(EHDR, self.d, 0)
        (self.ident, self.type, self.machine, _, self.entry, self.phoff, _, _, _,
         self.phentsize, self.phnum, _, _, _) = f

    def ph(self, i):
        return list(struct.unpack_from(PHDR, self.d, self.phoff + 56 * i))

    def set_ph(self, i, ph):
        struct.pack_into(PHDR, self.d, self.phoff + 56 * i, *ph)

    def phs(self, ptype):
        return [i for i in range(self.phnum) if self.ph(i)[0] == ptype]

    def set16(self, off, v):
        struct.pack_into("<H", self.d, off, v)

    def set64(self, off, v):
        struct.pack_into("<Q", self.d, off, v)

    def note_off(self):
        return self.ph(self.phs(PT_NOTE)[0])[2]  # p_offset

    def append_phdrs(self, extra, pad):
        """Copy the program headers (plus `extra`) to the end of the file, `pad` bytes on."""
        table = b"".join(struct.pack(PHDR, *self.ph(i)) for i in range(self.phnum))
        table += b"".join(struct.pack(PHDR, *ph) for ph in extra)
        while len(self.d) % 8:
            self.d += b"\0"
        self.d += b"\0" * pad
        self.phoff = len(self.d)
        self.d += table
        self.phnum += len(extra)
        self.set64(32, self.phoff)
        self.set16(56, self.phnum)


def grow(e, end):
    """Make the data segment (the last PT_LOAD) end at `end`."""
    i = e.phs(PT_LOAD)[-1]
    ph = e.ph(i)
    ph[6] = end - ph[3]  # p_memsz = end - p_paddr
    e.set_ph(i, ph)


def main():
    variant, good, out = sys.argv[1:4]
    mem = int(sys.argv[4]) if len(sys.argv) > 4 else 64 << 20
    e = Elf(open(good, "rb").read())
    text, data = e.phs(PT_LOAD)[0], e.phs(PT_LOAD)[-1]
    note = e.note_off()
    printed = None

    if variant == "none":
        pass  # the good image, copied
    elif variant == "not-elf":
        e.d = bytearray(b"this is not an ELF file\n" * 4)
    elif variant == "elf32":
        e.d[4] = 1  # EI_CLASS = ELFCLASS32
    elif variant == "big-endian":
        e.d[5] = 2  # EI_DATA = ELFDATA2MSB
    elif variant == "machine":
        e.set16(18, 183)  # EM_AARCH64
    elif variant == "et-dyn":
        e.set16(16, 3)  # ET_DYN
    elif variant == "phentsize":
        e.set16(54, 32)
    elif variant == "phnum-0":
        e.set16(56, 0)
    elif variant == "phnum-65":
        e.append_phdrs([[PT_NULL, 0, 0, 0, 0, 0, 0, 0]] * (65 - e.phnum), 0)
    elif variant == "phoff-beyond":
        e.set64(32, len(e.d) - 8)
    elif variant == "phoff-misaligned":
        e.append_phdrs([], 4)
    elif variant == "note-section-only":
        i = e.phs(PT_NOTE)[0]
        ph = e.ph(i)
        ph[0] = PT_NULL  # the SHT_NOTE section stays; no PT_NOTE segment covers it
        e.set_ph(i, ph)
    elif variant == "note-bad-name":
        e.d[note + 12 + 6] = ord("f")  # "Capsulf"
    elif variant == "note-bad-type":
        struct.pack_into("<I", e.d, note + 8, 2)
    elif variant == "note-bad-namesz":
        struct.pack_into("<I", e.d, note, 7)  # "Capsule" without its NUL
    elif variant in ("note-v0", "note-v2"):
        struct.pack_into("<I", e.d, note + 20, int(variant[-1]))
    elif variant == "vaddr-garbage":
        for n, i in enumerate(e.phs(PT_LOAD)):
            ph = e.ph(i)
            ph[3] = 0xdead00000000 + n * 0x10000000  # p_vaddr: nonsense, and ignored
            e.set_ph(i, ph)
    elif variant == "entry-not-exec":
        e.set64(24, e.ph(data)[4])  # e_entry = the data segment's p_paddr
    elif variant == "seg-below-1m":
        ph = e.ph(text)
        ph[4] = 0xff000  # p_paddr
        e.set_ph(text, ph)
    elif variant == "seg-beyond-ram":
        grow(e, mem + 4096)
    elif variant == "filesz-gt-memsz":
        ph = e.ph(text)
        ph[5] = ph[6] + 1  # p_filesz = p_memsz + 1
        e.set_ph(text, ph)
    elif variant == "data-beyond-file":
        ph = e.ph(data)
        ph[2] = len(e.d)  # p_offset at the end of the file, p_filesz > 0
        e.set_ph(data, ph)
    elif variant == "overlap":
        ph = e.ph(data)
        ph[4] = e.ph(text)[4] + 16  # p_paddr inside the text segment
        e.set_ph(data, ph)
    elif variant == "no-load":
        for i in e.phs(PT_LOAD):
            ph = e.ph(i)
            ph[0] = PT_NULL
            e.set_ph(i, ph)
    elif variant == "memsz-zero-ignored":
        # An empty PT_LOAD far outside RAM: nothing to place, so no refusal.
        e.append_phdrs([[PT_LOAD, PF_X, 0, 0xdead0000, 0x7fff00000000, 0, 0, 4096]], 0)
    elif variant == "stack-room-exact":
        printed = mem - 0x10000  # the image ends where the initial stack begins
        grow(e, printed)
    elif variant == "stack-room-short":
        printed = mem - 0x10000 + 1
        grow(e, printed)
    else:
        sys.exit("images.py: unknown variant " + variant)
    open(out, "wb").write(e.d)
    if printed is not None:
        print("0x%x" % printed)


if __name__ == "__main__":
    main()
