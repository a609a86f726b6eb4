#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Live migration, pre-copy (docs/migration.md), between two network namespaces joined by a
veth pair on this machine: the vsnap guest (tests/guests/vsnap.c: ticks, events between its
vCPUs, block N written with N at tick N) migrates from a VMM in one namespace to `capsule
run --incoming` in the other, over plain TCP, its disk on a path both see; on the
destination it goes on with the next tick (none lost, none twice) and every block holds its
number. The migration is mutually authenticated TLS (a CA made here with openssl(1));
plain TCP only with --insecure on both sides. Before that, migrations that fail before
switch-over leave the source running: no destination, one that dies mid-stream, one that
dies before it is ready, a network that goes away (the veth deleted), a client whose
certificate another CA signed, one with no certificate, one speaking plain TCP to TLS.

    tests/integration/migrate.py BUILD      (root: ip netns)
"""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from twohosts import make_pki as twohosts_pki, veth_up  # noqa: E402
from unixhttp import get_json  # noqa: E402
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
CAPSULE = os.path.abspath(os.path.join(BUILD, "capsule"))
VSNAP = os.path.abspath(os.path.join(BUILD, "tests/guests/vsnap.elf"))
VDIRTY = os.path.abspath(os.path.join(BUILD, "tests/guests/vdirty.elf"))
POWERBUTTON = os.path.abspath(os.path.join(BUILD, "tests/hvm/powerbutton.elf"))
HIGHMEM = os.path.abspath(os.path.join(BUILD, "tests/hvm/highmem.elf32"))
TMP = tempfile.mkdtemp(prefix="capsule-mig-")
TICK = re.compile(rb"vsnap: tick (\d+) ms (\d+) pongs (\d+) gen (\d+)")
N = os.getpid() % 10000
NS_A, NS_B = "capmig-a%d" % N, "capmig-b%d" % N
VETH_A, VETH_B = "cmga%d" % N, "cmgb%d" % N
NET = "10.%d.%d" % (200 + N % 50, N % 250)
ADDR_A, ADDR_B = NET + ".1", NET + ".2"
passed = failed = 0


def report(name, ok, why=""):
    global passed, failed
    if ok:
        passed += 1
        print("PASS migrate-" + name)
    else:
        failed += 1
        print("FAIL migrate-%s: %s" % (name, why))
    sys.stdout.flush()


def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, timeout=30, check=check)


def netns_up():
    sh("ip", "netns", "add", NS_A)
    sh("ip", "netns", "add", NS_B)
    link_up()


def link_up():
    veth_up(NS_A, VETH_A, ADDR_A, NS_B, VETH_B, ADDR_B)


def netns_down():
    for ns in (NS_A, NS_B):
        sh("ip", "netns", "del", ns, check=False)


def in_ns(ns, args):
    return ["ip", "netns", "exec", ns] + args


DOMAINS = []


class Domain:
    def __init__(self, name, ns, args, timeout=90):
        DOMAINS.append(self)
        self.sock = os.path.join(TMP, name + ".sock")
        self.out = os.path.join(TMP, name + ".out")
        self.p = subprocess.Popen(in_ns(ns, ["timeout", "-k", "5", str(timeout), CAPSULE,
                                             "run", "--api-sock", self.sock] + args),
                                  stdout=open(self.out, "wb"), stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)

    def wait_sock(self):
        deadline = time.time() + 30
        while not os.path.exists(self.sock) and time.time() < deadline:
            time.sleep(0.02)

    def output(self):
        with open(self.out, "rb") as f:
            return f.read()

    def ticks(self):
        return [tuple(int(x) for x in m) for m in TICK.findall(self.output())]

    def wait_ticks(self, n, limit=10):
        deadline = time.time() + limit
        while len(self.ticks()) < n and time.time() < deadline and self.p.poll() is None:
            time.sleep(0.05)
        return len(self.ticks()) >= n

    def wait(self, limit=30):
        try:
            return self.p.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.p.wait()

    def kill(self):
        # timeout(1) leads a process group of itself and the VMM: killing timeout alone
        # left the VMM running, orphaned, its domain spinning for good and loading the
        # host for every later test.
        try:
            os.killpg(self.p.pid, 9)
        except ProcessLookupError:
            pass


PKI = os.path.join(TMP, "pki")


def make_pki():
    """A CA, a certificate for each host, and a rogue one from another CA."""
    twohosts_pki(PKI, "capsule-test-")


def tls(host):
    return ["--tls", os.path.join(PKI, host)]


def migrate(src, dest, *more):
    p = subprocess.run(in_ns(NS_A, [CAPSULE, "control", src.sock, "migrate", dest] +
                             list(more)),
                       capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode() + p.stderr.decode()


def fake_destination(behaviour):
    """A destination in namespace B that fails: 'mid-stream' reads a little and closes,
    'not-ready' reads the whole stream and closes, 'silent' reads it and never answers."""
    code = r"""
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((%r, 7000)); s.listen(1); print("listening", flush=True)
c, _ = s.accept()
if %r == "mid-stream":
    c.recv(4096); c.close(); sys.exit(0)
data = b""
while b"CAPSNAP" not in data[64:] or len(data) < 200000:
    b = c.recv(65536)
    if not b: break
    data += b
time.sleep(0.5)
if %r == "silent":
    time.sleep(60)
c.close()
""" % (ADDR_B, behaviour, behaviour)
    p = subprocess.Popen(in_ns(NS_B, ["python3", "-c", code]), stdout=subprocess.PIPE)
    p.stdout.readline()
    return p


def still_running(src, why):
    n = len(src.ticks())
    went_on = src.wait_ticks(n + 20)
    p = subprocess.run([CAPSULE, "control", src.sock, "info"], capture_output=True, timeout=30)
    return went_on and src.p.poll() is None and b'"running"' in p.stdout, \
        "%s; ticks %d then %d; %s" % (why, n, len(src.ticks()), p.stdout[-200:])


def blocks_hold_their_numbers(img, last):
    with open(img, "rb") as f:
        data = f.read((last + 1) * 512)
    for k in range(last + 1):
        if any(w != k for w in struct.unpack_from("<64Q", data, k * 512)):
            return "block %d is wrong" % k
    return ""


def main():
    img = os.path.join(TMP, "disk.img")  # the shared storage: one path, both namespaces
    with open(img, "wb") as f:
        f.truncate(16 << 20)  # 32768 blocks: no tick wraps around in this test
    src = Domain("src", NS_A, ["--vcpus", "2", "--disk", img, VSNAP])
    src.wait_sock()
    events = subprocess.Popen(["curl", "-sN", "--unix-socket", src.sock,
                               "http://x/api/v1/vm.events"], stdout=subprocess.PIPE)
    src.wait_ticks(20)

    rc, out = migrate(src, ADDR_B + ":7000", "--insecure")
    ok, why = still_running(src, out)
    report("no-destination-source-runs", rc != 0 and "cannot connect" in out and ok, why)
    for behaviour in ("mid-stream", "not-ready"):
        fake = fake_destination(behaviour)
        rc, out = migrate(src, ADDR_B + ":7000", "--insecure")
        fake.kill()
        fake.wait()
        ok, why = still_running(src, out)
        report("destination-dies-%s-source-runs" % behaviour, rc != 0 and ok, why)
    # The network goes away while the source waits for the destination's answer.
    fake = fake_destination("silent")
    mig = subprocess.Popen(in_ns(NS_A, [CAPSULE, "control", src.sock, "migrate",
                                        ADDR_B + ":7000", "--insecure"]), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    time.sleep(1.5)
    sh("ip", "-n", NS_A, "link", "del", VETH_A)
    out = mig.communicate(timeout=60)[0].decode()
    fake.kill()
    fake.wait()
    ok, why = still_running(src, out)
    report("network-dropped-source-runs", mig.returncode != 0 and ok, why)
    link_up()

    # TLS refusals: the destination takes only a certificate of its CA, the client too.
    p = subprocess.run(in_ns(NS_B, [CAPSULE, "run", "--incoming", ADDR_B + ":7009"]),
                       capture_output=True, timeout=30)
    report("incoming-needs-tls-or-insecure", p.returncode == 125 and b"--insecure" in p.stderr,
           p.stderr.decode()[-200:])
    for name, args in (("rogue-certificate", tls("rogue")),
                       ("no-certificate", ["--tls", os.path.join(TMP, "nothing")]),
                       ("plain-to-tls", ["--insecure"])):
        dst = Domain("refuse-" + name, NS_B, ["--incoming", ADDR_B + ":7003"] + tls("b"),
                     timeout=30)
        time.sleep(0.5)
        rc, out = migrate(src, ADDR_B + ":7003", *args)
        status = dst.wait()
        ok, why = still_running(src, out)
        report("tls-refused-%s-source-runs" % name, rc != 0 and ok and status != 0 and
               b"vsnap: tick" not in dst.output(),
               "%s; destination status %d: %s" % (why, status, dst.output()[-200:]))

    # The real thing.
    dst = Domain("dst", NS_B, ["--incoming", ADDR_B + ":7001", "--timeout", "5"] + tls("b"))
    time.sleep(0.5)
    src.wait_ticks(len(src.ticks()) + 10)
    rc, out = migrate(src, ADDR_B + ":7001", *tls("a"))
    m = re.search(r"\{.*\}", out)
    rep = json.loads(m.group(0)) if m else {}
    report("migrates-over-tls", rc == 0 and rep.get("migrated") and "(TLS)" in out, out)
    status = src.wait()
    report("source-ends", status == 0, "status %d: %s" % (status, src.output()[-300:]))
    dstatus = dst.wait()
    before, after = src.ticks(), dst.ticks()
    seq = [t[0] for t in before] + [t[0] for t in after]
    report("ticks-continue", before and after and after[0][0] == before[-1][0] + 1 and
           seq == list(range(seq[0], seq[-1] + 1)) and len(after) > 50 and dstatus == 124,
           "source ended at %r, destination %r..%r, status %d" %
           (before[-1:], after[:1], after[-1:], dstatus))
    report("generation-changes", after and after[-1][3] == 1 and
           b"generation 1 (was 0)" in dst.output(), dst.output()[-300:])
    report("events-continue", after and after[0][2] == before[-1][2] + 1,
           "pongs %r then %r" % (before[-1:], after[:1]))
    why = blocks_hold_their_numbers(img, after[-1][0]) if after else "no ticks"
    report("blocks-continue", why == "", why)
    downtime = rep.get("downtime_ms", -1)
    report("downtime-reported", 0 < downtime < 1000, "downtime %r ms" % downtime)
    print("migration: %s" % json.dumps(rep))
    events.terminate()
    ev = events.communicate(timeout=10)[0].decode()
    report("progress-events", '"phase":"round"' in ev and '"phase":"done"' in ev and
           '"phase":"failed"' in ev, ev[-400:])
    dirtying()


def dirtying():
    """Plain TCP (--insecure): a guest writing 1500 pages (6 MiB) every 10 ms, with a 1 ms
    downtime limit: pages it dirtied after the first pass are sent again (in further rounds
    or at the switch-over: how many rounds depends on the link's speed against the dirty
    rate, which a quiet host and a loaded one answer differently), and after the switch-over
    every one of its 4096 pages holds what the guest last wrote there (tests/guests/vdirty.c
    checks them). The write working-set sampler reads the same dirty log every 50 ms all
    along (include/capsule/dirty.h: two users of one log): a page it took from the
    migration's rounds would arrive stale."""
    src = Domain("dsrc", NS_A, ["--mem", "64", "--wss-period", "50", "--wss-sample", "16384",
                                "--cmdline", "1500", VDIRTY])
    dst = Domain("ddst", NS_B, ["--incoming", ADDR_B + ":7002", "--timeout", "5",
                                "--insecure"])
    src.wait_sock()
    time.sleep(1)
    w = get_json(src.sock, "/api/v1/vm.wss")
    report("dirtying-guest-sampled", w.get("state") == "sampling" and w.get("periods", 0) >= 5 and
           w.get("active_fraction", 0) > 0.01, w)
    rc, out = migrate(src, ADDR_B + ":7002", "1", "--insecure")
    m = re.search(r"\{.*\}", out)
    rep = json.loads(m.group(0)) if m else {}
    src.wait()
    dst.wait()
    o = dst.output()
    report("dirtying-guest-several-rounds", rc == 0 and rep.get("rounds", 0) >= 1 and
           rep.get("last_pages", 0) > 0 and rep.get("pages", 0) > rep.get("last_pages", 0),
           out)
    report("dirtying-guest-memory-intact", b"vdirty: verified 4096 pages gen 1" in o and
           b"MISMATCH" not in o and b"FAILURE" not in o and o.count(b"vdirty: tick") > 50,
           o[-300:])
    print("dirtying migration: %s" % json.dumps(rep))
    auto_converge(False, 7006)
    auto_converge(True, 7008)
    postcopy(7012)
    hvm()


def postcopy(port):
    """--postcopy: the switch-over comes at once and the pages follow. vdirty's first act
    at the destination is to check all its 4096 pages (the generation changed), so its
    vCPU faults on pages still at the source, which are sent on demand (the reply counts
    them) while the rest are pushed; every page must hold the number it last wrote. The
    link is shaped to 100 Mbit/s so that pushing the 16 MiB takes over a second: the
    guest's check is certain to get ahead of the push."""
    src = Domain("pc-src", NS_A, ["--mem", "64", "--cmdline", "80 10", VDIRTY])
    dst = Domain("pc-dst", NS_B, ["--incoming", "%s:%d" % (ADDR_B, port), "--timeout", "6",
                                  "--insecure"])
    src.wait_sock()
    time.sleep(1)
    sh("tc", "-n", NS_A, "qdisc", "add", "dev", VETH_A, "root", "tbf", "rate", "100mbit",
       "burst", "64kb", "latency", "100ms")
    try:
        rc, out = migrate(src, "%s:%d" % (ADDR_B, port), "--insecure", "--postcopy")
    finally:
        sh("tc", "-n", NS_A, "qdisc", "del", "dev", VETH_A, "root", check=False)
    m = re.search(r"\{.*\}", out)
    rep = json.loads(m.group(0)) if m else {}
    src.wait()
    status = dst.wait()
    o = dst.output()
    report("postcopy-pages-on-demand", rc == 0 and rep.get("rounds") == 0 and
           rep.get("postcopy_requested", 0) > 0 and rep.get("postcopy_pages", 0) >= 4096,
           out)
    report("postcopy-memory-intact", b"vdirty: verified 4096 pages gen 1" in o and
           b"MISMATCH" not in o and b"FAILURE" not in o and o.count(b"vdirty: tick") > 50 and
           status == 124, "status %d: %r" % (status, o[-400:]))
    print("post-copy migration: %s" % json.dumps(rep))
    hvm_highmem()


def auto_converge(on, port):
    """vdirty as a fierce dirtier (all 4096 pages, no sleep) over a link shaped to
    200 Mbit/s (tc tbf on the source's veth): the guest dirties faster than that (here
    its first write to each page after a fetch costs a fault of some 50 us, about
    400 Mbit/s), so without auto-converge the rounds never get below the 10 ms limit and
    the round limit switches over; with it, the events show the throttle rising and the
    switch-over comes before the round limit, expecting no more than the limit. Either
    way every page arrives intact."""
    name = "ac-%s" % ("on" if on else "off")
    src = Domain(name + "-src", NS_A, ["--mem", "64", "--cmdline", "4096 0", VDIRTY])
    dst = Domain(name + "-dst", NS_B, ["--incoming", "%s:%d" % (ADDR_B, port), "--timeout",
                                       "3", "--insecure"])
    src.wait_sock()
    events = subprocess.Popen(["curl", "-sN", "--unix-socket", src.sock,
                               "http://x/api/v1/vm.events"], stdout=subprocess.PIPE)
    time.sleep(1)
    limit = 30 if on else 5
    sh("tc", "-n", NS_A, "qdisc", "add", "dev", VETH_A, "root", "tbf", "rate", "200mbit",
       "burst", "64kb", "latency", "500ms")
    try:
        rc, out = migrate(src, "%s:%d" % (ADDR_B, port), "10", "--insecure", "--max-rounds",
                          str(limit), *(["--auto-converge"] if on else []))
    finally:
        sh("tc", "-n", NS_A, "qdisc", "del", "dev", VETH_A, "root", check=False)
    src.wait()
    dst.wait()
    try:
        lines = events.communicate(timeout=10)[0].decode().splitlines()
    except subprocess.TimeoutExpired:
        events.kill()
        lines = events.communicate()[0].decode().splitlines()
    ev = [json.loads(l) for l in lines if l.startswith("{") and '"migration"' in l]
    rounds = [e for e in ev if e.get("phase") == "round"]
    so = [e for e in ev if e.get("phase") == "switch-over"]
    throttles = [e.get("throttle_pct", -1) for e in rounds]
    o = dst.output()
    why = "%s; rounds %s; switch-over %s" % (out[-300:], throttles, so)
    # What each round's event says the guest did: wrote more than half of what the round
    # sent (it outran the link), or not (a loaded host starved its vCPU meanwhile).
    outran = [e["remaining_pages"] > e["pages"] / 2 for e in rounds]
    if on:
        # The policy, round by round: a round that outran raises the throttle one step.
        want, policy = 0, True
        for e, fast in zip(rounds, outran):
            if fast and want < 99:
                want = min(99, want + 10 if want else 20)
            policy &= e.get("throttle_pct") == want
        report("auto-converge-throttles-and-converges",
               rc == 0 and so and so[0]["round"] < limit and
               so[0]["expected_downtime_ms"] <= 10 and policy and
               (max(throttles or [0]) >= 20 or not any(outran)), why)
    else:
        # Never throttled; a guest that outran the link every round is switched over at
        # the round limit, expecting more than the limit.
        report("no-auto-converge-hits-round-limit",
               rc == 0 and so and throttles and all(t == 0 for t in throttles) and
               (not all(outran) or (so[0]["round"] == limit and
                                    so[0]["expected_downtime_ms"] > 10)), why)
        if not all(outran):
            print("note: the host starved the guest in a round (%s); the round limit was "
                  "not needed" % outran)
    report(name + "-memory-intact", b"vdirty: verified 4096 pages gen 1" in o and
           b"MISMATCH" not in o and b"FAILURE" not in o, o[-300:])


def hvm():
    """An HVM test kernel (LAPIC timer, IOAPIC, GED, UART) migrates and, at the
    destination, powers off on the button it is sent there."""
    src = Domain("hsrc", NS_A, ["--mem", "64", "--cmdline", "press", POWERBUTTON])
    dst = Domain("hdst", NS_B, ["--incoming", ADDR_B + ":7004", "--insecure"])
    src.wait_sock()
    deadline = time.time() + 10
    while b"powerbutton: waiting" not in src.output() and time.time() < deadline:
        time.sleep(0.05)
    rc, out = migrate(src, ADDR_B + ":7004", "--insecure")
    dst.wait_sock()
    time.sleep(0.3)
    p = subprocess.run([CAPSULE, "control", dst.sock, "shutdown", "10"], capture_output=True,
                       timeout=30)
    status, o = dst.wait(), dst.output()
    report("hvm-migrates-and-runs", rc == 0 and src.wait() == 0 and p.returncode == 0 and
           status == 0 and b"the power button was pressed" in o and
           b"Test result: SUCCESS" in o, "%s; destination %d: %r" % (out, status, o[-300:]))


def hvm_highmem():
    """An HVM domain with RAM above 4 GiB (tests/hvm/highmem.c) migrates: the destination
    finds the patterns it wrote above 4 GiB and below the hole before the migration, then
    writes and checks a second set."""
    args = ["--mem", "4608", "--cmdline", "low=3072 high=1536 snap", HIGHMEM]
    src = Domain("hmsrc", NS_A, args)
    dst = Domain("hmdst", NS_B, ["--incoming", ADDR_B + ":7010", "--insecure"])
    src.wait_sock()
    deadline = time.time() + 10
    while b"written, waiting" not in src.output() and time.time() < deadline:
        time.sleep(0.05)
    rc, out = migrate(src, ADDR_B + ":7010", "--insecure")
    dst.wait_sock()
    time.sleep(0.3)
    for text in (b"rewritten, waiting", b"Test result"):
        subprocess.run([CAPSULE, "control", dst.sock, "shutdown", "30"], capture_output=True,
                       timeout=30)
        deadline = time.time() + 20
        while text not in dst.output() and time.time() < deadline and dst.p.poll() is None:
            time.sleep(0.05)
    status, o = dst.wait(), dst.output()
    report("hvm-highmem-migrates", rc == 0 and src.wait() == 0 and status == 1 and
           b"the second patterns read back" in o and o.rstrip().endswith(b"Test result: SUCCESS"),
           "%s; destination %d: %r" % (out, status, o[-300:]))


try:
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("openssl"):
        print("FAIL migrate-prerequisites: needs root, ip(8) for network namespaces and "
              "openssl(1) (scripts/install-deps.sh test installs them)")
        sys.exit(1)
    make_pki()
    netns_down()
    netns_up()
    main()
finally:
    for d in DOMAINS:
        if d.p.poll() is None:
            d.kill()
            d.p.wait()
    netns_down()
    shutil.rmtree(TMP, ignore_errors=True)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
