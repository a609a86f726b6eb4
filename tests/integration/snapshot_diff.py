#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Diff snapshots (docs/snapshot.md): a full snapshot of the vsnap guest (tests/guests/
vsnap.c: ticks, events between vCPUs, a block written per tick, console), three diffs while
it runs, and at the last diff's point, with the domain paused, a full snapshot too. The
chain merged (capsule snapshot-merge) must equal the full one: the memory byte for byte,
the state record for record but for what is a clock (the domain record's times, the KVM
clock, the TSC MSR) and the snapshot's own id. The merged snapshot restored runs on from
that point. Refusals: a first diff, a diff restored as it is, a chain out of order.
The chain is taken while the write working-set sampler reads the same dirty log every
50 ms (include/capsule/dirty.h: two users of one log; tests/integration/wss.py has the
guest that writes each page once per interval, which a stolen page would fail).

    tests/integration/snapshot_diff.py BUILD
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
from unixhttp import get_json  # noqa: E402
from vmmrun import Suite  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
CAPSULE = os.path.join(BUILD, "capsule")
VSNAP = os.path.join(BUILD, "tests/guests/vsnap.elf")
TMP = tempfile.mkdtemp(prefix="capsule-diff-")
TICK = re.compile(rb"vsnap: tick (\d+) ms (\d+) pongs (\d+) gen (\d+)")

SNAP_DOMAIN, SNAP_VCPU, SNAP_VM, SNAP_PV, SNAP_CHAIN, SNAP_PAGES, SNAP_END = \
    2, 3, 4, 5, 8, 9, 0xffff
PV_TIMER_DEADLINE, PV_TIMER_DEADLINE_END = 10240, 10752  # struct snap_pv.timer_deadline
KVM_CLOCK_DATA = 48   # struct kvm_clock_data, the last field of struct vm_kvm_state
MSR_IA32_TSC = 0x10
VCPU_MSRS = 6184      # offsetof(struct vcpu_kvm_state, msrs): after KVM's uapi structures
LAPIC_TMCCT = 5096 + 0x390  # the LAPIC timer's current count (struct vcpu_kvm_state.lapic)
SNAP_PLATFORM = 7
POWERBUTTON = os.path.join(BUILD, "tests/hvm/powerbutton.elf")


SUITE = Suite("snapshot-diff")
report = SUITE.report


def capsule(*args):
    p = subprocess.run([CAPSULE] + list(args), capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode() + p.stderr.decode()


def records(path):
    """The state stream's records as [(type, flags, body)], END excluded."""
    with open(path, "rb") as f:
        data = f.read()
    off, out = 32, []
    while True:
        t, fl, n = struct.unpack_from("<IIQ", data, off)
        if t == SNAP_END:
            return data[:32], out
        out.append((t, fl, data[off + 16:off + 16 + n]))
        off += 16 + ((n + 7) & ~7)


def without_clocks(t, body):
    """A record with what is a clock blanked: domain time and UTC, the KVM clock, the TSC,
    and the PV timers' deadlines: domain time runs on while a domain is paused, so a timer
    may fire (deadline 0) between the two snapshots taken in one pause; for HVM, the LAPIC
    timer's current count and the ACPI PM timer's state."""
    if t == SNAP_PLATFORM and body[8:16] == b"acpi-pm\0":
        return body[:24]
    if t == SNAP_PV:
        return body[:PV_TIMER_DEADLINE] + body[PV_TIMER_DEADLINE_END:]
    if t == SNAP_DOMAIN:
        return body[:16]
    if t == SNAP_VM:
        return body[:-KVM_CLOCK_DATA]
    if t == SNAP_VCPU:
        b = bytearray(body)
        nr = struct.unpack_from("<I", b, 12)[0]
        for i in range(nr):
            if struct.unpack_from("<I", b, VCPU_MSRS + 16 * i)[0] == MSR_IA32_TSC:
                b[VCPU_MSRS + 16 * i + 8:VCPU_MSRS + 16 * i + 16] = bytes(8)
        b[LAPIC_TMCCT:LAPIC_TMCCT + 4] = bytes(4)
        return bytes(b)
    return body


def compare_states(a, b):
    ha, ra = records(a)
    hb, rb = records(b)
    if ha != hb:
        return "headers differ"
    if [r[0] for r in ra] != [r[0] for r in rb]:
        return "record types differ: %r / %r" % ([r[0] for r in ra], [r[0] for r in rb])
    for i, ((t, fa, x), (_, fb, y)) in enumerate(zip(ra, rb)):
        if t == SNAP_CHAIN:
            if x[16:] != y[16:]:  # no parent, depth 0, both
                return "chain records differ beyond the id"
            continue
        if fa != fb or without_clocks(t, x) != without_clocks(t, y):
            xs, ys = without_clocks(t, x), without_clocks(t, y)
            at = next((k for k in range(min(len(xs), len(ys))) if xs[k] != ys[k]), -1)
            return "record %d (type %d) differs at byte %d" % (i, t, at)
    return ""


class Domain(vmmrun.Domain):
    TICK = TICK

    def __init__(self, name, args, timeout=60):
        super().__init__(CAPSULE, TMP, name, args, timeout)

    def control(self, *args):
        return capsule("control", self.sock, *args)


def blocks_hold_their_numbers(img, last):
    with open(img, "rb") as f:
        data = f.read((last + 1) * 512)
    for k in range(last + 1):
        if any(w != k for w in struct.unpack_from("<64Q", data, k * 512)):
            return "block %d is wrong" % k
    return ""


def main():
    img = os.path.join(TMP, "disk.img")
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    p = lambda name: os.path.join(TMP, name)
    d = Domain("src", ["--vcpus", "2", "--disk", img, "--wss-period", "50", "--wss-sample",
                       "4096", VSNAP])
    d.wait_ticks(10)
    rc, out = d.control("snapshot", p("early"), "--diff")
    report("first-diff-refused", rc != 0 and "take a full snapshot first" in out, out)
    rc, out = d.control("snapshot", p("base"))
    report("full", rc == 0, out)
    sizes = []
    for i in (1, 2, 3):
        d.wait_ticks(len(d.ticks()) + 15)
        if i == 3:
            d.control("pause")
        rc, out = d.control("snapshot", p("d%d" % i), "--diff")
        m = re.search(r'"pages":(\d+)', out)
        sizes.append(int(m.group(1)) if m else -1)
        report("diff-%d" % i, rc == 0 and m and int(m.group(1)) > 0, out)
    rc, out = d.control("snapshot", p("ref"))
    report("reference-full", rc == 0, out)
    w = get_json(d.sock, "/api/v1/vm.wss")
    report("sampled-meanwhile", w.get("state") == "sampling" and w.get("periods", 0) >= 5,
           w)
    at = d.ticks()[-1][0]
    d.control("resume")
    went_on = d.wait_ticks(len(d.ticks()) + 10)
    report("source-runs-on", went_on and d.p.poll() is None, "ticks %d" % len(d.ticks()))
    d.stop()
    # A diff holds only its pages: its memory file is mostly holes.
    used = os.stat(p("d2") + "/memory").st_blocks * 512
    report("diff-is-sparse", used <= (sizes[1] + 16) * 4096,
           "%d bytes on disk for %d pages" % (used, sizes[1]))
    # Merged out of order, or from a diff: refused, nothing written.
    rc, out = capsule("snapshot-merge", p("base"), p("d2"), p("d1"), p("bad"))
    report("merge-out-of-order-refused", rc != 0 and "follows snapshot" in out and
           not os.path.exists(p("bad") + "/state"), out)
    rc, out = capsule("snapshot-merge", p("d1"), p("d2"), p("bad"))
    report("merge-from-diff-refused", rc != 0 and "chain starts at a full one" in out, out)
    r = subprocess.run(["timeout", "-k", "5", "20", CAPSULE, "run", "--restore", p("d3")],
                       capture_output=True)
    report("restore-of-diff-refused", r.returncode == 125 and b"snapshot-merge" in r.stderr,
           r.stderr.decode()[-300:])
    rc, out = capsule("snapshot-merge", p("base"), p("d1"), p("d2"), p("d3"), p("merged"))
    report("merge", rc == 0, out)
    with open(p("merged") + "/memory", "rb") as f:
        merged = f.read()
    with open(p("ref") + "/memory", "rb") as f:
        ref = f.read()
    with open(p("base") + "/memory", "rb") as f:
        base = f.read()
    diff_at = next((i for i in range(0, len(ref), 4096) if merged[i:i + 4096] !=
                    ref[i:i + 4096]), None) if merged != ref else None
    report("memory-equals-full", merged == ref and base != ref,
           "first differing page at %r (sizes %d, %d)" % (diff_at, len(merged), len(ref)))
    why = compare_states(p("merged") + "/state", p("ref") + "/state")
    report("state-equals-full", why == "", why)
    # The merged snapshot runs on from the chain's last point.
    r = Domain("merged", ["--restore", p("merged"), "--timeout", "3"])
    r.p.wait(timeout=30)
    after = r.ticks()
    report("merged-restores-and-runs", after and after[0][0] == at + 1 and len(after) > 20 and
           after[-1][3] == 1, "snapshot at tick %d, restored %r..%r: %s" %
           (at, after[:1], after[-1:], open(r.out, "rb").read()[-300:]))
    why = blocks_hold_their_numbers(img, after[-1][0]) if after else "no ticks"
    report("merged-blocks-continue", why == "", why)


def hvm():
    """The same for an HVM test kernel (LAPIC timer, IOAPIC, GED, UART): a chain of two
    diffs merged equals the full snapshot; the merge restores and powers off on the
    button."""
    p = lambda name: os.path.join(TMP, "hvm-" + name)
    d = Domain("hvm", ["--mem", "64", "--cmdline", "press", POWERBUTTON])
    deadline = time.time() + 10
    while b"powerbutton: waiting" not in open(d.out, "rb").read() and time.time() < deadline:
        time.sleep(0.05)
    rc1 = d.control("snapshot", p("base"))[0]
    time.sleep(0.3)
    rc2 = d.control("snapshot", p("d1"), "--diff")[0]
    d.control("pause")
    rc3 = d.control("snapshot", p("d2"), "--diff")[0]
    rc4 = d.control("snapshot", p("ref"))[0]
    d.stop()
    rc, out = capsule("snapshot-merge", p("base"), p("d1"), p("d2"), p("merged"))
    same = rc == 0 and open(p("merged") + "/memory", "rb").read() == \
        open(p("ref") + "/memory", "rb").read()
    why = compare_states(p("merged") + "/state", p("ref") + "/state") if rc == 0 else out
    report("hvm-merged-equals-full", rc1 == rc2 == rc3 == rc4 == 0 and same and why == "",
           "rcs %r, memory %s, %s" % ((rc1, rc2, rc3, rc4), same, why))
    r = Domain("hvm-merged", ["--restore", p("merged")])
    time.sleep(0.5)
    rc, out = r.control("shutdown", "10")
    try:
        status = r.p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        status = r.stop()
    text = open(r.out, "rb").read()
    report("hvm-merged-restores", rc == 0 and status == 0 and b"Test result: SUCCESS" in text,
           "%s status %d %r" % (out, status, text[-300:]))


try:
    main()
    hvm()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
SUITE.end()
