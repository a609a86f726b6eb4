#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""capsule run on a terminal (a pseudo-terminal): keys reach the guest raw, Ctrl-] ends the
domain with status 130, and the terminal is as it was afterwards.

  console_tty.py CAPSULE GUEST   (the guest: tests/guests/vcons.elf)
"""
import os, pty, sys, time, select, subprocess
capsule, guest = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execvp("sh", ["sh", "-c", "%s run --virtio-console %s; echo status=$?; stty -a" % (capsule, guest)])
out = b""
def read_until(pat, t=10):
    global out
    end = time.time() + t
    while pat not in out and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
    return pat in out
ok = read_until(b"vcons: ready")
os.write(fd, b"hello\n")
ok = ok and read_until(b"HELLO")
os.write(fd, b"\x1d")
ok = ok and read_until(b"status=")
read_until(b"icanon", 5)
os.waitpid(pid, 0)
text = out.decode(errors="replace")
print(text[-600:])
restored = " icanon" in text and " echo " in text
print("escape:", "status=130" in text, "restored:", restored, "echo-typed-hidden:", "hello" not in text.split("vcons: ready")[1].split("HELLO")[0])
sys.exit(0 if ok and "status=130" in text and restored else 1)
