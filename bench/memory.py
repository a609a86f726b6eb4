#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Memory sharing and overcommit through capsuled (docs/benchmarks.md, "Memory"): rows of a
markdown table.

  bench/memory.py BUILD [RUNS [SIZES [LIMIT_MIB]]]   (default 5 runs, sizes 2,10,50, 768)
  bench/memory.py --wss-only BUILD [RUNS]            (the sampler's rows alone)

Sharing: N identical PV domains (tests/guests/vshare.elf, memory_backing "private", 16 MiB of
data pages with the same contents, 32 MiB each) under a capsuled with --ksm-cpu 50
--ksm-scan-time 1; KSM held off while they fill, then on until a whole scan merges nothing more.
Reported: what KSM saved (pages_sharing) as a share of the memory the domains' VMMs hold
(the sum of their Rss before merging), the fall of the sum of their Pss, ksmd's CPU time and
the wall time to merge; against the ideal for N identical domains, (N - 1) / N of the data.
Density: domains of 256 MiB (tests/guests/vpolicy.elf: 64 MiB the same in every domain and
in use, 160 MiB of its own touched once then idle) started one at a time in a v1 memory
cgroup of LIMIT_MIB (a small host, no swap) until the cgroup's OOM killer ends one or 20
run: plain `capsule run` (the peer) against capsuled --mem-cgroup with the policy and KSM.
Write working-set sampling (include/capsule/wss.h): the guest's speed with the sampler on
against the same guest with --no-wss, interleaved in each run (the order rotated): a compute
guest (bench/guests/cpubench.elf, 100000 rounds, its own ns) and a dirtying one
(tests/guests/vdirty.elf "1500 0": it stamps 1500 of its 4096 pages per loop, as fast as it
can, two words each; page writes per second of domain time once the sampler runs, from 1.2 s
to 5 s), at the default
(256 pages every 1000 ms) and at a heavy setting (4096 pages every 100 ms).
RUNS interleaved runs of everything; medians with their range; host load before and after.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "daemon"))
import memory as t  # noqa: E402  tests/daemon/memory.py: its harness and helpers
import run as base  # noqa: E402

WSS_ONLY = "--wss-only" in sys.argv
if WSS_ONLY:
    sys.argv.remove("--wss-only")
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
        # Done when a whole scan merged nothing more. KSM merges a page only once its
        # checksum held over a scan, so nothing may merge for the first seconds (one
        # scan of 50 domains); a quiet spell of a few polls is not the end.
        scans0, last, at_scan, grew = t.ksm("full_scans"), s0, None, t0
        while time.time() - t0 < 300:
            time.sleep(0.5)
            now, scans = t.ksm("pages_sharing"), t.ksm("full_scans")
            if now != last:
                last, grew = now, time.time()
            if scans - scans0 >= 2 and at_scan is not None and at_scan[0] != scans:
                if at_scan[1] == now:
                    break
            if at_scan is None or at_scan[0] != scans:
                at_scan = (scans, now)
        wall = grew - t0
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


WSS_CONFIGS = [("off", ["--no-wss"]), ("default", []),
               ("heavy", ["--wss-period", "100", "--wss-sample", "4096"])]
CPUBENCH = os.path.join(BUILD, "bench/guests/cpubench.elf")
VDIRTY = os.path.join(BUILD, "tests/guests/vdirty.elf")


def compute_ns(args):
    p = subprocess.run(["timeout", "-k", "5", "60", base.CAPSULE, "run"] + args +
                       ["-p", "100000", CPUBENCH], capture_output=True, text=True)
    m = re.search(r"cpubench: rounds=\d+ ns=(\d+)", p.stdout)
    return int(m.group(1)) if m else None


def dirtying_rate(args):
    """Pages per second of domain time: vdirty's fierce mode prints a line per 10 ms."""
    p = subprocess.run(["timeout", "-k", "5", "5", base.CAPSULE, "run", "-m", "64"] + args +
                       ["-p", "1500 0", VDIRTY], capture_output=True, text=True)
    seqs = [int(x) for x in re.findall(r"vdirty: tick \d+ seq (\d+)", p.stdout)]
    if len(seqs) < 170:  # a host that starved it of more than a second
        return None
    return (seqs[-1] - seqs[120]) / ((len(seqs) - 1 - 120) * 0.01)


def wss_rows():
    got = {(w, c): [] for w in ("compute", "dirtying") for c, _ in WSS_CONFIGS}
    for k in range(RUNS):
        order = WSS_CONFIGS[k % 3:] + WSS_CONFIGS[:k % 3]
        for c, args in order:
            got[("compute", c)].append(compute_ns(args))
            got[("dirtying", c)].append(dirtying_rate(args))
    rows = []
    for w, unit in (("compute", "ms"), ("dirtying", "M page writes/s")):
        off = got[(w, "off")]
        for c, args in WSS_CONFIGS[1:]:
            on = got[(w, c)]
            pairs = [(a, b) for a, b in zip(on, off) if a and b]
            # the guest's speed with the sampler on over off (compute: the inverse of its time)
            ratios = [(b / a if w == "compute" else a / b) for a, b in pairs]
            conv = (lambda ns: ns / 1e6) if w == "compute" else (lambda r: r / 1e6)
            runs = "" if len(pairs) == RUNS else ", %d of %d runs" % (len(pairs), RUNS)
            rows.append("| guest speed with write working-set sampling %s (%s), %s guest%s | %s "
                        "%s | --no-wss: %s %s | %s |" % (
                            c, " ".join(args) or "256 pages / 1000 ms", w, runs,
                            cell([conv(a) for a, _ in pairs], "%.1f"), unit,
                            cell([conv(b) for _, b in pairs], "%.1f"), unit,
                            cell(ratios, "%.3f") + "x" if ratios else "-"))
    return rows


def cell(xs, fmt):
    return (fmt + " (" + fmt + "-" + fmt + ")") % (statistics.median(xs), min(xs), max(xs))


def main_wss():
    load0 = open("/proc/loadavg").read().strip()
    rows = wss_rows()
    print("host load before: %s; after: %s" % (load0, open("/proc/loadavg").read().strip()))
    print("| what | Capsule | floor or peer, same run | ratio |")
    print("|---|---|---|---|")
    for r in rows:
        print(r)


def main():
    if WSS_ONLY:
        return main_wss()
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
        wss = wss_rows()
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
                           statistics.median(saved) / max(statistics.median(ideal), 1e-9)))
        print("| %d domains: fall of the VMMs' summed Pss, %% | %s | KSM's own count: %s | "
              "%.2f |" % (n, cell([x["fell_pct"] for x in r], "%.1f"), cell(saved, "%.1f"),
                          statistics.median([x["fell_pct"] for x in r]) /
                          max(statistics.median(saved), 1e-9)))
        print("| %d domains: ksmd CPU to merge (s), wall time (s) | %s, %s | - | %.3f CPU-s per "
              "MiB saved |" % (n, cell([x["cpu_s"] for x in r], "%.2f"),
                               cell([x["wall_s"] for x in r], "%.1f"),
                               statistics.median([x["cpu_s"] / max(x["saved_mib"], 1e-9)
                                                  for x in r])))
    print("| %d MiB domains held in a %d MiB memory cgroup: policy + KSM | %s | capsule run "
          "alone: %s | %.2fx |" % (DOM_MIB, LIMIT, cell(pol, "%d"), cell(raw, "%d"),
                                   statistics.median(pol) / max(statistics.median(raw), 1)))
    for r in wss:
        print(r)


if __name__ == "__main__":
    main()
