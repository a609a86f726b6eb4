#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""capsuled's benchmarks (docs/benchmarks.md, "capsuled"): rows of a markdown table.

  bench/daemon.py BUILD [RUNS]

- `capsule create` until the domain runs (it returns once the VMM's API answers), against
  `capsule run --api-sock` of the same image until its API answers vm.info: RUNS
  interleaved pairs, medians with their range, and the ratio of the medians;
- `capsule list` with 1, 100 and 1,000 domains (median of 7) and capsuled's RSS;
- kill -9 of capsuled with 1,000 domains running: time until a new capsuled answers with
  all of them re-attached.
A capsuled of its own under a temporary directory; every domain is destroyed at the end.
"""
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 21
CAPSULE = os.path.join(BUILD, "capsule")
IMAGE = os.path.join(BUILD, "tests", "guests", "blocker.elf")


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def call(sock, method, path, body=None):
    c = UnixHTTP(sock)
    c.request(method, path, body=body)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def med(xs):
    return "%.2f ms (%.2f-%.2f)" % (statistics.median(xs), min(xs), max(xs))


def start_daemon(root):
    sock = os.path.join(root, "d.sock")
    t0 = time.perf_counter()
    p = subprocess.Popen(["timeout", "-s", "KILL", "1200", os.path.join(BUILD, "capsuled"),
                          "-f", "-s", sock, "-d", os.path.join(root, "state")],
                         stderr=open(os.path.join(root, "log"), "a"))
    while True:
        try:
            if call(sock, "GET", "/api/v1/daemon.info")[0] == 200:
                return p, sock, (time.perf_counter() - t0) * 1e3
        except OSError:
            time.sleep(0.002)


def run_until_api(root, i):
    """capsule run --api-sock of the image: ms until its API answers vm.info."""
    sock = os.path.join(root, "run%d.sock" % i)
    t0 = time.perf_counter()
    p = subprocess.Popen(["timeout", "60", CAPSULE, "run", "--mem", "4", "--api-sock", sock,
                          IMAGE], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            if call(sock, "GET", "/api/v1/vm.info")[0] == 200:
                break
        except OSError:
            time.sleep(0.0002)
    t = (time.perf_counter() - t0) * 1e3
    p.terminate()
    p.wait()
    return t


def main():
    root = tempfile.mkdtemp(prefix="capsuled-bench-")
    os.chmod(root, 0o755)
    p, sock, _ = start_daemon(root)
    env = dict(os.environ, CAPSULE_SOCKET=sock)
    cfg = os.path.join(root, "b.json")
    created, ran = [], []
    try:
        for i in range(RUNS):  # interleaved: load and noise hit both alike
            with open(cfg, "w") as f:
                json.dump({"name": "b%d" % i, "kernel": IMAGE, "memory": 4}, f)
            t0 = time.perf_counter()
            subprocess.run([CAPSULE, "create", cfg], env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            created.append((time.perf_counter() - t0) * 1e3)
            ran.append(run_until_api(root, i))
            subprocess.run([CAPSULE, "destroy", "b%d" % i], env=env, check=True)
        mc, mr = statistics.median(created), statistics.median(ran)
        print("| `capsule create` until running vs `capsule run --api-sock` until its API "
              "answers (%d interleaved runs, PV) | %s | %s | %.2fx (daemon overhead %.2f ms) |"
              % (RUNS, med(created), med(ran), mc / mr, mc - mr))
        n = 0
        for target in (1, 100, 1000):
            while n < target:
                st, data = call(sock, "POST", "/api/v1/domains",
                                json.dumps({"name": "l%d" % n, "kernel": IMAGE, "memory": 4}))
                assert st == 201, data
                n += 1
            lt = []
            for _ in range(7):
                t0 = time.perf_counter()
                subprocess.run([CAPSULE, "list"], env=env, check=True,
                               stdout=subprocess.DEVNULL)
                lt.append((time.perf_counter() - t0) * 1e3)
            rss = json.loads(call(sock, "GET", "/api/v1/daemon.info")[1])["rss_kib"]
            print("| `capsule list` with %d domains; capsuled RSS | %s | RSS %d KiB | |" %
                  (target, med(lt), rss))
        os.kill(json.loads(call(sock, "GET", "/api/v1/daemon.info")[1])["pid"], signal.SIGKILL)
        p.wait()  # timeout(1) ends with its child
        p, sock, ms = start_daemon(root)
        log = [l for l in open(os.path.join(root, "log")) if "re-attached" in l][-1]
        reattach = float(log.rsplit(" in ", 1)[1].split()[0])
        st, data = call(sock, "GET", "/api/v1/domains")
        ok = sum(d["state"] == "running" for d in json.loads(data)["domains"])
        print("| kill -9 of capsuled with 1000 domains, then a new one: answering, all "
              "re-attached (%d running) | %.0f ms | re-attach itself %.1f ms | |" %
              (ok, ms, reattach))
    finally:
        try:
            for d in json.loads(call(sock, "GET", "/api/v1/domains")[1])["domains"]:
                call(sock, "PUT", "/api/v1/domain.destroy?domain=%d" % d["id"])
        except OSError:
            pass
        p.terminate()
        p.wait()
        subprocess.run(["rm", "-rf", root])


if __name__ == "__main__":
    main()
