#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The GDB stub (capsule run --gdb PATH, docs/debugging.md) against real domains: Debian's
gdb in batch mode on the PV and HVM test targets built with symbols (tests/guests/
gdbtarget.c, tests/hvm/gdbtarget.c), asserting from gdb's own output; then a raw client
of the protocol for Ctrl-C, kill and hostile packets, after which the VMM must still serve.

  gdb.py BUILD     prints PASS/FAIL lines and ends with "N passed, N failed"
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmmrun import Suite, stop  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
CAPSULE = os.path.join(BUILD, "capsule")
PV = os.path.join(BUILD, "tests", "guests", "gdbtarget.elf")
SPIN = os.path.join(BUILD, "tests", "guests", "spin.elf")
HVM = os.path.join(BUILD, "tests", "hvm", "gdbtarget.elf")
SUITE = Suite("gdb")
report = SUITE.report
tmp = tempfile.mkdtemp(prefix="capsule-gdb-test-")


def symbol(elf, name):
    out = subprocess.run(["nm", elf], capture_output=True, text=True).stdout
    m = re.search(r"^([0-9a-f]+) \w %s$" % re.escape(name), out, re.M)
    return int(m.group(1), 16)


class Domain:
    """capsule run --gdb SOCK ...: started, waited for its socket."""

    def __init__(self, image, *args):
        self.sock = os.path.join(tmp, "gdb.sock")
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.out = open(os.path.join(tmp, "out"), "w+")
        self.err = open(os.path.join(tmp, "err"), "w+")
        self.p = subprocess.Popen(["timeout", "-k", "5", "90", CAPSULE, "run", "--gdb",
                                   self.sock, *args, image], stdout=self.out,
                                  stderr=self.err, stdin=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(self.sock):
                break
            time.sleep(0.05)

    def wait(self, timeout=60):
        try:
            status = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            status = stop(self.p)
        self.out.seek(0)
        self.err.seek(0)
        return status, self.out.read(), self.err.read()


def gdb(d, elf, *cmds):
    argv = ["timeout", "-k", "5", "60", "gdb", "-batch", "-nx", "-ex", "set pagination off",
            "-ex", "target remote " + d.sock]
    for c in cmds:
        argv += ["-ex", c]
    r = subprocess.run(argv + [elf], capture_output=True, text=True)
    return r.stdout + r.stderr


def check(name, cond, why):
    report(name, bool(cond), why)
    return bool(cond)


def break_step_memory(kind, elf, exit_status, extra=()):
    """A breakpoint at a function, registers, memory read and write, one step, the
    breakpoint hit again with the written value, then the guest runs to its end."""
    fn = symbol(elf, "gdb_target_step")
    d = Domain(elf, *extra)
    out = gdb(d, elf, "info registers rip", "break gdb_target_step", "continue",
              "print gdb_counter", "print gdb_magic", "p/x $pc", "bt",
              "set var gdb_counter = 1000", "stepi", "p/x $pc", "p/x $cs", "p/x $cr3",
              "continue", "print gdb_counter", "delete", "continue")
    status, cout, cerr = d.wait()
    why = "gdb said:\n" + out[-1500:] + "\ncapsule said:\n" + cerr[-500:]
    check(kind + "-stops-at-start", re.search(r"^rip\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <_start", out,
                                             re.M), why)
    check(kind + "-breakpoint", "Breakpoint 1, gdb_target_step (x=x@entry=1)" in out, why)
    check(kind + "-pc-at-breakpoint", re.search(r"^\$3 = 0x%x$" % fn, out, re.M), why)
    check(kind + "-memory-read", "$1 = 0" in out and '$2 = "capsule-gdb-42' in out, why)
    check(kind + "-backtrace", re.search(r"#1 .* in main \(\)", out), why)
    m = re.search(r"^\$4 = 0x([0-9a-f]+)$", out, re.M)
    check(kind + "-step", m and fn < int(m.group(1), 16) < fn + 32, why)
    check(kind + "-memory-write", "Breakpoint 1, gdb_target_step (x=x@entry=2)" in out and
          re.search(r"^\$7 = 1001$", out, re.M), why)
    check(kind + "-runs-to-end", status == exit_status and "gdb_counter=1006" in cout and
          cout.rstrip().endswith("Test result: SUCCESS"), "status %d, stdout %r; %s" %
          (status, cout[-300:], why))
    return out


def main():
    if not shutil.which("gdb"):
        print("FAIL gdb-installed: gdb is not on PATH (scripts/install-deps.sh test)")
        print("0 passed, 1 failed")
        return 1
    out = break_step_memory("pv", PV, 0)
    check("pv-registers", re.search(r"^\$5 = 0x2b$", out, re.M) and
          re.search(r"^\$6 = 0x60000$", out, re.M), out[-800:])
    out = break_step_memory("hvm", HVM, 1)
    check("hvm-registers", re.search(r"^\$5 = 0x10$", out, re.M) and
          re.search(r"^\$6 = 0x[0-9a-f]+000$", out, re.M), out[-800:])

    # two vCPUs: both threads, a hardware breakpoint, detach lets the guest finish
    for kind, elf, extra, want in (("pv", PV, ["--vcpus", "2"], 0), ("hvm", HVM, [], 1)):
        d = Domain(elf, *extra)
        out = gdb(d, elf, "hbreak gdb_target_step", "continue", "info threads",
                  "set var gdb_counter = 1000", "delete", "detach")
        status, cout, _ = d.wait()
        check(kind + "-hbreak", "hit Breakpoint 1, gdb_target_step" in out or
              "Breakpoint 1, gdb_target_step" in out, out[-800:])
        if kind == "pv":
            check("pv-threads", re.search(r"^\* 1 +Thread 1 \(vCPU 0\) gdb_target_step", out,
                                          re.M) and
                  re.search(r"^  2 +Thread 2 \(vCPU 1\) ", out, re.M), out[-800:])
        check(kind + "-detach", "detached" in out and status == want and
              cout.rstrip().endswith("Test result: SUCCESS"), "status %d: %s" %
              (status, out[-500:]))

    d = Domain(PV)
    out = gdb(d, PV, "break gdb_target_step", "continue", "kill")
    status, _, cerr = d.wait()
    check("kill", status == 137 and "[Inferior 1 (Remote target) killed]" in out,
          "status %d: %s %s" % (status, out[-400:], cerr[-300:]))
    raw_before_built()
    raw_protocol()
    disconnect_with_breakpoints()
    print("%d passed, %d failed" % (SUITE.passed, SUITE.failed))
    return 0 if SUITE.failed == 0 else 1


class Raw:
    """The protocol by hand, acks on."""

    def __init__(self, path):
        for _ in range(100):  # the socket file appears at bind, before listen
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.s.settimeout(30)
            try:
                self.s.connect(path)
                break
            except ConnectionRefusedError:
                self.s.close()
                time.sleep(0.02)
        else:
            raise ConnectionRefusedError(path)
        self.buf = b""

    def send(self, body):
        if isinstance(body, str):
            body = body.encode()
        self.s.sendall(b"$%s#%02x" % (body, sum(body) & 0xff))

    def read_until(self, pred):
        while not pred(self.buf):
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def packet(self):
        """The next packet's body, acks before it skipped."""
        self.read_until(lambda b: re.search(rb"\$([^#]*)#[0-9a-f]{2}", b))
        m = re.search(rb"\$([^#]*)#[0-9a-f]{2}", self.buf)
        self.buf = self.buf[m.end():]
        return m.group(1).decode()

    def ask(self, body):
        self.send(body)
        return self.packet()

    def ack(self):
        self.read_until(lambda b: b[:1] in (b"+", b"-"))
        a, self.buf = self.buf[:1], self.buf[1:]
        return a.decode()


def raw_before_built():
    """gdb at the first moment it can connect, while the domain is still being built: its
    first packets wait for the build, so a write to a page the VMM keeps (0x60000, the PV
    page tables) is refused even then."""
    sock = os.path.join(tmp, "early.sock")
    p = subprocess.Popen(["timeout", "-k", "5", "60", CAPSULE, "run", "--gdb", sock,
                          "--mem", "1024", SPIN], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        for _ in range(5000):
            if os.path.exists(sock):
                break
            time.sleep(0.001)
        r = Raw(sock)
        got = r.ask("M60000,1:00")
        check("raw-early-write-to-vmm-page-refused", got == "E0e", "M60000,1:00 -> %r" % got)
        r.s.close()
    finally:
        stop(p)


def raw_protocol():
    d = Domain(SPIN, "--vcpus", "2")
    try:
        r = Raw(d.sock)
        check("raw-qsupported", "qXfer:features:read+" in r.ask("qSupported:swbreak+"), "")
        check("raw-stop-on-connect", r.ask("?").startswith("T05thread:1;"), "")
        xml = r.ask("qXfer:features:read:target.xml:0,3fff")
        check("raw-target-xml", xml.startswith("l<?xml") and "i386:x86-64" in xml and
              '"cr3"' in xml and xml.count("<reg ") == 64, xml[:200])
        check("raw-threads", r.ask("qfThreadInfo") == "m1,2" and r.ask("qsThreadInfo") == "l",
              "")
        g = r.ask("g")
        check("raw-g-size", len(g) == 2 * 592 and re.fullmatch("[0-9a-f]+", g), "%d" % len(g))
        # hostile input: each answered, none ends the stub or the domain
        r.s.sendall(b"$m100000,4#00")
        check("raw-bad-checksum-nak", r.ack() == "-", "")
        r.s.sendall(b"$" + b"A" * 20000 + b"#00")
        check("raw-oversize-nak", r.ack() == "-", "")
        bad = {"mzz,4": "E16", "m100000": "E16", "mffff800000000000,8": "E0e",
               "m7fffffffffff,8": "E0e", "M100000,2:zz": "E16", "M100000,4:00": "E16",
               "M60000,1:00": "E0e", "Z0,dead00000000,1": "E0e", "z0,100000,1": "E02",
               "Hg99": "E16", "T63": "E01", "G00": "E16", "p999": "E16",
               "P10=00": "E16", "P12=2b00000000000000": "E16", "vCont;x": "E16",
               "qXfer:features:read:target.xml:ffffffff,10": "E16"}
        for pkt, want in bad.items():
            got = r.ask(pkt)
            check("raw-refuses-" + re.sub(r"[^a-zA-Z0-9]+", "-", pkt)[:24], got == want,
                  "%s -> %r, expected %r" % (pkt, got, want))
        check("raw-unknown-empty", r.ask("qNoSuchThing") == "" and r.ask("X100000,0:") == "",
              "")
        check("raw-still-reads", r.ask("m100000,4") != "" and r.ask("m100000,4")[0] != "E",
              "")
        # Ctrl-C: the running domain stops with SIGINT and is readable again
        r.send("vCont;c")
        time.sleep(0.5)
        r.s.sendall(b"\x03")
        stop = r.packet()
        check("raw-ctrl-c", stop.startswith("T02thread:"), stop)
        check("raw-regs-after-stop", len(r.ask("g")) == 2 * 592, "")
        r.send("k")
        status, _, cerr = d.wait(30)
        check("raw-kill", status == 137, "status %d %s" % (status, cerr[-300:]))
    except (OSError, EOFError) as e:
        report("raw-protocol", False, "%s: %s" % (type(e).__name__, e))
        stop(d.p)
        d.wait()


def disconnect_with_breakpoints():
    """gdb gone while the domain runs with a breakpoint planted (its next hit racing the
    close): the stub stops the domain, takes the int3 out and lets it go on, every
    instruction intact."""
    fn = symbol(PV, "gdb_target_step")
    counter = symbol(PV, "gdb_counter")
    d = Domain(PV)
    try:
        r = Raw(d.sock)
        r.ask("qSupported")
        ok = r.ask("Z0,%x,1" % fn) == "OK"
        r.send("vCont;c")
        stop = r.packet()
        ok = ok and stop.startswith("T05") and "swbreak" in stop
        ok = ok and r.ask("M%x,8:%s" % (counter, (1000).to_bytes(8, "little").hex())) == "OK"
        ok = ok and r.ask("z0,%x,1" % fn) == "OK"
        r.send("vCont;s:1")
        ok = ok and r.packet().startswith("T05")
        ok = ok and r.ask("Z0,%x,1" % fn) == "OK"
        r.send("vCont;c")
        r.s.close()
        status, out, err = d.wait(30)
        check("disconnect-with-breakpoints", ok and status == 0 and "gdb_counter=1006" in out,
              "ok %r status %d %r %r" % (ok, status, out[-300:], err[-300:]))
    except (OSError, EOFError) as e:
        report("disconnect-with-breakpoints", False, "%s: %s" % (type(e).__name__, e))
        stop(d.p)
        d.wait()


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
