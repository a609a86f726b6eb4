#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Check a disk written by tests/guests/vseq.elf against the last line it acknowledged.

  vseq.py DISK LOG   exit 0 if every acknowledged block holds what the guest wrote

The guest writes 4 KiB blocks whose every 8-byte word is (generation << 32 | block) and,
after each flushed batch, prints "acked G N": blocks 0..N-1 hold generation G (or G+1 once
the next pass rewrote them) and blocks from N on hold G-1 (or G, if the VMM died writing them).
"""
import struct
import sys

BLOCK = 4096
disk, log = sys.argv[1], sys.argv[2]
acked = [l.split() for l in open(log, errors="replace") if l.startswith("acked ")]
acked = [(int(g), int(n)) for _, g, n in (a for a in acked if len(a) == 3)]
if not acked:
    print("vseq: nothing was acknowledged")
    sys.exit(0)
gen, n = acked[-1]
data = open(disk, "rb").read()
bad = []
for blk in range(len(data) // BLOCK):
    words = struct.unpack("<%dQ" % (BLOCK // 8), data[blk * BLOCK:(blk + 1) * BLOCK])
    # An acknowledged block holds generation G, or G+1 if the next pass has rewritten it
    # since (not yet acknowledged); a later block holds G-1 or G (or 0 before pass 1).
    want = ({(gen << 32) | blk, ((gen + 1) << 32) | blk} if blk < n else
            {((gen - 1) << 32) | blk, (gen << 32) | blk})
    if blk >= n and gen == 1:
        want.add(0)
    if not set(words) <= want:
        bad.append(blk)
print("vseq: acked generation %d up to block %d; %d acknowledged blocks lost%s" %
      (gen, n, len([b for b in bad if b < n]), "; other damage at %s" % bad[:5] if bad else ""))
sys.exit(1 if bad else 0)
