#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Disk images for the virtio-blk tests.

  disk.py make PATH         8192 sectors: sector s < 4096 holds (s*31 + i) & 0xff, the rest 0
  disk.py check PATH MODE   exit 0 if the image is as the guest must have left it:
                            rw: second half (s*17 + i + 5), sectors 100-199 and 300-309 zero
                            ro: exactly as made
                            flushed: second half (s*17 + i + 5), first half as made
"""
import sys

SECTORS, HALF = 8192, 4096


def made(s):
    return bytes(((s * 31 + i) & 0xFF) for i in range(512)) if s < HALF else bytes(512)


def written(s):
    return bytes(((s * 17 + i + 5) & 0xFF) for i in range(512))


def expected(mode, s):
    if mode == "ro":
        return made(s)
    if mode == "rw" and (100 <= s < 200 or 300 <= s < 310):
        return bytes(512)
    return written(s) if s >= HALF else made(s)


cmd, path = sys.argv[1], sys.argv[2]
if cmd == "make":
    with open(path, "wb") as f:
        for s in range(SECTORS):
            f.write(made(s))
    sys.exit(0)
data = open(path, "rb").read()
bad = [s for s in range(SECTORS) if data[s * 512:(s + 1) * 512] != expected(sys.argv[3], s)]
print("disk: %d sectors differ from what the guest must have left%s" %
      (len(bad), (" (first: %d)" % bad[0]) if bad else ""))
sys.exit(1 if bad else 0)
