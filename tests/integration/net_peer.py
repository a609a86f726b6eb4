#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The host side of the virtio-net test, run inside the test's network namespace.

Listens before the link comes up (the guest says hello as soon as ARP answers), then
brings up the TAP, waits for the guest's hello, pings it, exchanges UDP datagrams of many
sizes, and tells it to quit. Prints one line per check; exits non-zero on any failure.
Usage: net_peer.py TAP HOST_IP GUEST_IP
"""
import socket
import subprocess
import sys
import time

tap, host_ip, guest_ip = sys.argv[1:4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9000))
s.settimeout(20)
for _ in range(100):  # capsule creates the TAP when it starts
    if subprocess.run(["ip", "link", "show", tap], capture_output=True).returncode == 0:
        break
    time.sleep(0.05)
subprocess.run(["ip", "addr", "add", host_ip + "/24", "dev", tap], check=True)
subprocess.run(["ip", "link", "set", tap, "up"], check=True)

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
s.sendto(b"quit", (guest_ip, 7))
