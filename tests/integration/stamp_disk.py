#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""stamp_disk.py PATH MIB: an image whose sector s holds the 64-bit word s, 64 times, written
through and then dropped from the host's page cache (tests/guests/vblkasync.c reads it: a
read of it is slow until cached)."""
import os
import struct
import sys

path, mib = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    for chunk in range(mib):
        base = chunk * 2048
        f.write(b"".join(struct.pack("<Q", base + s) * 64 for s in range(2048)))
    f.flush()
    os.fsync(f.fileno())
    os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
