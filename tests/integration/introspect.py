#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Introspection (docs/introspection.md) against real PV domains with a real HTTP client:
reads that match what the guest holds, registers, translations, regions, clear errors for
bad addresses and ranges, watches that fire once per write burst and never for reads, and
the intrusion-detection example (examples/ids/ids.py) catching a guest that rewrites its
code or its immutable table, and staying silent on a benign one.

  introspect.py BUILD     prints PASS/FAIL lines and ends with "N passed, N failed"
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unixhttp import UnixHTTP  # noqa: E402
from vmmrun import Suite, stop  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
CAPSULE = os.path.join(BUILD, "capsule")
IDS = os.path.join(BUILD, "tests", "guests", "ids.elf")
EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "ids", "ids.py")
SUITE = Suite("introspect")
report = SUITE.report
tmp = tempfile.mkdtemp(prefix="capsule-introspect-test-")


def call(sock, path, body=None, method="PUT", raw=None):
    c = UnixHTTP(sock)
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    c.request(method, path, body=data, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    out = r.read()
    c.close()
    try:
        return r.status, json.loads(out) if out else {}
    except ValueError:
        return r.status, {"raw": out}


def watch_events(stream):
    """The watch events of a vm.events stream, until it ends (the domain did)."""
    events = []
    try:
        while True:
            line = stream.readline()
            if not line:
                break
            e = json.loads(line)
            if e["event"] == "watch":
                events.append(e)
    except (socket.timeout, TimeoutError, OSError):
        pass
    return events


def symbols(elf):
    out = subprocess.run(["nm", "-S", elf], capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4:
            syms[f[3]] = (int(f[0], 16), int(f[1], 16))
    return syms


class Domain:
    def __init__(self, mode, *args):
        self.sock = os.path.join(tmp, "api.sock")
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.out = open(os.path.join(tmp, "out"), "w+")
        self.err = open(os.path.join(tmp, "err"), "w+")
        self.p = subprocess.Popen(["timeout", "-k", "5", "60", CAPSULE, "run", "--api-sock",
                                   self.sock, "--cmdline", mode, *args, IDS],
                                  stdin=subprocess.PIPE, stdout=self.out, stderr=self.err)
        for _ in range(200):
            self.out.seek(0)
            if os.path.exists(self.sock) and "ids: ready" in self.out.read():
                break
            time.sleep(0.05)

    def go(self):
        self.p.stdin.write(b"go\n")
        self.p.stdin.flush()

    def state(self):
        return call(self.sock, "/api/v1/vm.info", method="GET")[1].get("state")

    def wait_state(self, want, seconds=10):
        for _ in range(int(seconds * 20)):
            if self.state() == want:
                return True
            time.sleep(0.05)
        return False

    def end(self, timeout=30):
        try:
            status = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            status = stop(self.p)
        self.out.seek(0)
        self.err.seek(0)
        return status, self.out.read(), self.err.read()


def reads_and_errors():
    syms = symbols(IDS)
    d = Domain("benign")
    s = d.sock
    marker, _ = syms["ids_marker"]
    table, tsize = syms["capsule_immutable_table"]
    st, r = call(s, "/api/v1/vm.memory", {"gpa": hex(marker), "len": 8})
    report("read-gpa", st == 200 and r.get("data") == "d5e1fe0f5c1d0000", "%d %r" % (st, r))
    st, r = call(s, "/api/v1/vm.memory", {"gva": marker, "len": 8})
    report("read-gva", st == 200 and r.get("data") == "d5e1fe0f5c1d0000", "%d %r" % (st, r))
    st, r = call(s, "/api/v1/vm.memory", {"gva": hex(table + 7 * 8), "len": 8})
    report("read-table", st == 200 and r.get("data") == "77" * 8, "%d %r" % (st, r))
    st, r = call(s, "/api/v1/vm.memory", {"gpa": "0x100000", "len": 1 << 20})
    report("read-1mib", st == 200 and len(r.get("data", "")) == 2 << 20, "%d" % st)
    st, r = call(s, "/api/v1/vm.registers", {"vcpu": 0})
    report("registers", st == 200 and r.get("cs") == "0x2b" and r.get("cpl") == 3 and
           r.get("cr3") == "0x60000" and 0x100000 <= int(r.get("rip", "0"), 16) < 0x200000,
           "%d %r" % (st, r))
    st, r = call(s, "/api/v1/vm.translate", {"gva": hex(table)})
    report("translate", st == 200 and r.get("gpa") == hex(table) and r.get("page_size") == 4096,
           "%d %r" % (st, r))
    st, r = call(s, "/api/v1/vm.regions", {})
    user = [g for g in r.get("regions", []) if g["user"]]
    report("regions", st == 200 and not r.get("truncated") and
           any(int(g["start"], 16) <= 0x100000 < int(g["end"], 16) for g in user) and
           all(not g["user"] for g in r["regions"] if int(g["start"], 16) < 0x50000),
           "%d %r" % (st, r))
    bad = [
        ("unmapped-gva", "/api/v1/vm.memory", {"gva": "0x10", "len": 4}, 422),
        ("noncanonical-gva", "/api/v1/vm.translate", {"gva": "0x800000000000"}, 422),
        ("beyond-ram", "/api/v1/vm.memory", {"gpa": "0x4000000", "len": 4}, 422),
        ("straddles-ram-end", "/api/v1/vm.memory", {"gpa": "0x3fffffe", "len": 4}, 422),
        ("wraps", "/api/v1/vm.memory", {"gpa": "0xffffffffffffffff", "len": 2}, 422),
        ("len-zero", "/api/v1/vm.memory", {"gpa": 0, "len": 0}, 400),
        ("len-too-big", "/api/v1/vm.memory", {"gpa": 0, "len": (1 << 20) + 1}, 400),
        ("both-addresses", "/api/v1/vm.memory", {"gpa": 0, "gva": 0, "len": 1}, 400),
        ("no-address", "/api/v1/vm.memory", {"len": 1}, 400),
        ("negative", "/api/v1/vm.memory", {"gpa": -1, "len": 1}, 400),
        ("bad-string", "/api/v1/vm.memory", {"gpa": "0xzz", "len": 1}, 400),
        ("unknown-field", "/api/v1/vm.registers", {"vcpu": 0, "x": 1}, 400),
        ("no-such-vcpu", "/api/v1/vm.registers", {"vcpu": 5}, 409),
        ("huge-vcpu", "/api/v1/vm.translate", {"gva": 0, "vcpu": 1 << 40}, 409),
        ("watch-vmm-pages", "/api/v1/vm.watch", {"gpa": "0x60000", "len": 8}, 400),
        ("watch-beyond-ram", "/api/v1/vm.watch", {"gpa": "0x4000000", "len": 8}, 400),
        ("watch-empty", "/api/v1/vm.watch", {"gpa": "0x100000", "len": 0}, 400),
        ("watch-bad-pause", "/api/v1/vm.watch", {"gpa": "0x100000", "len": 1, "pause": 1},
         400),
        ("rearm-unknown", "/api/v1/vm.watch-rearm", {"id": 99}, 404),
        ("remove-unknown", "/api/v1/vm.watch-remove", {"id": 99}, 404),
    ]
    for name, path, body, want in bad:
        st, r = call(s, path, body)
        report("refuses-" + name, st == want and r.get("error"), "%d %r" % (st, r))
    st, r = call(s, "/api/v1/vm.memory", raw="{not json")
    report("refuses-bad-json", st == 400, "%d %r" % (st, r))
    # watches: overlap refused, at most 8
    st, r = call(s, "/api/v1/vm.watch", {"gpa": hex(table), "len": tsize})
    first = r.get("id")
    st2, r2 = call(s, "/api/v1/vm.watch", {"gpa": hex(table + 8), "len": 8})
    report("refuses-watch-overlap", st == 200 and st2 == 409, "%d %d %r" % (st, st2, r2))
    ids = [call(s, "/api/v1/vm.watch", {"gpa": hex(0x200000 + i * 0x1000), "len": 8})
           for i in range(8)]
    report("refuses-ninth-watch", [x[0] for x in ids].count(200) == 7 and ids[-1][0] == 409,
           "%r" % [x[0] for x in ids])
    for st, r in ids:
        if st == 200:
            call(s, "/api/v1/vm.watch-remove", {"id": r["id"]})
    # a core dump while it waits: gdb reads it with the image
    core = os.path.join(tmp, "core")
    p = subprocess.run([CAPSULE, "control", s, "dump-core", core], capture_output=True,
                       text=True)
    g = subprocess.run(["timeout", "-k", "5", "60", "gdb", "-batch", "-nx", "-ex",
                        "print/x ids_marker", "-ex", "print/x capsule_immutable_table[7]",
                        "-ex", "p/x $cs", "-ex", "bt", IDS, core], capture_output=True,
                       text=True).stdout if p.returncode == 0 else ""
    report("dump-core-gdb", "$1 = 0x1d5c0ffee1d5" in g and "$2 = 0x7777777777777777" in g and
           "$3 = 0x2b" in g and re.search(r"in wait_go \(\) at tests/guests/ids.c", g),
           "%r %r" % (p.stdout + p.stderr, g[-600:]))
    st, r = call(s, "/api/v1/vm.dump-core", {})
    report("refuses-dump-core-without-file", st == 400 and "descriptor" in r.get("error", ""),
           "%d %r" % (st, r))
    # the benign guest only reads the watched table (100000 times): no event, no write
    d.go()
    status, out, err = d.end()
    report("benign-runs", status == 0 and out.rstrip().endswith("Test result: SUCCESS") and
           "table[7]=7777777777777777" in out, "status %d %r %r" % (status, out[-300:],
                                                                   err[-300:]))
    return first


def watch_burst():
    """A watch that does not pause: one event for a burst of three writes, the writes done
    for the guest (it reads them back), none for its reads; re-armed, it fires again."""
    syms = symbols(IDS)
    table, tsize = syms["capsule_immutable_table"]
    d = Domain("table")
    s = d.sock
    st, w = call(s, "/api/v1/vm.watch", {"gpa": hex(table), "len": tsize})
    ev = UnixHTTP(s, timeout=10)
    ev.request("GET", "/api/v1/vm.events")
    stream = ev.getresponse()
    stream.readline()  # the state now
    d.go()
    status, out, _ = d.end()
    events = watch_events(stream)
    fn, fsize = syms["ids_inject_table"]
    report("watch-once-per-burst", len(events) == 1 and events[0]["watch"] == w.get("id") and
           events[0]["address"] == hex(table + 7 * 8) and events[0]["len"] == 8 and
           events[0]["vcpu"] == 0 and not events[0]["paused"] and
           fn < int(events[0]["rip"], 16) <= fn + fsize, "%r" % events)
    report("watch-completes-writes", status == 0 and "table[7]=badbadbadbad" in out,
           "status %d %r" % (status, out[-300:]))


def ids_example(mode, want_alert):
    d = Domain(mode)
    ids = subprocess.Popen([sys.executable, EXAMPLE, "--timeout", "20", d.sock, IDS],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = ids.stdout.readline()
    armed = line.startswith("ids: armed 2 watches")
    d.go()
    if want_alert:
        paused = d.wait_state("paused")
        out = ids.stdout.readline()
        # the attack was held back: the code and the table are as in the image
        syms = symbols(IDS)
        code = call(d.sock, "/api/v1/vm.memory", {"gpa": hex(syms["ids_check"][0]), "len": 6})
        table = call(d.sock, "/api/v1/vm.memory",
                      {"gpa": hex(syms["capsule_immutable_table"][0] + 56), "len": 8})
        call(d.sock, "/api/v1/vmm.shutdown")
        d.end()
        ids.kill()
        ids.wait()
        fn = "ids_inject_code" if mode == "code" else "ids_inject_table"
        report("ids-detects-" + mode, armed and paused and out.startswith("ALERT ") and
               ("<%s+" % fn) in out and "mov" in out and "domain paused" in out,
               "armed %r paused %r: %r" % (line, paused, out))
        report("ids-holds-back-" + mode, code[1].get("data") == "89f883e001c3" and
               table[1].get("data") == "77" * 8, "%r %r" % (code, table))
    else:
        status, out, _ = d.end()
        rest, _ = ids.communicate(timeout=30)
        report("ids-silent-on-benign", armed and status == 0 and ids.returncode == 0 and
               "ALERT" not in rest and "ids: no alert" in rest and
               out.rstrip().endswith("Test result: SUCCESS"),
               "armed %r status %d ids %d: %r" % (line, status, ids.returncode, rest))


def hvm_watch():
    """An HVM kernel (its code at CPL 0), held at its first instruction by the GDB stub:
    registers and translations with paging still off, then a watch on its counter while
    it runs: one event from gdb_target_step, the writes done."""
    hvm = os.path.join(BUILD, "tests", "hvm", "gdbtarget.elf")
    syms = symbols(hvm)
    counter, _ = syms["gdb_counter"]
    fn, fsize = syms["gdb_target_step"]
    api, gdbsock = os.path.join(tmp, "hvm-api.sock"), os.path.join(tmp, "hvm-gdb.sock")
    out = open(os.path.join(tmp, "hvm-out"), "w+")
    p = subprocess.Popen(["timeout", "-k", "5", "60", CAPSULE, "run", "--api-sock", api,
                          "--gdb", gdbsock, hvm], stdout=out, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    try:
        g = None
        for _ in range(300):
            try:
                g = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                g.connect(gdbsock)
                break
            except OSError:
                g.close()
                g = None
                time.sleep(0.02)
        for _ in range(300):
            if os.path.exists(api):
                break
            time.sleep(0.02)
        st, r = call(api, "/api/v1/vm.registers", {})
        report("hvm-registers", st == 200 and r.get("cr0") == "0x11" and r.get("cpl") == 0,
               "%d %r" % (st, r))
        st, r = call(api, "/api/v1/vm.translate", {"gva": hex(counter)})
        report("hvm-translate-unpaged", st == 200 and r.get("gpa") == hex(counter),
               "%d %r" % (st, r))
        st, w = call(api, "/api/v1/vm.watch", {"gpa": hex(counter), "len": 8})
        ev = UnixHTTP(api, timeout=20)
        ev.request("GET", "/api/v1/vm.events")
        stream = ev.getresponse()
        stream.readline()
        g.sendall(b"$c#63")  # gdb's continue: the kernel runs
        events = watch_events(stream)
        p.wait(30)
        out.seek(0)
        text = out.read()
        report("hvm-watch-once", st == 200 and len(events) == 1 and
               events[0]["address"] == hex(counter) and
               fn < int(events[0]["rip"], 16) <= fn + fsize, "%d %r" % (st, events))
        report("hvm-watch-completes-writes", "gdb_counter=6 " in text, text[-400:])
    finally:
        if p.poll() is None:
            stop(p)


def main():
    hvm_watch()
    reads_and_errors()
    watch_burst()
    ids_example("code", True)
    ids_example("table", True)
    ids_example("benign", False)
    print("%d passed, %d failed" % (SUITE.passed, SUITE.failed))
    return 0 if SUITE.failed == 0 else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
