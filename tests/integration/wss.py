#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The sampled write working set (docs/resources.md, include/capsule/wss.h): a domain that
writes half its memory every period reads 0.3 to 0.7, an idle one and one that filled its
memory once and stopped writing below 0.1, one writing nearly all of it above 0.8; the
numbers in GET vm.wss, vm.counters and /metrics; --no-wss turns it off; a watch
(introspection) takes the memory slots and stops it for the boot.
Coexistence with the other user of the dirty log (include/capsule/dirty.h): a diff-snapshot
chain of tests/guests/vdirty.c (each of its 4096 pages written once per cycle, stamped, and
checked against a table) taken while the sampler reads the log every 50 ms merges into
exactly the full snapshot's memory, and restored verifies every page: a page bit the
sampler took from the tracker would leave a stale page there.

With 256 pages a sample, one period's standard deviation is at most 0.031: the bounds are
more than 6 of them wide (tests/unit/test_wss.c draws 2000 periods within them).

    tests/integration/wss.py BUILD
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmrun  # noqa: E402
from unixhttp import UnixHTTP, get_json  # noqa: E402
from vmmrun import Suite  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
CAPSULE = os.path.join(BUILD, "capsule")
VPOLICY = os.path.join(BUILD, "tests/guests/vpolicy.elf")
VDIRTY = os.path.join(BUILD, "tests/guests/vdirty.elf")
TMP = tempfile.mkdtemp(prefix="capsule-wss-")
SUITE = Suite("wss")
report = SUITE.report
PERIOD_MS = 200


def get(sock, path, method="GET", body=None):
    c = UnixHTTP(sock, timeout=10)
    c.request(method, path, body=json.dumps(body) if body is not None else None)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def wss(sock):
    return get_json(sock, "/api/v1/vm.wss")


def domain(name, use, *more):
    d = vmmrun.Domain(CAPSULE, TMP, name, ["-m", "128", "--balloon", "0", "--wss-period",
                                           str(PERIOD_MS), "-p", "use=%d %s" % (
                                               use, " ".join(more)), VPOLICY])
    deadline = time.time() + 20
    while b"vpolicy: ready" not in d.output() and time.time() < deadline:
        time.sleep(0.05)
    return d


def settled(d, periods=12):
    """The report once the averages have seen `periods` periods after the guest's start."""
    deadline = time.time() + 30
    w = wss(d.sock)
    start = w.get("periods", 0)
    while w.get("periods", 0) < start + periods and time.time() < deadline:
        time.sleep(0.1)
        w = wss(d.sock)
    return w


def capsule(*args):
    p = subprocess.run([CAPSULE] + list(args), capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode() + p.stderr.decode()


def diff_chain_while_sampling():
    p = lambda name: os.path.join(TMP, name)
    d = vmmrun.Domain(CAPSULE, TMP, "chain", ["-m", "64", "--wss-period", "50",
                                              "--wss-sample", "16384", "-p", "80", VDIRTY])
    time.sleep(1)
    ok = capsule("control", d.sock, "snapshot", p("base"))[0] == 0
    for i in (1, 2, 3):
        time.sleep(0.4)
        if i == 3:
            ok = ok and capsule("control", d.sock, "pause")[0] == 0
        rc, out = capsule("control", d.sock, "snapshot", p("d%d" % i), "--diff")
        ok = ok and rc == 0
    rc, out = capsule("control", d.sock, "snapshot", p("ref"))
    w = wss(d.sock)
    report("chain-taken-while-sampling", ok and rc == 0 and w.get("state") == "sampling" and
           w.get("periods", 0) >= 10, "%s %s" % (out, w))
    vmmrun.stop(d.p)
    rc, out = capsule("snapshot-merge", p("base"), p("d1"), p("d2"), p("d3"), p("merged"))
    with open(p("merged") + "/memory", "rb") as f:
        merged = f.read()
    with open(p("ref") + "/memory", "rb") as f:
        ref = f.read()
    bad = [i // 4096 for i in range(0, len(ref), 4096) if merged[i:i + 4096] != ref[i:i + 4096]]
    report("chain-merges-to-the-full-memory", rc == 0 and not bad,
           "%s; %d pages differ: %r" % (out, len(bad), bad[:10]))
    r = vmmrun.Domain(CAPSULE, TMP, "merged", ["--restore", p("merged")], timeout=20)
    deadline = time.time() + 15
    while b"vdirty: verified" not in r.output() and r.p.poll() is None and \
            time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    o = r.output()
    vmmrun.stop(r.p)
    report("chain-restored-verifies-every-page", b"vdirty: verified 4096 pages gen 1" in o and
           b"MISMATCH" not in o, o[-300:])


def main():
    cases = [("half", 64, (), 0.3, 0.7), ("idle", 0, (), 0.0, 0.1),
             ("filled-once", 96, ("once",), 0.0, 0.1), ("nearly-all", 120, (), 0.8, 1.0)]
    doms = {name: domain(name, use, *more) for name, use, more, _, _ in cases}
    for name, use, more, lo, hi in cases:
        d = doms[name]
        w = settled(d)
        est = w.get("active_fraction", -1)
        ok = w.get("state") == "sampling" and lo <= est <= hi and lo <= w.get("last", -1) <= hi
        report("%s-reads-%.1f-to-%.1f" % (name, lo, hi), ok, w)
        report("%s-active-bytes" % name, abs(w.get("active_bytes", -1) - est * (128 << 20)) <
               4096 and w.get("period_ms") == PERIOD_MS and w.get("sample_pages") == 256, w)
    d = doms["half"]
    st, data = get(d.sock, "/api/v1/vm.counters")
    info = json.loads(data).get("write_working_set", {}) if st == 200 else {}
    report("in-vm-counters", info.get("state") == "sampling" and info.get("periods", 0) > 0, info)
    st, metrics = get(d.sock, "/metrics")
    report("metrics", st == 200 and b'capsule_wss_sampled_fraction{domain="domain",'
           b'average="max"}' in metrics and b"capsule_wss_periods_total" in metrics and
           b"capsule_wss_active_bytes" in metrics, metrics[-600:])
    # A watch takes the memory slots: the sampling of this boot ends, said why.
    st, data = get(d.sock, "/api/v1/vm.watch", "PUT", {"gpa": "0x200000", "len": 8})
    time.sleep(3 * PERIOD_MS / 1000)
    w = wss(d.sock)
    report("watch-stops-it", st == 200 and w.get("state") == "stopped" and
           "watches" in w.get("why", ""), "%d %s %s" % (st, data, w))
    for x in doms.values():
        vmmrun.stop(x.p)
    off = vmmrun.Domain(CAPSULE, TMP, "off", ["-m", "64", "--balloon", "0", "--no-wss", "-p",
                                                "use=8", VPOLICY])
    time.sleep(1)
    w = wss(off.sock)
    st, metrics = get(off.sock, "/metrics")
    report("no-wss-is-off", w.get("state") == "off" and w.get("periods") == 0 and
           b"capsule_wss_sampled_fraction" not in metrics, w)
    vmmrun.stop(off.p)
    diff_chain_while_sampling()
    SUITE.end()


if __name__ == "__main__":
    try:
        main()
    finally:
        os.system("rm -rf " + TMP)
