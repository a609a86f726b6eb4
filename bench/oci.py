#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""capsule-oci under Docker (docs/benchmarks.md, "capsule-oci"): rows of a markdown table.

  bench/oci.py BUILD [RUNS]      (default 5)

A dockerd of its own (tests/oci/engines.py: its own roots, socket and network namespace).
Each run, interleaved: `docker run --rm --network none` of the PV hello image under
capsule-oci and of a static hello binary under runc, the engine's default (the engine's
own overhead is the floor), timed from the client's start to its first output line and to
its exit. Then, with one container of each kind running (an idle PV guest, a static
process in pause()), the proportional set size of the container's init process: the VMM
against the runc container's process. Medians with min-max, the ratio of the medians and
of the minima, and the host load before and after.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "oci"))
from engines import DOCKER, Dockerd  # noqa: E402

OCI = os.path.join(BUILD, "capsule-oci")
PACK = os.path.join(ROOT, "scripts", "capsule-oci-pack")


def pack(tmp, image, ref, *args):
    tar = os.path.join(tmp, ref.replace("/", "_").replace(":", "_") + ".tar")
    subprocess.run([PACK, image, tar, ref] + list(args), check=True, capture_output=True)
    return tar


def timed(d, argv):
    """(ms to the first line of output, ms to the exit) of one docker run."""
    t0 = time.perf_counter()
    p = subprocess.Popen([DOCKER, "-H", "unix://" + d.sock] + argv, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    line = p.stdout.readline()
    t1 = time.perf_counter()
    p.stdout.read()
    if p.wait(timeout=60) != 0 or not line:
        raise SystemExit("bench/oci.py: %s failed" % " ".join(argv))
    return (t1 - t0) * 1e3, (time.perf_counter() - t0) * 1e3


def pss_kib(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        return next(int(l.split()[1]) for l in f if l.startswith("Pss:"))


def cell(v, unit):
    return "%.2f %s (%.2f-%.2f)" % (statistics.median(v), unit, min(v), max(v))


def row(what, a, b, floor, unit):
    ma, mb = statistics.median(a), statistics.median(b)
    print("| %s | %s | %s %s | %.3fx (minima %.3fx) |" % (what, cell(a, unit), floor,
                                                         cell(b, unit), ma / mb,
                                                         min(a) / min(b)))


def main():
    load0 = open("/proc/loadavg").read().split()[:3]
    tmp = tempfile.mkdtemp(prefix="capsule-bench-oci-")
    hello = os.path.join(tmp, "hello")
    subprocess.run(["cc", "-O2", "-static", "-o", hello, os.path.join(ROOT, "bench", "oci", "hello.c")],
                   check=True)
    tars = [pack(tmp, os.path.join(BUILD, "guest", "hello.elf"), "capsule.bench/pv-hello:1"),
            pack(tmp, hello, "capsule.bench/hello:1"),
            pack(tmp, hello, "capsule.bench/hello:sleep", "sleep"),
            pack(tmp, os.path.join(BUILD, "tests", "guests", "ociguest.elf"),
                 "capsule.bench/pv-idle:1", "ticks", "0")]
    d = Dockerd(tmp, OCI)
    try:
        for t in tars:
            if d.docker("load", "-i", t)[0]:
                raise SystemExit("bench/oci.py: docker load %s failed" % t)
        run = ["run", "--rm", "--network", "none"]
        first = {"capsule": [], "runc": []}
        total = {"capsule": [], "runc": []}
        timed(d, run + ["--runtime", "capsule", "capsule.bench/pv-hello:1"])  # warm
        timed(d, run + ["capsule.bench/hello:1"])
        for _ in range(RUNS):
            for kind, argv in (("capsule", run + ["--runtime", "capsule", "capsule.bench/pv-hello:1"]),
                               ("runc", run + ["capsule.bench/hello:1"])):
                f, t = timed(d, argv)
                first[kind].append(f)
                total[kind].append(t)
        pss = {"capsule": [], "runc": []}
        for _ in range(RUNS):
            for kind, argv in (("capsule", ["run", "-d", "--network", "none", "--runtime",
                                            "capsule", "capsule.bench/pv-idle:1"]),
                               ("runc", ["run", "-d", "--network", "none",
                                         "capsule.bench/hello:sleep"])):
                cid = d.docker(*argv)[1].strip()
                time.sleep(0.5)
                pid = int(d.docker("inspect", "-f", "{{.State.Pid}}", cid)[1])
                pss[kind].append(pss_kib(pid) / 1024)
                d.docker("rm", "-f", cid)
    finally:
        d.stop()
        subprocess.run(["rm", "-rf", tmp])
    row("docker run --rm, start to first output", first["capsule"], first["runc"],
        "runc, static hello:", "ms")
    row("docker run --rm, start to exit", total["capsule"], total["runc"],
        "runc, static hello:", "ms")
    row("host memory of a running container's init (Pss)", pss["capsule"], pss["runc"],
        "runc, static process:", "MiB")
    print("host load before: %s, after: %s" % (" ".join(load0),
                                                " ".join(open("/proc/loadavg").read().split()[:3])))


if __name__ == "__main__":
    main()
