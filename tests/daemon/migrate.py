#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""capsule migrate through capsuled (docs/migration.md, "Through capsuled"): two "hosts",
network namespaces named with "snap" joined by a veth pair, each with its own capsuled,
state directory and socket; the disk-less guests need no shared storage but the kernel
path, which both see.

  migrate.py BUILD [--only NAME,...]

Each failure must leave the source's domain running and listed and nothing at the
destination: no destination capsuled, a destination whose certificate another CA signed,
plain TCP to a TLS listener, an abort from the CLI, the destination capsuled killed, and
the veth deleted, each mid-migration. Then a migration over TLS: the domain leaves the
source's list, is the destination's (list, info, console, destroy), and its ticks go on.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as base  # noqa: E402  the daemon harness
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from twohosts import make_pki, veth_up  # noqa: E402
from run import GUESTS, call, report, wait_for  # noqa: E402

ARGS = sys.argv[1:]
ONLY = ARGS[ARGS.index("--only") + 1].split(",") if "--only" in ARGS else None
TICKER = os.path.join(GUESTS, "ticker.elf")
VDIRTY = os.path.join(GUESTS, "vdirty.elf")
N = os.getpid() % 10000
NS_A, NS_B = "snap-mig-a%d" % N, "snap-mig-b%d" % N
VETH_A, VETH_B = "snpa%d" % N, "snpb%d" % N
NET = "10.%d.%d" % (150 + N % 50, N % 250)
ADDR_A, ADDR_B = NET + ".1", NET + ".2"
DEST = ADDR_B + ":8002"


def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, timeout=30, check=check)


def link_up():
    veth_up(NS_A, VETH_A, ADDR_A, NS_B, VETH_B, ADDR_B)


def shape(on):
    """The source's link at 10 Mbit/s: the first round of vdirty (16 MiB of data, some
    of it taken at once by the sockets' buffers) takes about 10 s, so what happens 1 to
    1.5 s in happens mid-migration, whatever the guest does meanwhile."""
    if on:
        sh("tc", "-n", NS_A, "qdisc", "add", "dev", VETH_A, "root", "tbf", "rate", "10mbit",
           "burst", "64kb", "latency", "500ms")
    else:
        sh("tc", "-n", NS_A, "qdisc", "del", "dev", VETH_A, "root", check=False)


class NsDaemon(base.Daemon):
    """A capsuled in a network namespace, with options of its own."""

    def __init__(self, root, ns, extra):
        super().__init__(root)
        self.ns, self.extra = ns, extra

    def start(self):
        self.logf = open(self.log, "a")
        self.p = subprocess.Popen(["ip", "netns", "exec", self.ns, "timeout", "-s", "KILL",
                                   "900", base.CAPSULED, "--foreground", "--socket", self.sock,
                                   "--state-dir", self.state] + self.extra,
                                  stdout=self.logf, stderr=self.logf, stdin=subprocess.DEVNULL)
        ok = wait_for(lambda: os.path.exists(self.sock) and self.ping(), 30)
        assert ok, "capsuled did not start: %s" % open(self.log).read()[-2000:]

    def names(self):
        return sorted(d["name"] for d in self.domains())

    def console(self, name):
        st, data = call(self.sock, "GET", "/api/v1/domain.console?domain=" + name)
        return data.decode(errors="replace") if st == 200 else ""

    def ticks(self, name):
        return [int(n) for n in re.findall(r"^tick (\d+)$", self.console(name), re.M)]


def runs_on(src, name, why):
    """The source's domain is listed, running, and its console goes on."""
    d = src.dom(name)
    last = lambda: max([int(t) for t in re.findall(r"tick (\d+)", src.console(name))] or [-1])
    n = last()
    grew = wait_for(lambda: last() > n, 10)
    return bool(d and d["state"] == "running" and grew), "%s; source record %s, ticks %d " \
        "then %d" % (why, d, n, last())


def vmms_of(dm):
    """Every VMM process started for dm's state directory (an incoming one too)."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if len(cmd) > 1 and cmd[1] == b"run" and any(dm.state.encode() in a for a in cmd):
            out.append(int(pid))
    return out


def nothing_at(dst):
    return dst is None or (dst.domains() == [] and vmms_of(dst) == [] and
                           os.listdir(os.path.join(dst.state, "domains")) == [])


def migrate(src, name, *more):
    return src.cli("migrate", name, DEST, *more, timeout=120)


def migrate_async(src, name, *more):
    env = dict(os.environ, CAPSULE_SOCKET=src.sock)
    return subprocess.Popen([base.CAPSULE, "migrate", name, DEST] + list(more), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_migrating(src, name):
    """Until the source's events say the migration runs (its relay is up)."""
    return wait_for(lambda: "migrating" in src.cli("log", name)[1], 20)


def main():
    root = tempfile.mkdtemp(prefix="capsule-snap-mig-")
    pki = os.path.join(root, "pki")
    make_pki(pki, "snap-")
    for ns in (NS_A, NS_B):
        sh("ip", "netns", "del", ns, check=False)
        sh("ip", "netns", "add", ns)
    link_up()
    src = NsDaemon(os.path.join(root, "a"), NS_A, ["--migrate-tls", os.path.join(pki, "a")])
    good_b = ["--migrate-listen", DEST, "--migrate-tls", os.path.join(pki, "b")]
    dst = None
    try:
        os.makedirs(src.root)
        src.start()
        st, data = src.create("m1", TICKER, 16)
        assert st == 201, data
        wait_for(lambda: len(src.ticks("m1")) > 5, 10)

        # 1. no destination capsuled
        rc, out, err = migrate(src, "m1")
        ok, why = runs_on(src, "m1", out + err)
        report("migrate-no-destination", rc == 1 and "cannot connect" in err and ok, why)

        # 2. a destination whose certificate another CA signed
        dst = NsDaemon(os.path.join(root, "b"), NS_B,
                       ["--migrate-listen", DEST, "--migrate-tls", os.path.join(pki, "rogue")])
        os.makedirs(dst.root)
        dst.start()
        rc, out, err = migrate(src, "m1")
        ok, why = runs_on(src, "m1", out + err)
        report("migrate-wrong-certificate-refused", rc == 1 and ok and nothing_at(dst), why)
        dst.stop()

        # 3. plain TCP to a TLS listener
        dst = NsDaemon(dst.root, NS_B, good_b)
        dst.start()
        rc, out, err = migrate(src, "m1", "--insecure")
        ok, why = runs_on(src, "m1", out + err)
        report("migrate-plain-to-tls-refused", rc == 1 and ok and nothing_at(dst), why)

        # 4-6. mid-migration: a dirtier over a slow link takes seconds
        st, data = src.create("m2", VDIRTY, 64, cmdline="4096 0")
        assert st == 201, data
        wait_for(lambda: "vdirty: tick" in src.console("m2"), 10)
        shape(True)
        try:
            p = migrate_async(src, "m2", "--max-rounds", "30", "--downtime", "1")
            wait_migrating(src, "m2")
            time.sleep(1)
            rc_a, out_a, err_a = src.cli("migrate-abort", "m2")
            out = p.communicate(timeout=120)[0]
            ok, why = runs_on(src, "m2", out + out_a + err_a)
            report("migrate-abort-from-cli", rc_a == 0 and p.returncode == 1 and
                   "aborted" in out and ok and wait_for(lambda: nothing_at(dst), 10), why)

            p = migrate_async(src, "m2", "--max-rounds", "30", "--downtime", "1")
            wait_migrating(src, "m2")
            time.sleep(1.5)
            os.kill(dst.pid(), signal.SIGKILL)
            dst.p.wait(10)
            out = p.communicate(timeout=120)[0]
            ok, why = runs_on(src, "m2", out)
            dst.start()
            report("migrate-destination-killed", p.returncode == 1 and ok and
                   wait_for(lambda: nothing_at(dst), 10), why + "; dst " + str(dst.domains()))

            p = migrate_async(src, "m2", "--max-rounds", "30", "--downtime", "1")
            wait_migrating(src, "m2")
            time.sleep(1.5)
            sh("ip", "-n", NS_A, "link", "del", VETH_A)
            out = p.communicate(timeout=120)[0]
            ok, why = runs_on(src, "m2", out)
            report("migrate-veth-dropped", p.returncode == 1 and ok and
                   wait_for(lambda: nothing_at(dst), 30), why + "; dst %s %s %s" % (
                       dst.domains(), vmms_of(dst), os.listdir(os.path.join(dst.state,
                                                                            "domains"))))
        finally:
            shape(False)
        link_up()

        # 7. over TLS: the destination's domain now, while three peers that connected to
        # its listener say nothing (each holds a thread of its own, not the listener)
        idle = [subprocess.Popen(["ip", "netns", "exec", NS_A, "python3", "-c",
                                  "import socket, time; s = socket.create_connection((%r, "
                                  "8002)); time.sleep(60)" % ADDR_B]) for _ in range(3)]
        time.sleep(0.5)
        connected = all(p.poll() is None for p in idle)
        last = src.ticks("m1")[-1]
        ev = subprocess.Popen([base.CAPSULE, "events"], env=dict(os.environ,
                              CAPSULE_SOCKET=src.sock), stdout=subprocess.PIPE, text=True)
        rc, out, err = migrate(src, "m1")
        for p in idle:
            p.kill()
            p.wait()
        report("migrate-over-tls-beside-idle-peers", connected and rc == 0 and
               "migrated m1 to " + DEST in out, "idle peers connected: %s; %s" % (connected,
                                                                          out + err))
        gone = wait_for(lambda: "m1" not in src.names(), 10)
        report("migrate-source-drops-it", gone and src.names() == ["m2"], str(src.names()))
        d = wait_for(lambda: dst.dom("m1"), 10)
        report("migrate-destination-lists-it", d and d["state"] == "running" and
               dst.names() == ["m1"], str(d))
        wait_for(lambda: len(dst.ticks("m1")) > 5, 10)
        t = dst.ticks("m1")
        report("migrate-ticks-go-on", t and last < t[0] <= last + 50 and
               t == list(range(t[0], t[0] + len(t))), "last here %d, there %s" % (last, t[:5]))
        rc, out, err = dst.cli("list")
        rc2, out2, err2 = dst.cli("destroy", "m1")
        report("migrate-destination-list-destroy", rc == 0 and "m1" in out and rc2 == 0 and
               wait_for(lambda: nothing_at(dst), 10), out + err + out2 + err2)

        # 8. post-copy over TLS: vdirty checks every page first thing at the destination
        st, data = src.create("m3", VDIRTY, 64, cmdline="80 10")
        assert st == 201, data
        wait_for(lambda: "vdirty: tick 20 " in src.console("m3"), 10)
        rc, out, err = migrate(src, "m3", "--postcopy", "--json")
        rep = json.loads(out) if rc == 0 and out.strip().startswith("{") else {}
        ok = wait_for(lambda: "verified 4096 pages gen 1" in dst.console("m3"), 10)
        con = dst.console("m3")
        report("migrate-postcopy", rc == 0 and rep.get("rounds") == 0 and
               rep.get("postcopy_pages", 0) >= 4096 and ok and "MISMATCH" not in con and
               "m3" not in src.names() and (dst.dom("m3") or {}).get("state") == "running",
               out + err + con[-300:])
        time.sleep(0.3)
        ev.terminate()
        evout = ev.communicate(timeout=5)[0]
        report("migrate-events", re.search(r"migrating\s+m1 .*" + re.escape(DEST), evout) and
               re.search(r"migration-progress\s+m1 .*\"phase\":\"round\",\"round\":0", evout)
               and re.search(r"migration-progress\s+m1 .*\"phase\":\"done\"", evout) and
               re.search(r"migrated\s+m1 .*\"rounds\"", evout), evout[-1500:])
    finally:
        for dm in (src, dst):
            if dm is None:
                continue
            try:
                dm.destroy_all()
            except Exception:
                pass
            dm.stop()
            for pid in vmms_of(dm):
                os.kill(pid, signal.SIGKILL)
        shape(False)
        for ns in (NS_A, NS_B):
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(root, ignore_errors=True)
    print("%d passed, %d failed" % (base.passed, base.failed))
    sys.exit(1 if base.failed else 0)


if __name__ == "__main__":
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("openssl"):
        print("FAIL daemon-migrate-prerequisites: needs root, ip(8) for network namespaces "
              "and openssl(1) (scripts/install-deps.sh test installs them)")
        sys.exit(1)
    main()
