#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Snapshots (docs/snapshot.md) of real domains: save and restore, live snapshots, chains,
HVM, and every corrupted snapshot refused. The PV guest (tests/guests/vsnap.c) ticks every
10 ms, pings its second vCPU, writes block N with N and prints each tick: after a restore
its ticks, blocks, events and console go on from the snapshot's point, and it sees the
generation counter change.

    tests/integration/snapshot.py BUILD
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmrun  # noqa: E402
from vmmrun import Suite  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
CAPSULE = os.path.join(BUILD, "capsule")
VSNAP = os.path.join(BUILD, "tests/guests/vsnap.elf")
VBLKASYNC = os.path.join(BUILD, "tests/guests/vblkasync.elf")
POWERBUTTON = os.path.join(BUILD, "tests/hvm/powerbutton.elf")
HIGHMEM = os.path.join(BUILD, "tests/hvm/highmem.elf32")
VMGENID = os.path.join(BUILD, "tests/hvm/vmgenid.elf")
PCI = os.path.join(BUILD, "tests/hvm/pci.elf32")
TMP = tempfile.mkdtemp(prefix="capsule-snap-")
TICK = re.compile(rb"vsnap: tick (\d+) ms (\d+) pongs (\d+) gen (\d+)")
SOAK = re.compile(rb"vblkasync: soak round (\d+) ok")


SUITE = Suite("snapshot")
report = SUITE.report


def control(sock, *args):
    return vmmrun.control(CAPSULE, sock, *args)


class Domain(vmmrun.Domain):
    TICK = TICK

    def __init__(self, name, args, timeout=60):
        super().__init__(CAPSULE, TMP, name, args, timeout)


def blocks_hold_their_numbers(img, last):
    """Block k (512 bytes) holds the 64-bit value k repeated, for every k <= last."""
    with open(img, "rb") as f:
        data = f.read((last + 1) * 512)
    for k in range(last + 1):
        words = struct.unpack_from("<64Q", data, k * 512)
        if any(w != k for w in words):
            return "block %d holds %r..." % (k, words[:2])
    return ""


def pv_save_restore():
    img = os.path.join(TMP, "vs.img")
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    snap = os.path.join(TMP, "s1")
    d = Domain("save", ["--vcpus", "2", "--disk", img, VSNAP])
    d.wait_ticks(30)
    rc, out = control(d.sock, "save", snap)
    status = d.wait()
    before = d.ticks()
    report("save-ends-domain", rc == 0 and status == 0 and b"saved" in d.output() and
           "pause_ms" in out and os.path.exists(os.path.join(snap, "state")) and
           not os.path.exists(os.path.join(snap, "state.part")),
           "rc %d status %d: %s" % (rc, status, out))
    r = Domain("restored", ["--restore", snap, "--timeout", "3"])
    status = r.wait()
    after = r.ticks()
    ok = before and after and after[0][0] == before[-1][0] + 1
    report("ticks-continue", ok and status == 124,
           "last before %r, first after %r, status %d" % (before[-1:], after[:1], status))
    # Domain time goes on from the snapshot: no jump (the save took a moment, no more).
    gap = after[0][1] - before[-1][1] if ok else -1
    report("domain-time-continues", ok and 0 <= gap < 500, "gap %d ms" % gap)
    report("events-continue", ok and after[0][2] == before[-1][2] + 1,
           "pongs %r then %r" % (before[-1:], after[:1]))
    report("generation-changes", b"generation 1 (was 0): restored" in r.output() and
           after and after[-1][3] == 1, r.output()[-300:])
    why = blocks_hold_their_numbers(img, after[-1][0]) if after else "no ticks"
    report("blocks-continue", why == "", why)
    # A snapshot of the restored domain, restored again: generation 2, ticks on.
    snap2 = os.path.join(TMP, "s2")
    r = Domain("restored2", ["--restore", snap])
    r.wait_ticks(len(r.ticks()) + 20)
    rc, out = control(r.sock, "save", snap2)
    r.wait()
    mid = r.ticks()
    r2 = Domain("restored3", ["--restore", snap2, "--timeout", "3"])
    r2.wait()
    last = r2.ticks()
    report("chain-of-restores", rc == 0 and last and last[0][0] == mid[-1][0] + 1 and
           last[-1][3] == 2, "rc %d %s; %r then %r" % (rc, out, mid[-1:], last[:1]))
    return snap


def pv_live_snapshot():
    img = os.path.join(TMP, "live.img")
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    snap = os.path.join(TMP, "live")
    d = Domain("live", ["--vcpus", "2", "--disk", img, VSNAP])
    d.wait_ticks(20)
    rc, out = control(d.sock, "snapshot", snap)
    at = len(d.ticks())
    went_on = d.wait_ticks(at + 20)
    m = re.search(r'"pause_ms":([0-9.]+)', out)
    report("live-domain-runs-on", rc == 0 and went_on and d.p.poll() is None and m,
           "rc %d %s; ticks %d then %d" % (rc, out, at, len(d.ticks())))
    # Paused domains can be snapshotted and stay paused.
    control(d.sock, "pause")
    rc, out = control(d.sock, "snapshot", os.path.join(TMP, "paused"))
    n = len(d.ticks())
    time.sleep(0.3)
    _, info = control(d.sock, "info")
    report("paused-stays-paused", rc == 0 and len(d.ticks()) == n and '"paused"' in info,
           "%s %s" % (out, info))
    control(d.sock, "resume")
    d.stop()
    # The copy goes on from the snapshot's point, not from where the original ended.
    snap_tick = None
    r = Domain("live-restored", ["--restore", snap, "--timeout", "3"])
    r.wait()
    after = r.ticks()
    before = [t for t in d.ticks() if after and t[0] < after[0][0]]
    snap_tick = before[-1][0] if before else None
    report("live-restore-from-snapshot-point", after and snap_tick is not None and
           after[0][0] == snap_tick + 1 and after[0][0] < d.ticks()[-1][0],
           "original ended at %r, copy starts at %r" % (d.ticks()[-1:], after[:1]))


def hvm():
    snap = os.path.join(TMP, "hvm")
    d = Domain("hvm", ["--mem", "64", "--cmdline", "press", POWERBUTTON])
    deadline = time.time() + 10
    while b"powerbutton: waiting" not in d.output() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    rc, out = control(d.sock, "save", snap)
    status = d.wait()
    r = Domain("hvm-restored", ["--restore", snap])
    time.sleep(0.5)
    rc2, out2 = control(r.sock, "shutdown", "10")
    status2 = r.wait()
    text = r.output()
    m = re.search(rb"(\d+) interrupt\(s\) after (\d+) ticks", text)
    # The LAPIC timer, the IOAPIC route of the GED's GSI, the serial port and the GED
    # came back: the button reaches the kernel, which powers off through S5.
    ev = re.search(rb"events 0x([0-9a-f]+), then", text)
    # ... and, before the button, the GED's notice of a new VM generation ID (bit 1).
    report("hvm-save-restore", rc == 0 and status == 0 and rc2 == 0 and status2 == 0 and
           b"Test result: SUCCESS" in text and m and int(m.group(2)) >= 50 and ev and
           int(ev.group(1), 16) == 3,
           "save %d/%d %s; restored %d/%d %s: %r" % (rc, status, out, rc2, status2, out2,
                                                     text[-400:]))


def pv_blk_in_flight():
    """A disk of four queues with reads always in flight (tests/guests/vblkasync.c soak,
    O_DIRECT): the save waits for every one and completes it (docs/virtio.md), so the
    restored copy finds its four queues' rings whole and goes on from its round, every
    byte right."""
    img = os.path.join(TMP, "stamp.img")
    subprocess.run([os.path.join(os.path.dirname(os.path.abspath(__file__)), "stamp_disk.py"),
                    img, "128"], check=True)
    snap = os.path.join(TMP, "blk-soak")
    disk = ["--disk", img + ",queues=4,direct=on"]
    d = Domain("soak", disk + ["--cmdline", "4 soak", VBLKASYNC])
    d.wait_for(rb"soak round 5 ok")
    rc, out = control(d.sock, "save", snap)
    status = d.wait()
    before = [int(x) for x in SOAK.findall(d.output())]
    r = Domain("soak-restored", ["--restore", snap, "--timeout", "5"])
    status2 = r.wait()
    after = [int(x) for x in SOAK.findall(r.output())]
    ok = before and after and after[0] == before[-1] + 1 and len(after) >= 3
    report("blk-in-flight-drained-at-save", rc == 0 and status == 0 and ok and status2 == 124 and
           b"FAILURE" not in r.output(),
           "rc %d status %d/%d: rounds %r then %r: %s" % (rc, status, status2, before[-1:],
                                                           after[:1], r.output()[-300:]))


def wait_for(d, text, limit=20):
    deadline = time.time() + limit
    while text not in d.output() and time.time() < deadline and d.p.poll() is None:
        time.sleep(0.05)
    return text in d.output()


def word_at(path, off):
    with open(path, "rb") as f:
        f.seek(off)
        return struct.unpack("<Q", f.read(8))[0]


def hvm_highmem():
    """An HVM domain with RAM above 4 GiB (tests/hvm/highmem.c): a full snapshot and a diff
    hold the high pages at their guest-physical offsets, the PCI hole is a hole in the
    memory file, and a restored copy finds its memory and goes on."""
    full, diff = os.path.join(TMP, "hm-full"), os.path.join(TMP, "hm-diff")
    args = ["--mem", "4608", "--cmdline", "low=3072 high=1536 snap", HIGHMEM]
    d = Domain("hm", args)
    ok1 = wait_for(d, b"written, waiting")
    rc1, out1 = control(d.sock, "snapshot", full)
    rc2, _ = control(d.sock, "shutdown", "30")  # the first press: the guest writes again
    ok2 = wait_for(d, b"rewritten, waiting")
    rc3, out3 = control(d.sock, "snapshot", diff, "--diff")
    d.stop()
    mem = os.path.join(full, "memory")
    first = lambda salt, gpa: gpa ^ salt
    size = os.path.getsize(mem) if os.path.exists(mem) else 0
    used = os.stat(mem).st_blocks * 512 if size else -1
    report("hvm-highmem-snapshot", ok1 and ok2 and rc1 == 0 and rc2 == 0 and rc3 == 0,
           "%s %s %s: %r" % (out1, rc2, out3, d.output()[-300:]))
    # guest-physical order: RAM to 3 GiB, the hole (no data) to 4 GiB, RAM to 5.5 GiB
    with open(mem, "rb") as f:
        data_after_hole = os.lseek(f.fileno(), 3 << 30, os.SEEK_DATA) if size else 0
    report("hvm-highmem-memory-file", size == (4608 + 1024) << 20 and used < (64 << 20) and
           data_after_hole >= 4 << 30 and
           word_at(mem, 4 << 30) == first(0x5a5aa5a5c3c33c3c, 4 << 30) and
           word_at(mem, (4 << 30) + (1536 << 20) - 4096) ==
           first(0x5a5aa5a5c3c33c3c, (4 << 30) + (1536 << 20) - 4096),
           "size %d, %d bytes used, data after 3 GiB at 0x%x" % (size, used, data_after_hole))
    dmem = os.path.join(diff, "memory")
    report("hvm-highmem-diff-has-high-pages", os.path.exists(dmem) and
           word_at(dmem, 4 << 30) == first(0x0123456789abcdef, 4 << 30) and
           word_at(dmem, (4 << 30) + (768 << 20)) ==
           first(0x0123456789abcdef, (4 << 30) + (768 << 20)), out3)
    r = Domain("hm-restored", ["--restore", full])
    time.sleep(0.5)  # it waits where the snapshot was taken: its output starts after that
    ok3 = r.p.poll() is None
    control(r.sock, "shutdown", "30")
    ok4 = wait_for(r, b"rewritten, waiting")
    control(r.sock, "shutdown", "30")
    status = r.wait()
    text = r.output()
    report("hvm-highmem-restore", ok3 and ok4 and status == 1 and
           b"the second patterns read back" in text and
           text.rstrip().endswith(b"Test result: SUCCESS"), "status %d: %r" % (status, text[-400:]))


def hvm_vmgenid(acpi):
    """The VM generation ID (tests/hvm/vmgenid.c): each restore of one saved state gets a
    new ID and the GED's notification, in both ACPI profiles."""
    snap = os.path.join(TMP, "vg-" + acpi)
    d = Domain("vg-" + acpi, ["--mem", "64", "--acpi", acpi, VMGENID])
    ok = wait_for(d, b"vmgenid: waiting")
    rc, out = control(d.sock, "save", snap)
    d.wait()
    ids = re.findall(rb"vmgenid: id ([0-9a-f]{32})", d.output())
    for i in (1, 2):
        r = Domain("vg-%s-%d" % (acpi, i), ["--restore", snap])
        status = r.wait()
        text = r.output()
        ids += re.findall(rb"vmgenid: new id ([0-9a-f]{32})", text)
        ok = ok and status == 1 and text.rstrip().endswith(b"Test result: SUCCESS")
    report("hvm-vmgenid-" + acpi, ok and rc == 0 and len(ids) == 3 and len(set(ids)) == 3,
           "%s ids %r: %r" % (out, ids, d.output()[-200:]))


def hvm_virtio_pci():
    """tests/hvm/pci.c drives a virtio-pci disk with MSI-X, is saved while it waits, and
    its restored copy drives the disk again: BARs, queue, vectors and table came back."""
    snap, img = os.path.join(TMP, "vpci"), os.path.join(TMP, "vpci.img")
    with open(img, "wb") as f:
        f.write(b"CAPSULE-PCI-DISK")
    os.truncate(img, 1 << 20)
    d = Domain("vpci", ["--mem", "64", "--virtio-pci", "--disk", img, "--cmdline",
                        "blk sectors=2048 snap", PCI])
    ok = wait_for(d, b"pci: waiting for the power button")
    rc, out = control(d.sock, "save", snap)
    d.wait()
    r = Domain("vpci-restored", ["--restore", snap])
    time.sleep(0.5)
    control(r.sock, "shutdown", "30")
    status = r.wait()
    text = r.output()
    with open(img, "rb") as f:
        f.seek(2 * 512)
        sector2 = f.read(512)
    report("hvm-virtio-pci-msix-restore", ok and rc == 0 and status == 1 and
           text.rstrip().endswith(b"Test result: SUCCESS") and
           sector2 == bytes((i * 5 + 1) & 0xff for i in range(512)),
           "%s: status %d: %r" % (out, status, text[-400:]))


def refused(name, snap, want):
    p = subprocess.run(["timeout", "-k", "5", "30", CAPSULE, "run", "--restore", snap],
                       capture_output=True)
    err = p.stderr.decode()
    report("refused-" + name, p.returncode == 125 and re.search(want, err) and
           b"vsnap:" not in p.stdout, "status %d: %s" % (p.returncode, err[-300:]))


def corrupted(good):
    def copy(name):
        dst = os.path.join(TMP, "bad-" + name)
        shutil.copytree(good, dst)
        return dst

    state = lambda d: os.path.join(d, "state")
    d = copy("flip")
    with open(state(d), "r+b") as f:
        f.seek(4000)
        b = f.read(1)
        f.seek(4000)
        f.write(bytes([b[0] ^ 0x40]))
    refused("flipped-byte", d, "checksum mismatch|malformed|out of range")
    d = copy("trunc")
    os.truncate(state(d), os.path.getsize(state(d)) - 100)
    refused("truncated", d, "truncated")
    d = copy("version")
    with open(state(d), "r+b") as f:
        f.seek(8)
        f.write(struct.pack("<I", 99))
    refused("newer-version", d, "format version 99")
    d = copy("magic")
    with open(state(d), "r+b") as f:
        f.write(b"NOTASNAP")
    refused("bad-magic", d, "not a Capsule snapshot")
    d = copy("memsize")
    os.truncate(os.path.join(d, "memory"), 1 << 20)
    refused("memory-size", d, "bytes of memory")
    d = copy("nomem")
    os.unlink(os.path.join(d, "memory"))
    refused("memory-missing", d, "memory: No such file")
    refused("not-a-directory", os.path.join(TMP, "nothing-here"), "state: No such file")
    d = copy("vcpus")
    p = subprocess.run(["timeout", "-k", "5", "30", CAPSULE, "run", "--restore", d,
                        "--vcpus", "1"], capture_output=True)
    report("refused-config-mismatch", p.returncode == 125 and b"vsnap:" not in p.stdout,
           "status %d: %s" % (p.returncode, p.stderr.decode()[-200:]))


def no_descriptors():
    d = Domain("nofd", [VSNAP.replace("vsnap", "ticker")])
    time.sleep(0.5)
    p = subprocess.run(["curl", "-s", "--unix-socket", d.sock, "-X", "PUT", "-d", "{}",
                        "http://x/api/v1/vm.snapshot"], capture_output=True, timeout=20)
    body = p.stdout.decode()
    rc, info = control(d.sock, "info")
    report("api-needs-descriptors", "two descriptors" in body and '"running"' in info,
           body + info)
    d.stop()


try:
    good = pv_save_restore()
    pv_live_snapshot()
    pv_blk_in_flight()
    hvm()
    hvm_highmem()
    hvm_vmgenid("reduced")
    hvm_vmgenid("full")
    hvm_virtio_pci()
    corrupted(good)
    no_descriptors()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
SUITE.end()
