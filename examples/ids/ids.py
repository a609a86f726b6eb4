#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""An intrusion detector for a PV domain, from outside it, through Capsule's introspection
API (docs/introspection.md). It reads the guest's image on the host (an attacker inside the
guest cannot change that): its executable segments, and the tables the guest declares
immutable by naming them capsule_immutable_* in its symbol table. It checks that each is
mapped where the image says (vm.translate), that the memory holds what the image holds
(vm.memory), arms a watch on each (vm.watch, "pause": writes to them are never done and
the first one pauses the domain), and then reads the domain's event stream: a write to a
watched range is an alert naming the vCPU, the address, the instruction (RIP, its symbol,
its disassembly from the image) and the domain is left paused for inspection.

  ids.py API_SOCKET IMAGE [--timeout SEC] [--no-pause]
Prints "ids: armed N watches" once watching, one "ALERT ..." line per alert, and exits 1
if there was an alert, 0 if the domain ended (or the timeout passed) without one.
"""
import argparse
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def call(sock, path, body=None, method="PUT"):
    c = UnixHTTP(sock)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status >= 300:
        raise RuntimeError("%s: %d %s" % (path, r.status, data.decode(errors="replace")))
    return json.loads(data) if data else {}


def read_elf(path):
    """(segments, symbols): executable PT_LOADs as (vaddr, memsz, file bytes), and every
    symbol as name -> (value, size)."""
    data = open(path, "rb").read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("%s: not a little-endian ELF64" % path)
    phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", data, 0x36)
    segs = []
    for i in range(phnum):
        p_type, p_flags, p_off, p_vaddr, _, p_filesz, p_memsz, _ = struct.unpack_from(
            "<IIQQQQQQ", data, phoff + i * phentsize)
        if p_type == 1 and p_flags & 1 and p_memsz:
            segs.append((p_vaddr, p_memsz, data[p_off:p_off + p_filesz]))
    syms = {}
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
                for i in range(shnum)]
    for s in sections:
        if s[1] != 2:  # SHT_SYMTAB
            continue
        strtab = sections[s[6]]
        for off in range(s[4], s[4] + s[5], 24):
            name, info, _, shndx, value, size = struct.unpack_from("<IBBHQQ", data, off)
            start = strtab[4] + name
            n = data[start:data.index(b"\0", start)].decode()
            if n and shndx:
                syms[n] = (value, size, info & 15)
    return segs, syms


def symbolize(syms, addr):
    best = None
    for name, (value, size, kind) in syms.items():
        if kind == 2 and value <= addr < value + max(size, 1):  # STT_FUNC
            best = "%s+0x%x" % (name, addr - value)
    return best or "?"


def instruction_before(image, syms, rip):
    """The instruction that ends at rip (KVM reports the rip after the write), from the
    image's disassembly of the function holding it: (address, text) or None."""
    fn = [(v, s) for n, (v, s, k) in syms.items() if k == 2 and v <= rip - 1 < v + s]
    if not fn:
        return None
    start, size = fn[0]
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "--start-address=%#x" % start,
                          "--stop-address=%#x" % (start + size), image],
                         capture_output=True, text=True).stdout
    prev = None
    for line in out.splitlines():
        parts = line.strip().split(":", 1)
        try:
            at = int(parts[0], 16)
        except ValueError:
            continue
        if at >= rip:
            break
        prev = (at, parts[1].strip())
    return prev


def disassemble(data, at):
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        f.write(data)
        f.flush()
        out = subprocess.run(["objdump", "-D", "-b", "binary", "-m", "i386:x86-64",
                              "--adjust-vma=%#x" % at, f.name], capture_output=True,
                             text=True).stdout
    lines = [l.split("\t")[-1].strip() for l in out.splitlines() if "\t" in l]
    return lines[0] if lines else "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("api")
    ap.add_argument("image")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--no-pause", action="store_true")
    a = ap.parse_args()
    segs, syms = read_elf(a.image)
    ranges = [("code", v, n, data) for v, n, data in segs]
    for name, (value, size, kind) in sorted(syms.items()):
        if name.startswith("capsule_immutable") and kind == 1 and size:
            ranges.append((name, value, size, None))
    # the stream first: no event between arming and listening is lost
    ev = UnixHTTP(a.api, timeout=a.timeout)
    ev.request("GET", "/api/v1/vm.events")
    stream = ev.getresponse()
    watches = {}
    for what, va, size, data in ranges:
        t = call(a.api, "/api/v1/vm.translate", {"gva": hex(va)})
        gpa = int(t["gpa"], 16)
        if data:  # the code in memory is the image's: nothing was changed before we came
            mem = bytes.fromhex(call(a.api, "/api/v1/vm.memory",
                                     {"gpa": hex(gpa), "len": len(data)})["data"])
            if mem != data:
                print("ALERT %s at %#x differs from the image already" % (what, va))
                return 1
        w = call(a.api, "/api/v1/vm.watch", {"gpa": hex(gpa), "len": size,
                                             "pause": not a.no_pause})
        watches[w["id"]] = (what, va, gpa)
    print("ids: armed %d watches (%s)" % (len(watches), ", ".join(
        "%s %#x+%#x" % (w, v, s) for w, v, s, _ in ranges)), flush=True)
    alerts = 0
    try:
        while True:
            line = stream.readline()
            if not line:
                break
            e = json.loads(line)
            if e.get("event") == "state" and e.get("state") in ("shutoff", "crashed"):
                break
            if e.get("event") != "watch" or e.get("watch") not in watches:
                continue
            alerts += 1
            what, va, gpa = watches[e["watch"]]
            rip = int(e["rip"], 16)
            insn = instruction_before(a.image, syms, rip)
            text = ("%#x %s" % insn) if insn else disassemble(bytes.fromhex(e["insn"]), rip)
            print("ALERT domain %s vCPU %d wrote %s bytes at %s (%s) with the instruction "
                  "before rip %#x <%s>: %s; next bytes %s; domain %s" % (
                      e["domain"], e["vcpu"], e["len"], e["address"], what, rip,
                      symbolize(syms, rip - 1), text, e["insn"],
                      "paused" if e["paused"] else "running"), flush=True)
    except (socket.timeout, TimeoutError):
        pass
    if not alerts:
        print("ids: no alert", flush=True)
    return 1 if alerts else 0


if __name__ == "__main__":
    sys.exit(main())
