#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Seed inputs for fuzz_virtio: one well-formed request per device, against the memory
layout of tests/fuzz/fuzz_virtio.c (control bytes, avail ring at 0x10, used at 0x100,
descriptors at 0x400, buffers from 0x800). libFuzzer mutates them from there, so it
reaches deep parser states (and addresses next to the VMM-owned range) within seconds.

  seeds.py DIR
"""
import os
import struct
import sys

BLK, NET, CONSOLE, RNG, BALLOON = range(5)
WRITE, NEXT = 2, 1


# Control byte 1 (tests/fuzz/fuzz_virtio.c): 1 event index, 2 indirect, 4 the network's
# offloads negotiated, 8 a disk's driver takes VIRTIO_BLK_F_MQ, 16 a reset with the requests
# in flight.
MQ, RESET = 8, 16


def seed(dev, queue, descs, buffers=(), flags=0):
    d = bytearray(0x1000)
    d[0:4] = bytes([len(descs).bit_length(), flags, dev, queue])  # queue size >= chain length
    struct.pack_into("<HHH", d, 0x10, 0, 1, 0)                  # avail: idx 1, ring[0] = 0
    for i, (addr, length, flags) in enumerate(descs):
        nxt = i + 1 if i + 1 < len(descs) else 0
        struct.pack_into("<QIHH", d, 0x400 + 16 * i, addr, length,
                         flags | (NEXT if i + 1 < len(descs) else 0), nxt)
    for addr, data in buffers:
        d[addr:addr + len(data)] = data
    return bytes(d)


seeds = {
    "rng": seed(RNG, 0, [(0x900, 64, WRITE)]),
    "blk-read": seed(BLK, 0, [(0x800, 16, 0), (0x900, 512, WRITE), (0xb00, 1, WRITE)],
                     [(0x800, struct.pack("<IIQ", 0, 0, 1))]),
    "blk-write": seed(BLK, 0, [(0x800, 16, 0), (0x900, 512, 0), (0xb00, 1, WRITE)],
                      [(0x800, struct.pack("<IIQ", 1, 0, 2))]),
    "blk-read-mq-queue3-reset": seed(BLK, 3, [(0x800, 16, 0), (0x900, 512, WRITE),
                                              (0xb00, 1, WRITE)],
                                     [(0x800, struct.pack("<IIQ", 0, 0, 1))], MQ | RESET),
    "blk-flush-queue1-no-mq": seed(BLK, 1, [(0x800, 16, 0), (0xb00, 1, WRITE)],
                                   [(0x800, struct.pack("<IIQ", 4, 0, 0))]),
    "balloon-inflate": seed(BALLOON, 0, [(0x800, 8, 0)],
                            [(0x800, struct.pack("<II", 0x10, 0x11))]),
    "console-tx": seed(CONSOLE, 1, [(0x800, 16, 0)], [(0x800, b"hello, console!\n")]),
    "net-tx": seed(NET, 1, [(0x800, 12 + 60, 0)]),
    # A TSO segment's header (control byte 1 bit 2: the offloads negotiated).
    "net-tso": seed(NET, 3, [(0x800, 12 + 54, 0), (0x900, 1460 * 2, 0)],
                    [(0x800, struct.pack("<BBHHHHH", 1, 1, 54, 1460, 34, 16, 0))], flags=4),
    # VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 2 on the control queue, and its ack.
    "net-ctrl": seed(NET, 4, [(0x800, 2, 0), (0x810, 2, 0), (0x820, 1, WRITE)],
                     [(0x800, bytes([4, 0])), (0x810, struct.pack("<H", 2))], flags=4),
}
os.makedirs(sys.argv[1], exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        f.write(data)
