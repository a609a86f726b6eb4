#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The host side of tests/guests/vnetmq.c, in the test's network namespace: brings up the
multiqueue TAP, echoes every datagram that comes to port 9000 back to its sender, and
checks that both of the guest's vCPUs' datagrams (each on its own transmit queue) came, all
of them. Usage: net_mq_peer.py TAP HOST_IP
"""
import sys

import tapnet

tap, host_ip = sys.argv[1:3]
s = tapnet.udp_and_tap(tap, host_ip, 9000)
seen = {0: set(), 1: set()}
while len(seen[0]) + len(seen[1]) < 200:
    data, addr = s.recvfrom(2048)
    words = data.split()
    if len(words) == 4 and words[0] == b"pair":
        seen[int(words[1])].add(int(words[3]))
    s.sendto(data, addr)
    s.settimeout(5)
print("mq: pair 0 sent %d, pair 1 sent %d, all echoed" % (len(seen[0]), len(seen[1])))
assert len(seen[0]) == 100 and len(seen[1]) == 100
