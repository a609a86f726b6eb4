#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Working-set prefetch of a restore (docs/snapshot.md): a restored domain's touched pages
recorded into DIR/workingset ('capsule control SOCK working-set DIR'), prefetched on the next
restore from DIR, and every corrupted file refused with a warning while the restore goes on.
The guest (tests/guests/vwset.c) reads every fourth page of a 1 MiB buffer after a restore.

    tests/integration/workingset.py BUILD
"""
import json
import os
import re
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmrun  # noqa: E402
from vmmrun import Suite  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
CAPSULE = os.path.join(BUILD, "capsule")
VWSET = os.path.join(BUILD, "tests/guests/vwset.elf")
TMP = tempfile.mkdtemp(prefix="capsule-reap-")
PAGE = 4096
TICK = re.compile(rb"vwset: tick (\d+) gen (\d+)")


SUITE = Suite("workingset")
report = SUITE.report


def control(sock, *args):
    return vmmrun.control(CAPSULE, sock, *args)


class Domain(vmmrun.Domain):
    TICK = TICK

    def __init__(self, name, args):
        super().__init__(CAPSULE, TMP, name, args)

    def info(self):
        rc, out = control(self.sock, "info")
        try:
            return json.loads(out[out.index("{"):])
        except ValueError:
            return {"error": out}


def read_ws(path):
    """The ranges of a working-set file, checked as docs/snapshot.md describes it."""
    with open(path, "rb") as f:
        data = f.read()
    magic, version, page, mem, nr = struct.unpack_from("<8sIIQQ", data)
    assert magic == b"CAPSWSET" and version == 1 and page == PAGE, (magic, version, page)
    assert len(data) == 32 + 16 * nr, (len(data), nr)
    ranges = [struct.unpack_from("<QQ", data, 32 + 16 * i) for i in range(nr)]
    return mem, ranges


def write_ws(path, mem, ranges, nr=None, magic=b"CAPSWSET"):
    with open(path, "wb") as f:
        f.write(struct.pack("<8sIIQQ", magic, 1, PAGE, mem,
                            len(ranges) if nr is None else nr))
        for first, pages in ranges:
            f.write(struct.pack("<QQ", first, pages))


def restored_runs(d, last_tick):
    """The guest read its pages back right, and ticks on from the snapshot's point."""
    ok = d.wait_for(rb"vwset: touched \d+ pages from 0x[0-9a-f]+ ok") and \
        d.wait_for(rb"vwset: tick %d gen 1" % (last_tick + 5))
    after = d.ticks()
    return ok and after and after[0][0] == last_tick + 1 and b"bad page" not in d.output()


def main():
    snap = os.path.join(TMP, "snap")
    d = Domain("orig", [VWSET])
    d.wait_for(rb"vwset: tick 20 ")
    rc, out = control(d.sock, "save", snap)
    d.stop()
    last = d.ticks()[-1][0] if d.ticks() else -1
    m = re.search(rb"vwset: buffer 0x([0-9a-f]+) pages (\d+)", d.output())
    if rc or not m:
        report("setup", False, "save: %d %s; %r" % (rc, out, d.output()[-300:]))
        return
    buf, npages = int(m.group(1), 16) // PAGE, int(m.group(2))
    touched = set(buf + k for k in range(0, npages, 4))
    untouched = set(buf + k for k in range(npages) if k % 4)

    # Record: a restore without a working set, touched, then asked for its pages.
    r = Domain("record", ["--restore", snap])
    ran = restored_runs(r, last)
    rc, out = control(r.sock, "working-set", snap)
    r.stop()
    report("record-first-restore-runs", ran and b"prefetched" not in r.output(),
           r.output()[-300:])
    path = os.path.join(snap, "workingset")
    try:
        mem, ranges = read_ws(path)
    except (OSError, AssertionError, struct.error) as e:
        report("record", False, "%d %s: %r" % (rc, out, e))
        return
    pages = set(p for first, n in ranges for p in range(first, first + n))
    total = sum(n for _, n in ranges)
    sorted_apart = all(ranges[i][0] + ranges[i][1] < ranges[i + 1][0]
                       for i in range(len(ranges) - 1))
    report("record-file", rc == 0 and sorted_apart and not os.path.exists(path + ".part") and
           ('"pages":%d' % total) in out.replace(" ", "") and mem == os.path.getsize(
               os.path.join(snap, "memory")), "rc %d %s, %d ranges" % (rc, out, len(ranges)))
    report("record-has-every-touched-page", touched <= pages,
           "missing %r" % sorted(touched - pages)[:8])
    # A superset within a bound: the buffer's untouched pages come only through the
    # kernel's fault-around (16 pages), and the rest is the guest's code, stack and tables.
    extra = len(pages - touched - untouched)
    report("record-bounded", extra < 256 and total < len(touched) * 16 + 256,
           "%d pages, %d outside the buffer" % (total, extra))

    # Prefetch: the count reported is the file's, and the guest runs on correctly.
    p = Domain("prefetch", ["--restore", snap])
    ran = restored_runs(p, last)
    info = p.info()
    p.stop()
    m = re.search(rb"prefetched (\d+) pages of the working set", p.output())
    report("prefetch-count", m and int(m.group(1)) == total and
           info.get("prefetched_pages") == total,
           "log %r, info %r, file %d" % (m and m.group(0), info, total))
    report("prefetch-guest-runs", ran, p.output()[-300:])

    n = Domain("noprefetch", ["--restore", snap, "--no-prefetch"])
    ran = restored_runs(n, last)
    info = n.info()
    n.stop()
    report("no-prefetch", ran and b"prefetched" not in n.output() and
           info.get("prefetched_pages") == 0, "%r %r" % (info, n.output()[-200:]))

    # Hostile files: refused whole with a warning naming the problem; the restore goes on.
    mem_pages = mem // PAGE
    bad = {
        "bad-magic": (lambda f: write_ws(f, mem, ranges, magic=b"NOTAWSET"), "bad magic"),
        "truncated": (lambda f: (write_ws(f, mem, ranges), os.truncate(f, os.path.getsize(f) - 8)),
                      "truncated or absurd"),
        "past-memory": (lambda f: write_ws(f, mem, [(mem_pages - 2, 4)]), "past memory"),
        "overlapping": (lambda f: write_ws(f, mem, [(300, 10), (305, 10)]), "overlaps"),
        "empty-range": (lambda f: write_ws(f, mem, [(300, 0)]), "is empty"),
        "absurd-count": (lambda f: write_ws(f, mem, [(1, 1)], nr=1 << 60), "truncated or absurd"),
        "wrong-memory": (lambda f: write_ws(f, mem * 2, [(1, 1)]), "recorded for"),
    }
    for name, (make, want) in bad.items():
        dst = os.path.join(TMP, "bad-" + name)
        os.mkdir(dst)
        for f in ("state", "memory"):
            os.symlink(os.path.join(snap, f), os.path.join(dst, f))
        make(os.path.join(dst, "workingset"))
        b = Domain(name, ["--restore", dst])
        ran = restored_runs(b, last)
        b.stop()
        text = b.output()
        report("refused-" + name, ran and b"workingset refused" in text and
               want.encode() in text and b"prefetched" not in text, text[-400:])

    # Only a restored domain has a working set to record.
    f = Domain("fresh", [VWSET])
    f.wait_for(rb"vwset: tick 2 ")
    rc, out = control(f.sock, "working-set", TMP)
    f.stop()
    report("record-refused-fresh", rc != 0 and "restored from a snapshot" in out and
           not os.path.exists(os.path.join(TMP, "workingset")) and
           not os.path.exists(os.path.join(TMP, "workingset.part")), "%d %s" % (rc, out))


try:
    main()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
SUITE.end()
