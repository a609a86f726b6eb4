#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The host side of the virtio-net test, run inside the test's network namespace.

Listens before the link comes up (the guest says hello as soon as ARP answers), then
brings up the TAP, waits for the guest's hello, pings it, exchanges UDP datagrams of many
sizes, has the guest send 4 MiB over TCP to a socket here (data checked byte for byte; the
kernel checks the checksums, or completes them when the guest offloads them: "tso" says
which), sends 4 MiB over TCP to the guest (which checks them; with offloads its frames
must span several receive buffers, without them none may exceed the MTU), sends a burst while the guest reads nothing (the receive batching the caller checks
in --stats), and tells it to quit. Prints one line per check; exits non-zero on any failure.
Usage: net_peer.py TAP HOST_IP GUEST_IP [tso|plain]
"""
import socket
import subprocess
import sys
import time

import tapnet

tap, host_ip, guest_ip = sys.argv[1:4]
mode = sys.argv[4] if len(sys.argv) > 4 else "tso"
s = tapnet.udp_and_tap(tap, host_ip, 9000)

data, addr = s.recvfrom(2048)
print("hello:", data.decode(), "from", addr[0])
assert data == b"hello from guest" and addr[0] == guest_ip

ping = subprocess.run(["ping", "-c", "5", "-i", "0.2", "-W", "2", guest_ip],
                      capture_output=True, text=True)
print("ping:", ping.stdout.strip().splitlines()[-2])
assert ping.returncode == 0 and " 0% packet loss" in ping.stdout

good = 0
rtts = []
for i in range(200):
    msg = (b"datagram %d " % i) + bytes([i % 256]) * (i * 7 % 1400)
    t0 = time.monotonic()
    s.sendto(msg, (guest_ip, 7))
    reply, _ = s.recvfrom(4096)
    rtts.append(time.monotonic() - t0)
    good += reply == msg
rtts.sort()
print("udp: %d/200 echoed intact, median round trip %.0f us" % (good, rtts[100] * 1e6))
assert good == 200

# Bulk TCP from the guest to a real socket here.
n = 4 << 20
lsock = socket.socket()
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind((host_ip, 5001))
lsock.listen(1)
lsock.settimeout(20)
s.sendto(b"tcp 5001 %d" % n, (guest_ip, 7))
conn, _ = lsock.accept()
conn.settimeout(30)
got = bytearray()
while True:
    b = conn.recv(1 << 20)
    if not b:
        break
    got += b
conn.close()
pattern = bytes(range(251)) * (n // 251 + 1)
report, _ = s.recvfrom(2048)
print("tcp: %d bytes, %s; guest: %s" % (len(got), "intact" if got == pattern[:n] else "CORRUPT",
                                       report.decode()))
assert got == pattern[:n] and report.startswith(b"tcp: sent")
assert (b" tso" in report) == (mode == "tso")

# Bulk TCP from here to the guest: with offloads the host sends it 64 KiB GSO frames, each
# spread over many of its 2 KiB receive buffers (mergeable); without, frames of the MTU.
s.sendto(b"tcprecv 5003 %d" % n, (guest_ip, 7))
for _ in range(50):
    try:
        conn = socket.create_connection((guest_ip, 5003), timeout=2)
        break
    except OSError:
        time.sleep(0.1)
conn.settimeout(30)
conn.sendall(pattern[:n])
conn.shutdown(socket.SHUT_WR)
while conn.recv(4096):
    pass
conn.close()
report, _ = s.recvfrom(2048)
words = report.split()
print("tcprecv: guest: %s" % report.decode())
assert report.startswith(b"tcprecv: got %d bytes intact" % n)
frame, bufs = int(words[7]), int(words[10])
if mode == "tso":
    assert frame > 2048 and bufs > 1, "no frame spanned several buffers"
else:
    assert frame <= 1514, "a guest without offloads got a frame beyond the MTU"

# A burst the guest does not read at once: it waits in the TAP, then comes in batches.
s.sendto(b"hold 300", (guest_ip, 7))
for i in range(300):
    s.sendto(b"burst %d" % i, (guest_ip, 9))
s.sendto(b"sync", (guest_ip, 7))
s.settimeout(5)
reply, _ = s.recvfrom(2048)
print("burst: 300 sent while the guest held, then %s" % reply.decode())
assert reply == b"sync"
s.sendto(b"quit", (guest_ip, 7))
