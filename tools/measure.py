#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Recompute a Capsule launch measurement (docs/measured-launch.md) from the files and the
configuration a domain was meant to boot, independently of the VMM: what a remote verifier
runs before it trusts a signed statement (capsule attest).

    tools/measure.py IMAGE [--cmdline TEXT] [--initrd FILE] [--kind pv|hvm] [--mem MIB]
                     [--vcpus N] [--acpi reduced|full] [--virtio-pci] [--cpu MODEL]
                     [--device KIND]...    prints the measurement (hex)
    tools/measure.py ... --events           prints each event's digest as well
"""
import argparse
import hashlib
import struct
import sys


def event(name, data):
    """D = SHA-256(name || 0x00 || le64(len) || data)"""
    return hashlib.sha256(name.encode() + b"\0" + struct.pack("<Q", len(data)) + data).digest()


def config_text(kind, mem, vcpus, acpi, virtio_pci, cpu, devices):
    text = "kind=%s\nmem_mib=%d\nvcpus=%d\nacpi=%s\nvirtio_pci=%d\ncpu=%s\n" % (
        kind, mem, vcpus, acpi, 1 if virtio_pci else 0, cpu or "")
    return text + "".join("device=%s\n" % d for d in devices)


def measure(image, cmdline, initrd, config):
    """The events in order, each extended into a 32-byte value that starts as zeros."""
    events = [("image", event("image", image)), ("cmdline", event("cmdline", cmdline)),
              ("initrd", event("initrd", initrd)), ("config", event("config", config))]
    value = bytes(32)
    for _, d in events:
        value = hashlib.sha256(value + d).digest()
    return value, events


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("image")
    ap.add_argument("--cmdline", default="")
    ap.add_argument("--initrd")
    ap.add_argument("--kind", choices=["pv", "hvm"], default="pv")
    ap.add_argument("--mem", type=int, default=64)
    ap.add_argument("--vcpus", type=int, default=1)
    ap.add_argument("--acpi", choices=["reduced", "full"], default="reduced")
    ap.add_argument("--virtio-pci", action="store_true")
    ap.add_argument("--cpu", default="")
    ap.add_argument("--device", action="append", default=[])
    ap.add_argument("--events", action="store_true")
    a = ap.parse_args()
    image = open(a.image, "rb").read()
    initrd = open(a.initrd, "rb").read() if a.initrd else b""
    config = config_text(a.kind, a.mem, a.vcpus, a.acpi, a.virtio_pci, a.cpu, a.device)
    value, events = measure(image, a.cmdline.encode(), initrd, config.encode())
    print(value.hex())
    if a.events:
        for name, d in events:
            print("%s %s" % (name, d.hex()))


if __name__ == "__main__":
    sys.exit(main())
