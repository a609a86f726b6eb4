#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Introspection's costs (docs/benchmarks.md, "Introspection"): rows of a markdown table.

  bench/introspect.py BUILD [RUNS]      (default 5)

Each run, interleaved: bench/guests/watchbench.c three times, with no watch, with a watch
on a page it never touches (goal: no change to its compute and hypercalls), and with a
watch on the page it writes (the cost per watched write against an unwatched one, and
against a hypercall's exit in the same domain); then vm.memory reads of 4 KiB and 1 MiB
against vmm.ping, the API's cheapest call, on one idle domain. Medians with min-max, and
the ratio of the medians and of the minima.
"""
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
CAPSULE = os.path.join(BUILD, "capsule")
GUEST = os.path.join(BUILD, "bench", "guests", "watchbench.elf")
ROUNDS, CALLS, WRITES = 3000, 5000, 2000


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)


def call(c, method, path, body=None):
    c.request(method, path, body=json.dumps(body) if body is not None else None)
    r = c.getresponse()
    data = r.read()
    assert r.status < 300, (path, r.status, data)
    return json.loads(data) if data else {}


def symbol(name):
    out = subprocess.run(["nm", GUEST], capture_output=True, text=True).stdout
    return int([l for l in out.splitlines() if l.endswith(" " + name)][0].split()[0], 16)


def start(tmp, cmdline):
    sock = os.path.join(tmp, "api.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    p = subprocess.Popen([CAPSULE, "run", "--api-sock", sock, "--cmdline", cmdline, GUEST],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().startswith("watchbench: ready")
    for _ in range(200):
        if os.path.exists(sock):
            break
        time.sleep(0.01)
    return p, sock


def one(tmp, watch):
    p, sock = start(tmp, "%d %d %d" % (ROUNDS, CALLS, WRITES))
    if watch:
        c = UnixHTTP(sock)
        call(c, "PUT", "/api/v1/vm.watch", {"gpa": hex(symbol(watch)), "len": 4096})
        c.close()
    p.stdin.write("go\n")
    p.stdin.flush()
    line = p.stdout.readline()
    p.wait(60)
    f = dict(kv.split("=") for kv in line.split()[1:])
    return int(f["compute_ns"]), int(f["hc_ns"]), int(f["write_ns"])


def med(xs):
    return statistics.median(xs), min(xs), max(xs)


def row(what, a, b, unit, scale, floor):
    (am, alo, ahi), (bm, blo, bhi) = med(a), med(b)
    # the minima's ratio too: on a loaded host it is the steadier of the two
    print("| %s | %.2f %s (%.2f-%.2f) | %s %.2f %s (%.2f-%.2f) | %.3fx (minima %.3fx) |" % (
        what, am / scale, unit, alo / scale, ahi / scale, floor, bm / scale, unit,
        blo / scale, bhi / scale, am / bm, alo / blo))


def main():
    tmp = tempfile.mkdtemp(prefix="capsule-bench-introspect-")
    res = {k: [] for k in ("none", "elsewhere", "target")}
    load0 = open("/proc/loadavg").read().split()[:3]
    for _ in range(RUNS):
        res["none"].append(one(tmp, None))
        res["elsewhere"].append(one(tmp, "watch_elsewhere"))
        res["target"].append(one(tmp, "watch_target"))
    col = lambda k, i: [r[i] for r in res[k]]
    row("compute kernel, a watch armed elsewhere", col("elsewhere", 0), col("none", 0), "ms",
        1e6, "no watch")
    row("hypercall round trip, a watch armed elsewhere", col("elsewhere", 1), col("none", 1),
        "us", 1e3, "no watch")
    row("a write to a watched page (completed by the VMM)", col("target", 2), col("none", 1),
        "us", 1e3, "a hypercall's exit, same run:")
    row("a write to a watched page", col("target", 2), col("none", 2), "us", 1e3,
        "the same write unwatched")
    # reads on one idle domain (it waits for "go"), interleaved with pings
    p, sock = start(tmp, "1 1 1")
    c = UnixHTTP(sock)
    ping, small, big = [], [], []
    for _ in range(RUNS):
        for lst, path, body, n in ((ping, "/api/v1/vmm.ping", None, 200),
                                   (small, "/api/v1/vm.memory",
                                    {"gpa": "0x100000", "len": 4096}, 200),
                                   (big, "/api/v1/vm.memory",
                                    {"gpa": "0x100000", "len": 1 << 20}, 20)):
            t = time.perf_counter()
            for _ in range(n):
                call(c, "GET" if body is None else "PUT", path, body)
            lst.append((time.perf_counter() - t) / n * 1e9)
    c.close()
    p.stdin.write("go\n")
    p.stdin.flush()
    p.wait(60)
    row("introspection read, 4 KiB (vm.memory)", small, ping, "us", 1e3, "vmm.ping")
    row("introspection read, 1 MiB (vm.memory)", big, ping, "us", 1e3, "vmm.ping")
    bm = statistics.median(big)
    print("| introspection read throughput, 1 MiB requests | %.0f MiB/s | | |" % (1e9 / bm))
    print("host load before: %s, after: %s" % (" ".join(load0), " ".join(
        open("/proc/loadavg").read().split()[:3])))
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
