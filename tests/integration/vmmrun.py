# SPDX-License-Identifier: Apache-2.0
"""What the Python suites that run `capsule run` share: PASS/FAIL lines and their count,
`capsule control`, and a domain run in the background with its API socket and output file.

    from vmmrun import Suite, Domain, control
"""
import os
import re
import subprocess
import sys
import time


class Suite:
    """report() prints PASS|FAIL PREFIX-NAME and counts; end() prints the totals and exits."""

    def __init__(self, prefix):
        self.prefix, self.passed, self.failed = prefix, 0, 0

    def report(self, name, ok, why=""):
        if ok:
            self.passed += 1
            print("PASS %s-%s" % (self.prefix, name))
        else:
            self.failed += 1
            print("FAIL %s-%s: %s" % (self.prefix, name, why))
        sys.stdout.flush()
        return ok

    def end(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.exit(1 if self.failed else 0)


def stop(p):
    """End a `timeout ... capsule` child: SIGTERM, which timeout(1) passes on to capsule
    (SIGKILL would leave capsule orphaned), then SIGKILL if it hangs."""
    p.terminate()
    try:
        return p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        return p.wait()


def control(capsule, sock, *args):
    p = subprocess.run([capsule, "control", sock] + list(args), capture_output=True,
                       timeout=60)
    return p.returncode, p.stdout.decode() + p.stderr.decode()


class Domain:
    """capsule run --api-sock TMP/NAME.sock ARGS, its console and messages in TMP/NAME.out.
    A subclass sets TICK, a bytes regex of its guest's tick line, for ticks()."""
    TICK = None

    def __init__(self, capsule, tmp, name, args, timeout=60):
        self.capsule = capsule
        self.sock = os.path.join(tmp, name + ".sock")
        self.out = os.path.join(tmp, name + ".out")
        self.p = subprocess.Popen(["timeout", "-k", "5", str(timeout), capsule, "run",
                                   "--api-sock", self.sock] + args,
                                  stdout=open(self.out, "wb"), stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
        deadline = time.time() + 10
        while not os.path.exists(self.sock) and time.time() < deadline:
            time.sleep(0.02)

    def output(self):
        with open(self.out, "rb") as f:
            return f.read()

    def ticks(self):
        return [tuple(int(x) for x in m) for m in self.TICK.findall(self.output())]

    def wait_ticks(self, n, limit=10):
        deadline = time.time() + limit
        while len(self.ticks()) < n and time.time() < deadline and self.p.poll() is None:
            time.sleep(0.05)
        return len(self.ticks()) >= n

    def wait_for(self, pattern, limit=20):
        """Until the output matches pattern (bytes regex) or the domain ends."""
        deadline = time.time() + limit
        while time.time() < deadline and self.p.poll() is None:
            if re.search(pattern, self.output()):
                return True
            time.sleep(0.05)
        return bool(re.search(pattern, self.output()))

    def wait(self):
        try:
            return self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return self.p.wait()

    def stop(self):
        if self.p.poll() is None:
            control(self.capsule, self.sock, "destroy")
        return self.wait()
