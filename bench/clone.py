#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Clones from one snapshot through capsuled (docs/benchmarks.md, "Snapshots"): rows of a
markdown table.

  bench/clone.py BUILD [RUNS [N [MiB]]]      (default 5 runs of 50 clones of a 64 MiB domain)

Each run, interleaved: `POST /api/v1/domain.clone` of N domains from a snapshot of a
running PV domain (tests/guests/ticker.elf: a line every 20 ms), timed until it answers (every clone's VMM
answers its API: restored and running), then the host's memory for them (MemAvailable
before and after, and the sum of the VMMs' Private_Dirty and Rss from
/proc/PID/smaps_rollup), then all destroyed; and N fresh creates of the same domain, one
request each, timed the same way. Medians of the runs with their range.
A capsuled of its own under a temporary directory.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__))))
from daemon import call, start_daemon  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
N = int(sys.argv[3]) if len(sys.argv) > 3 else 50
MIB = int(sys.argv[4]) if len(sys.argv) > 4 else 64
IMAGE = os.path.join(BUILD, "tests", "guests", "ticker.elf")


def meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rollup(pid):
    out = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if v.strip().endswith("kB"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def destroy_all(sock):
    for d in json.loads(call(sock, "GET", "/api/v1/domains")[1])["domains"]:
        call(sock, "PUT", "/api/v1/domain.destroy?domain=%d" % d["id"])


def med(xs, fmt="%.1f"):
    return (fmt + " (" + fmt + "-" + fmt + ")") % (statistics.median(xs), min(xs), max(xs))


def main():
    root = tempfile.mkdtemp(prefix="capsule-bench-clone-")
    p, sock, _ = start_daemon(root)
    try:
        cfg = {"name": "base", "kernel": IMAGE, "memory": MIB}
        st, data = call(sock, "POST", "/api/v1/domains", json.dumps(cfg))
        assert st == 201, data
        time.sleep(0.3)
        snap = os.path.join(root, "snap")
        st, data = call(sock, "PUT", "/api/v1/domain.snapshot?domain=base",
                        json.dumps({"dir": snap}))
        assert st == 200, data
        pause = json.loads(data)["pause_ms"]
        call(sock, "PUT", "/api/v1/domain.destroy?domain=base")
        print("host load before: %s" % open("/proc/loadavg").read().strip())
        clone_rate, create_rate, avail, dirty, rss = [], [], [], [], []
        for r in range(RUNS):
            a0 = meminfo("MemAvailable")
            t0 = time.perf_counter()
            st, data = call(sock, "POST", "/api/v1/domain.clone",
                            json.dumps({"dir": snap, "count": N, "name_prefix": "c%d" % r}))
            dt = time.perf_counter() - t0
            assert st == 201, data
            clone_rate.append(N / dt)
            time.sleep(0.5)  # the clones run on a little: what they dirty is in
            doms = json.loads(call(sock, "GET", "/api/v1/domains")[1])["domains"]
            ro = [rollup(d["pid"]) for d in doms if d["pid"]]
            avail.append((a0 - meminfo("MemAvailable")) / N / 1024)
            dirty.append(sum(x.get("Private_Dirty", 0) for x in ro) / N / 1024)
            rss.append(sum(x.get("Rss", 0) for x in ro) / N / 1024)
            destroy_all(sock)
            t0 = time.perf_counter()
            for i in range(N):
                cfg = {"name": "f%d-%d" % (r, i), "kernel": IMAGE, "memory": MIB}
                st, data = call(sock, "POST", "/api/v1/domains", json.dumps(cfg))
                assert st == 201, data
            create_rate.append(N / (time.perf_counter() - t0))
            destroy_all(sock)
        print("| clones per second, %d at once from one snapshot (%d MiB PV) | %s | fresh "
              "creates, one request each: %s per second | %.2fx |" % (
                  N, MIB, med(clone_rate, "%.0f"), med(create_rate, "%.0f"),
                  statistics.median(clone_rate) / statistics.median(create_rate)))
        print("| host memory per clone (%d MiB guest): MemAvailable drop | %s MiB | the "
              "guest's memory %d MiB | %.3fx |" % (MIB, med(avail, "%.2f"), MIB,
                                                   statistics.median(avail) / MIB))
        print("| per clone: VMM Private_Dirty, Rss (smaps_rollup) | %s MiB, %s MiB | | |" % (
            med(dirty, "%.2f"), med(rss, "%.2f")))
        print("snapshot pause of the base domain: %.2f ms; host load after: %s (median of "
              "%d runs, range in brackets)" % (pause, open("/proc/loadavg").read().strip(),
                                              RUNS))
    finally:
        try:
            destroy_all(sock)
        except Exception:
            pass
        p.terminate()
        p.wait(10)
        subprocess.run(["rm", "-rf", root])


if __name__ == "__main__":
    main()
