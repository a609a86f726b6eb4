#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Snapshot pause times and migration downtime (docs/benchmarks.md, "Snapshots" and
"Migration"): rows of markdown tables.

  bench/encap.py BUILD [RUNS]      (default 5 runs, interleaved)

Snapshot pause: tests/guests/vdirty.elf (16 MiB of data it rewrites, K pages every 10 ms)
in domains of 64, 256 and 1024 MiB at K = 80 (32 MiB/s), and of 256 MiB at K = 1, 80 and
800; per domain a full live snapshot (`capsule control SOCK snapshot DIR`) and 200 ms later
a diff one (`--diff`). The pause is the VMM's own report (pause_ms: from the pause to the
resume). The floor, in the same run: writing the snapshot's memory bytes from a buffer to a
file in the same directory.

Migration: a 256 MiB PV domain over loopback (127.0.0.1, plain TCP) to `capsule run
--incoming`, idle (tests/guests/ticker.elf) and dirtying (vdirty, K = 80: 32 MiB/s),
pre-copy and post-copy (--postcopy), the VMM's report (downtime_ms: from the pause to the
destination's go; bytes sent; total_ms: to the end, for post-copy when every page is at
the destination) against the goal's terms: downtime against 5 ms, bytes against the guest
memory the domain had touched (the Rss of its guest memory mapping, from /proc/PID/smaps,
just before), and post-copy's total time against pre-copy's.
Medians of the runs with their range (min-max); the host load before and after.
"""
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
CAPSULE = os.path.join(BUILD, "capsule")
VDIRTY = os.path.join(BUILD, "tests", "guests", "vdirty.elf")
TICKER = os.path.join(BUILD, "tests", "guests", "ticker.elf")
TMP = tempfile.mkdtemp(prefix="capsule-bench-encap-", dir="/var/tmp")


def start(name, args):
    sock = os.path.join(TMP, name + ".sock")
    p = subprocess.Popen([CAPSULE, "run", "--api-sock", sock] + args,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL)
    deadline = time.time() + 20
    while not os.path.exists(sock) and time.time() < deadline:
        time.sleep(0.01)
    return p, sock


def stop(p):
    if p.poll() is None:
        p.kill()
    p.wait()


def control(sock, *args):
    r = subprocess.run([CAPSULE, "control", sock] + list(args), capture_output=True,
                       timeout=120)
    m = re.search(r"\{.*\}", r.stdout.decode())
    if r.returncode or not m:
        raise RuntimeError("capsule control %s: %s" % (" ".join(args), r.stderr.decode()))
    return json.loads(m.group(0))


def guest_rss_kib(pid):
    """The Rss of the guest memory mapping (the memfd capsule-guest-ram)."""
    rss, inside = 0, False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                inside = "capsule-guest-ram" in line
            elif inside and line.startswith("Rss:"):
                rss += int(line.split()[1])
    return rss


def write_floor_ms(nbytes):
    buf = b"\x5a" * nbytes
    path = os.path.join(TMP, "floor")
    t0 = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, buf)
    os.close(fd)
    dt = (time.perf_counter() - t0) * 1e3
    os.unlink(path)
    return dt


def snapshot_once(mib, k):
    p, sock = start("snap", ["--mem", str(mib), "--cmdline", "%d 10" % k, VDIRTY])
    try:
        time.sleep(0.6)
        full_dir, diff_dir = os.path.join(TMP, "full"), os.path.join(TMP, "diff")
        full = control(sock, "snapshot", full_dir)
        time.sleep(0.2)
        diff = control(sock, "snapshot", diff_dir, "--diff")
        floor = write_floor_ms(full["memory_bytes"])
        dfloor = write_floor_ms(max(diff["memory_bytes"], 4096))
        shutil.rmtree(full_dir, ignore_errors=True)
        shutil.rmtree(diff_dir, ignore_errors=True)
        return full["pause_ms"], floor, full["memory_bytes"], diff["pause_ms"], dfloor, \
            diff["memory_bytes"]
    finally:
        stop(p)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def migrate_once(image, cmdline, postcopy):
    port = free_port()
    src, ssock = start("msrc", ["--mem", "256", "--cmdline", cmdline, image])
    dst, _ = start("mdst", ["--incoming", "127.0.0.1:%d" % port, "--insecure"])
    try:
        time.sleep(0.6)
        touched = guest_rss_kib(src.pid) * 1024
        rep = control(ssock, "migrate", "127.0.0.1:%d" % port, "--insecure",
                      *(["--postcopy"] if postcopy else []))
        return rep["downtime_ms"], rep["bytes"], touched, rep["rounds"], rep["total_ms"], \
            rep.get("postcopy_requested", 0)
    finally:
        stop(src)
        stop(dst)


def med(xs):
    return statistics.median(xs), min(xs), max(xs)


def fmt(xs, unit, nd=2):
    m, lo, hi = med(xs)
    return "%.*f %s (%.*f-%.*f)" % (nd, m, unit, nd, lo, nd, hi)


def main():
    snaps = [(64, 80), (256, 80), (1024, 80), (256, 1), (256, 800)]
    migs = [(guest + ", " + mode, image, cmdline, mode == "post-copy")
            for guest, image, cmdline in (("idle", TICKER, ""),
                                          ("dirtying 32 MiB/s", VDIRTY, "80 10"))
            for mode in ("pre-copy", "post-copy")]
    sres = {c: [] for c in snaps}
    mres = {m[0]: [] for m in migs}
    print("host load before: %s" % open("/proc/loadavg").read().strip())
    for _ in range(RUNS):
        for c in snaps:
            sres[c].append(snapshot_once(*c))
        for name, image, cmdline, postcopy in migs:
            mres[name].append(migrate_once(image, cmdline, postcopy))
    print("host load after: %s" % open("/proc/loadavg").read().strip())
    print()
    print("| what | Capsule | floor or peer, same run | ratio |")
    print("|---|---|---|---|")
    for (mib, k), rs in sres.items():
        rate = "%d MiB/s" % (k * 4096 * 100 >> 20) if k >= 3 else "%d KiB/s" % (k * 400)
        full = [r[0] for r in rs]
        floor = [r[1] for r in rs]
        diff = [r[3] for r in rs]
        dfloor = [r[4] for r in rs]
        print("| snapshot pause, full, %d MiB domain dirtying %s (%.1f MiB written) | %s | "
              "writing the same bytes to a file %s | %.2fx |" %
              (mib, rate, med([r[2] for r in rs])[0] / 2**20, fmt(full, "ms"),
               fmt(floor, "ms"), med(full)[0] / med(floor)[0]))
        print("| snapshot pause, diff after 200 ms, %d MiB dirtying %s (%.1f MiB written) | "
              "%s | the full snapshot's pause %s | %.2fx |" %
              (mib, rate, med([r[5] for r in rs])[0] / 2**20, fmt(diff, "ms"),
               fmt(full, "ms"), med(diff)[0] / med(full)[0]))
    for name, rs in mres.items():
        down = [r[0] for r in rs]
        ratio = [r[1] / r[2] for r in rs]
        print("| migration downtime, 256 MiB PV, %s, loopback | %s | the goal 5 ms | %.2fx |"
              % (name, fmt(down, "ms"), med(down)[0] / 5))
        print("| migration bytes sent, 256 MiB PV, %s (rounds %s) | %s | the memory it "
              "touched %s | %.2fx (%.2f-%.2f) |" %
              (name, "-".join(str(x) for x in sorted({r[3] for r in rs})),
               fmt([r[1] / 2**20 for r in rs], "MiB", 1),
               fmt([r[2] / 2**20 for r in rs], "MiB", 1), *med(ratio)))
    for guest in ("idle", "dirtying 32 MiB/s"):
        pre, post = mres[guest + ", pre-copy"], mres[guest + ", post-copy"]
        asked = med([r[5] for r in post])
        print("| migration total time, %s, post-copy (pages asked for on demand: %d, "
              "%d-%d) | %s | pre-copy %s | %.2fx |" %
              (guest, asked[0], asked[1], asked[2], fmt([r[4] for r in post], "ms"),
               fmt([r[4] for r in pre], "ms"),
               med([r[4] for r in post])[0] / med([r[4] for r in pre])[0]))


try:
    main()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
