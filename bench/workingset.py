#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Working-set prefetch (docs/snapshot.md): from fork+exec of `capsule run --restore DIR`
to the guest's line saying it has read its 16 MiB working set (bench/guests/wstouch.c),
with DIR/workingset prefetched against --no-prefetch, interleaved in one run; cold (the
memory file dropped from the page cache before each run, as after a host reboot or for a
snapshot not used for a while) and warm (the file cached).

    bench/workingset.py BUILD [RUNS]      (default 7)
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 7
CAPSULE = os.path.join(BUILD, "capsule")
GUEST = os.path.join(BUILD, "bench/guests/wstouch.elf")
TMP = tempfile.mkdtemp(prefix="capsule-bench-reap-", dir="/var/tmp")


def load():
    with open("/proc/loadavg") as f:
        return f.read().strip()


def drop_cache(path):
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)


def wait_text(path, text, limit=30):
    deadline = time.time() + limit
    while time.time() < deadline:
        with open(path, "rb") as f:
            if text in f.read():
                return True
        time.sleep(0.02)
    sys.exit("workingset: no %r in %s" % (text, path))


def domain(args, name):
    sock, out = os.path.join(TMP, name + ".sock"), os.path.join(TMP, name + ".out")
    p = subprocess.Popen(["timeout", "-k", "5", "60", CAPSULE, "run", "--api-sock", sock] +
                         args, stdout=open(out, "wb"), stderr=subprocess.STDOUT)
    return p, sock, out


def control(sock, *args):
    subprocess.run([CAPSULE, "control", sock] + list(args), check=True,
                   stdout=subprocess.DEVNULL, timeout=60)


def until_touched(snap, extra):
    t0 = time.perf_counter()
    p = subprocess.Popen([CAPSULE, "run", "--restore", snap, "-t", "30"] + extra,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline()
    t = time.perf_counter() - t0
    p.kill()
    p.wait()
    if b"wstouch: touched 4096 pages" not in line:
        sys.exit("workingset: the restored guest printed %r" % line)
    return t * 1e6


def main():
    snap = os.path.join(TMP, "snap")
    p, sock, out = domain(["-m", "64", GUEST], "orig")
    wait_text(out, b"wstouch: ready")
    control(sock, "save", snap)
    p.wait()
    p, sock, out = domain(["--restore", snap], "record")
    wait_text(out, b"wstouch: touched")
    control(sock, "working-set", snap)
    control(sock, "destroy")
    p.wait()
    mem = os.path.join(snap, "memory")
    print("host load before: %s" % load())
    res = {k: [] for k in ("cold-pf", "cold-no", "warm-pf", "warm-no")}
    for _ in range(RUNS):  # interleaved, so that machine noise hits all alike
        for cold in (True, False):
            for pf in (True, False):
                if cold:
                    drop_cache(mem)
                key = ("cold-" if cold else "warm-") + ("pf" if pf else "no")
                res[key].append(until_touched(snap, [] if pf else ["--no-prefetch"]))
    for cold in ("cold", "warm"):
        a, b = res[cold + "-pf"], res[cold + "-no"]
        print("| restore to 16 MiB working set read, %s page cache | %.0f us (%.0f-%.0f) | "
              "--no-prefetch %.0f us (%.0f-%.0f) | %.2fx |" %
              (cold, statistics.median(a), min(a), max(a), statistics.median(b), min(b),
               max(b), statistics.median(a) / statistics.median(b)))
    print("host load after: %s (median of %d interleaved runs each, range in brackets)" %
          (load(), RUNS))
    subprocess.run(["rm", "-rf", TMP])


main()
