#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Memory sharing and overcommit through capsuled (docs/benchmarks.md, "Memory"): rows of a
markdown table.

  bench/memory.py BUILD [RUNS [SIZES [LIMIT_MIB]]]   (default 5 runs, sizes 2,10,50, 768)

Sharing: N identical PV domains (tests/guests/vshare.elf, memory_backing "private", 16 MiB of
data pages with the same contents, 32 MiB each) under a capsuled with --ksm-cpu 50
--ksm-scan-time 1; KSM held off while they fill, then on until pages_sharing stops growing.
Reported: what KSM saved (pages_sharing) as a share of the memory the domains' VMMs hold
(the sum of their Rss before merging), the fall of the sum of their Pss, ksmd's CPU time and
the wall time to merge; against the ideal for N identical domains, (N - 1) / N of the data.
Density: domains of 256 MiB (tests/guests/vpolicy.elf: 64 MiB the same in every domain and
in use, 160 MiB of its own touched once then idle) started one at a time in a v1 memory
cgroup of LIMIT_MIB (a small host, no swap) until the cgroup's OOM killer ends one or 20
run: plain `capsule run` (the peer) against capsuled --mem-cgroup with the policy and KSM.
RUNS interleaved runs of everything; medians with their range; host load before and after.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "daemon"))
import memory as t  # noqa: E402  tests/daemon/memory.py: its harness and helpers
import run as base  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
SIZES = [int(x) for x in sys.argv[3].split(",")] if len(sys.argv) > 3 else [2, 10, 50]
LIMIT = int(sys.argv[4]) if len(sys.argv) > 4 else 768
DATA = 4096          # pages of identical data per domain (16 MiB)
DOM_MIB, MAX_DOMS = 256, 20


def sharing_run(root, n, k):
    dm = t.Daemon(os.path.join(root, "s%d-%d" % (n, k)), ["--ksm-cpu", "50", "--ksm-scan-time", "1"])
    os.makedirs(dm.root)
    dm.start()
    try:
        t.ksm_set("run", "0")
        names = ["b%d" % i for i in range(n)]
        for i, name in enumerate(names):
            st, data = dm.create(name, t.VSHARE, 32, memory_backing="private",
                                 cmdline="pages=%d seed=3 id=%d" % (DATA, i + 1))
            assert st == 201, data
        assert base.wait_for(lambda: all("vshare: filled" in t.console(dm, x) for x in names), 120)
        pids = [dm.dom(x)["pid"] for x in names]
        rss0 = sum(t.pss_kib(p, "Rss") for p in pids)
        pss0 = sum(t.pss_kib(p) for p in pids)
        s0, cpu0 = t.ksm("pages_sharing"), dm.info()["ksm"]["ksmd_cpu_s"]
        t0 = time.time()
        t.ksm_set("run", "1")
        last, still = -1, 0
        while time.time() - t0 < 300 and still < 4:  # until it stops growing for 2 s
            time.sleep(0.5)
            now = t.ksm("pages_sharing")
            still = still + 1 if now == last else 0
            last = now
        wall = time.time() - t0 - 2.0
        saved = (t.ksm("pages_sharing") - s0) * 4
        pss1 = sum(t.pss_kib(p) for p in pids)
        cpu = dm.info()["ksm"]["ksmd_cpu_s"] - cpu0
        return {"saved_pct": 100.0 * saved / rss0, "fell_pct": 100.0 * (pss0 - pss1) / rss0,
                "ideal_pct": 100.0 * (n - 1) / n * DATA * 4 / (rss0 / n),
                "cpu_s": cpu, "wall_s": wall, "saved_mib": saved / 1024.0}
    finally:
        base.end_daemon(dm)


def density_raw(k):
    cg = t.make_memcg("bench-raw%d" % k, LIMIT)
    procs, held = [], 0
    try:
        for i in range(MAX_DOMS):
            procs.append(subprocess.Popen(
                ["sh", "-c", 'echo $$ > %s/cgroup.procs && exec timeout -k 5 300 %s run -m %d '
                 '--balloon 0 -p "shared=64 touch=160 wait=1 id=%d" %s' %
                 (cg, base.CAPSULE, DOM_MIB, i + 1, t.VPOLICY)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            base.wait_for(lambda: t.memcg_oom_kills(cg) > 0, 4)
            if t.memcg_oom_kills(cg) or any(p.poll() is not None for p in procs):
                break
            held = i + 1
        return held
    finally:
        t.stop_all(procs, cg)
        t.drop_memcg(cg)


def density_policy(root, k):
    cg = t.make_memcg("bench-pol%d" % k, LIMIT)
    dm = t.Daemon(os.path.join(root, "d%d" % k), ["--mem-cgroup", cg, "--ksm-cpu", "50",
                                                 "--ksm-scan-time", "1"])
    os.makedirs(dm.root)
    held = 0
    try:
        dm.start()
        for i in range(MAX_DOMS):
            name = "p%d" % i
            st, data = dm.create(name, t.VPOLICY, DOM_MIB, balloon=0, memory_backing="private",
                                 cmdline="shared=64 touch=160 wait=3 id=%d" % (i + 1))
            if st != 201:
                break
            base.wait_for(lambda: "vpolicy: touched" in t.console(dm, name) or
                          t.memcg_oom_kills(cg) > 0, 30)
            time.sleep(1)
            if t.memcg_oom_kills(cg) or any(d["state"] != "running" for d in dm.domains()):
                break
            held = i + 1
        return held
    finally:
        base.end_daemon(dm)
        t.drop_memcg(cg)


def cell(xs, fmt):
    return (fmt + " (" + fmt + "-" + fmt + ")") % (statistics.median(xs), min(xs), max(xs))


def main():
    root = tempfile.mkdtemp(prefix="capsule-bench-mem-")
    before = t.ksm_settings()
    load0 = open("/proc/loadavg").read().strip()
    share = {n: [] for n in SIZES}
    raw, pol = [], []
    try:
        for k in range(RUNS):  # interleaved: every measure once per run
            for n in SIZES:
                share[n].append(sharing_run(root, n, k))
            raw.append(density_raw(k))
            pol.append(density_policy(root, k))
    finally:
        subprocess.run(["rm", "-rf", root])
    load1 = open("/proc/loadavg").read().strip()
    print("host load before: %s; after: %s; KSM settings restored: %s" %
          (load0, load1, t.ksm_settings() == before))
    print("| what | Capsule | floor or peer, same run | ratio |")
    print("|---|---|---|---|")
    for n in SIZES:
        r = share[n]
        saved = [x["saved_pct"] for x in r]
        ideal = [x["ideal_pct"] for x in r]
        print("| %d identical PV domains: memory saved by KSM, %% of what their VMMs held | %s "
              "(%s MiB) | ideal (N-1)/N of the data: %s; ESX best case ~60%% reclaimed | %.2f of "
              "ideal |" % (n, cell(saved, "%.1f"),
                           cell([x["saved_mib"] for x in r], "%.0f"), cell(ideal, "%.1f"),
                           statistics.median(saved) / statistics.median(ideal)))
        print("| %d domains: fall of the VMMs' summed Pss, %% | %s | KSM's own count: %s | "
              "%.2f |" % (n, cell([x["fell_pct"] for x in r], "%.1f"), cell(saved, "%.1f"),
                          statistics.median([x["fell_pct"] for x in r]) /
                          statistics.median(saved)))
        print("| %d domains: ksmd CPU to merge (s), wall time (s) | %s, %s | - | %.3f CPU-s per "
              "MiB saved |" % (n, cell([x["cpu_s"] for x in r], "%.2f"),
                               cell([x["wall_s"] for x in r], "%.1f"),
                               statistics.median([x["cpu_s"] / max(x["saved_mib"], 1e-9)
                                                  for x in r])))
    print("| %d MiB domains held in a %d MiB memory cgroup: policy + KSM | %s | capsule run "
          "alone: %s | %.2fx |" % (DOM_MIB, LIMIT, cell(pol, "%d"), cell(raw, "%d"),
                                   statistics.median(pol) / max(statistics.median(raw), 1)))


if __name__ == "__main__":
    main()
