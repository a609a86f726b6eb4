#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""API requests against a domain that is ending: a snapshot or a migration works on the
boot outside the domain's lock, and the boot's teardown (its memory unmapped, its devices
and vCPUs freed) must wait for it (domain_hold, src/domain/domain.c). Hostile timing:

  snapshot-while-ending  vdirty (16 MiB of data, so a snapshot takes a while) powers
      itself off after a few ticks, or is ended by SIGTERM at some point, while clients
      hammer snapshots and info; each run must end with the guest's own status (or the
      signal's), never a crash or a sanitizer report.
  migrate-while-ending  a migration whose destination reads nothing while the domain's
      --timeout ends it: the migration fails (the destination then goes), the VMM ends
      with the timeout status, not a crash on the torn-down boot.

    tests/integration/teardown.py BUILD
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
CAPSULE = os.path.join(BUILD, "capsule")
VDIRTY = os.path.join(BUILD, "tests/guests/vdirty.elf")
TMP = tempfile.mkdtemp(prefix="capsule-teardown-")
BAD = (b"AddressSanitizer", b"runtime error", b"LeakSanitizer", b"Segmentation", b"crashed",
       b"seccomp")
passed = failed = 0


def report(name, ok, why=""):
    global passed, failed
    if ok:
        passed += 1
        print("PASS teardown-" + name)
    else:
        failed += 1
        print("FAIL teardown-%s: %s" % (name, why))
    sys.stdout.flush()


def run(name, args, timeout=60):
    sock = os.path.join(TMP, name + ".sock")
    out = open(os.path.join(TMP, name + ".out"), "wb")
    p = subprocess.Popen(["timeout", "-k", "5", str(timeout), CAPSULE, "run", "--api-sock",
                          sock] + args, stdout=out, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    deadline = time.time() + 20
    while not os.path.exists(sock) and time.time() < deadline and p.poll() is None:
        time.sleep(0.01)
    return p, sock, os.path.join(TMP, name + ".out")


def info_once(sock):
    try:
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(5)
        c.connect(sock)
        c.sendall(b"GET /api/v1/vm.info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while c.recv(65536):
            pass
        c.close()
        return True
    except OSError:
        return False


def hammer(p, sock, what, counts):
    """Until the VMM is gone: snapshots into a fresh directory each, or info requests."""
    n = 0
    while p.poll() is None:
        if what == "snapshot":
            d = os.path.join(TMP, "snap-%d-%d" % (p.pid, n))
            r = subprocess.run([CAPSULE, "control", sock, "snapshot", d],
                               capture_output=True, timeout=60)
            shutil.rmtree(d, ignore_errors=True)
            counts[what + "-ok"] = counts.get(what + "-ok", 0) + (r.returncode == 0)
        else:
            info_once(sock)
        n += 1
    counts[what] = n


def snapshot_while_ending(rounds):
    bad = []
    snaps = 0
    for i in range(rounds):
        # 10 to 29 ticks of 2 ms, or SIGTERM after 0.2 to 0.7 s: the end lands at a
        # different point of a snapshot each time
        term = i % 2 == 1
        p, sock, out = run("off%d" % i, ["--mem", "64", "--cmdline",
                                         "256 2 %d" % (0 if term else 10 + 7 * i % 20),
                                         VDIRTY])
        counts = {}
        ts = [threading.Thread(target=hammer, args=(p, sock, w, counts))
              for w in ("snapshot", "snapshot", "info")]
        for t in ts:
            t.start()
        if term:
            time.sleep(0.2 + 0.05 * (i % 11))
            p.terminate()
        try:
            status = p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            status = p.wait()
        for t in ts:
            t.join()
        snaps += counts.get("snapshot-ok", 0)
        with open(out, "rb") as f:
            o = f.read()
        if status != (128 + 15 if term else 0) or any(b in o for b in BAD) or \
                (not term and b"powering off" not in o):
            bad.append("run %d: status %d, %r" % (i, status, o[-400:]))
    report("snapshot-while-ending", not bad and snaps > 0,
           "%d snapshots taken; %s" % (snaps, "; ".join(bad[:3])))


def migrate_while_ending():
    """The destination accepts and reads nothing, so the round blocks in write(); the
    domain's --timeout ends it meanwhile; the destination closes after 4 s."""
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    port = lst.getsockname()[1]
    p, sock, out = run("mig", ["--mem", "64", "--timeout", "2", "--cmdline", "256", VDIRTY])
    time.sleep(0.5)
    mig = subprocess.Popen([CAPSULE, "control", sock, "migrate", "127.0.0.1:%d" % port,
                            "--insecure"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    c, _ = lst.accept()
    time.sleep(4)
    c.close()
    lst.close()
    mo = mig.communicate(timeout=60)[0]
    try:
        status = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        status = p.wait()
    with open(out, "rb") as f:
        o = f.read()
    report("migrate-while-ending", status == 124 and mig.returncode != 0 and
           not any(b in o for b in BAD) and b"migration failed" in o,
           "status %d, migrate %d %r; %r" % (status, mig.returncode, mo[-200:], o[-400:]))


try:
    snapshot_while_ending(int(os.environ.get("TEARDOWN_ROUNDS", "12")))
    migrate_while_ending()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
