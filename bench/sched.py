#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""CPU control accuracy through capsuled (docs/benchmarks.md, "CPU control"): rows of a
markdown table.

  bench/sched.py BUILD [RUNS [SECONDS]]      (default 5 runs, 3 s per measure)

Three spinning PV domains (tests/guests/spin.elf) under a capsuled of its own: A and B
pinned to CPU 0, C to the last CPU. Each run, interleaved: weights 512:256 on A:B, then
256:256 (the peer: what equal weights give on the same CPU in the same run), each share
measured over SECONDS from the domains' per-vCPU CPU time; then A and B paused and C's
share of its CPU with cap 25, cap 50 and no cap (the peer: what C gets on that CPU
uncapped). Medians of the runs with their range; the ratio is achieved / requested.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__))))
from daemon import call  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
SECS = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
SPIN = os.path.join(BUILD, "tests", "guests", "spin.elf")
TAG = "capsule-bench-cpu-%d" % os.getpid()


def cpu_s(sock, name):
    st, data = call(sock, "GET", "/api/v1/domain.vcpus?domain=" + name)
    return sum(v["cpu_s"] for d in json.loads(data)["domains"] for v in d["vcpus"])


def sched(sock, name, **kw):
    st, data = call(sock, "PUT", "/api/v1/domain.sched?domain=" + name, json.dumps(kw))
    assert st == 200, data


def measure(sock, names):
    time.sleep(0.3)  # the new shares settle
    c0, t0 = [cpu_s(sock, n) for n in names], time.perf_counter()
    time.sleep(SECS)
    return [cpu_s(sock, n) - c for n, c in zip(names, c0)], time.perf_counter() - t0


def med(xs, fmt="%.3f"):
    return (fmt + " (" + fmt + "-" + fmt + ")") % (statistics.median(xs), min(xs), max(xs))


def main():
    root = tempfile.mkdtemp(prefix="capsule-bench-sched-")
    sock = os.path.join(root, "d.sock")
    p = subprocess.Popen(["timeout", "-s", "KILL", "1200", os.path.join(BUILD, "capsuled"),
                          "-f", "-s", sock, "-d", os.path.join(root, "state"),
                          "--cgroup-parent", TAG], stderr=open(os.path.join(root, "log"), "a"))
    while not os.path.exists(sock):
        time.sleep(0.01)
    time.sleep(0.1)
    last = str((os.cpu_count() or 1) - 1)
    res = {"w": [], "eq": [], "c25": [], "c50": [], "free": []}
    load0 = open("/proc/loadavg").read().strip()
    try:
        info = json.loads(call(sock, "GET", "/api/v1/sched")[1])
        for name, cpus in (("A", "0"), ("B", "0"), ("C", last)):
            st, data = call(sock, "POST", "/api/v1/domains", json.dumps(
                {"name": name, "kernel": SPIN, "memory": 4, "cpus": cpus}))
            assert st == 201, data
        call(sock, "PUT", "/api/v1/domain.pause?domain=C")
        for _ in range(RUNS):
            sched(sock, "A", weight=512)
            sched(sock, "B", weight=256)
            (a, b), _ = measure(sock, ["A", "B"])
            res["w"].append(a / b)
            sched(sock, "A", weight=256)
            (a, b), _ = measure(sock, ["A", "B"])
            res["eq"].append(a / b)
            call(sock, "PUT", "/api/v1/domain.pause?domain=A")
            call(sock, "PUT", "/api/v1/domain.pause?domain=B")
            call(sock, "PUT", "/api/v1/domain.unpause?domain=C")
            for cap, key in ((25, "c25"), (50, "c50"), (0, "free")):
                sched(sock, "C", cap=cap)
                (c,), dt = measure(sock, ["C"])
                res[key].append(c / dt * 100)
            call(sock, "PUT", "/api/v1/domain.pause?domain=C")
            call(sock, "PUT", "/api/v1/domain.unpause?domain=A")
            call(sock, "PUT", "/api/v1/domain.unpause?domain=B")
    finally:
        for name in ("A", "B", "C"):
            call(sock, "PUT", "/api/v1/domain.destroy?domain=" + name)
        p.terminate()
        p.wait()
        for r in ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/unified"):
            try:
                os.rmdir(os.path.join(r, TAG))
            except OSError:
                pass
    print("cgroup v%d, %d runs of %.0f s per measure; host load before: %s, after: %s" %
          (info["cgroup"], RUNS, SECS, load0, open("/proc/loadavg").read().strip()))
    print("| what | Capsule | floor or peer, same run | ratio |")
    print("|---|---|---|---|")
    w = statistics.median(res["w"])
    print("| weights 512:256 on one CPU: achieved CPU-time ratio (requested 2.000) | %s | "
          "256:256 on the same CPU: %s | %.3f of requested |" %
          (med(res["w"]), med(res["eq"]), w / 2))
    for key, cap in (("c25", 25), ("c50", 50)):
        print("| cap %d: %% of one CPU achieved | %s | no cap, same CPU: %s | %.3f of "
              "requested |" % (cap, med(res[key], "%.1f"), med(res["free"], "%.1f"),
                               statistics.median(res[key]) / cap))


if __name__ == "__main__":
    main()
