# SPDX-License-Identifier: Apache-2.0
"""What the network tests' host sides share: a UDP socket bound before the guest's TAP is
up (the guest talks as soon as ARP answers), then the TAP given HOST_IP and brought up."""
import socket
import subprocess
import time


def udp_and_tap(tap, host_ip, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    s.settimeout(20)
    for _ in range(100):  # capsule creates the TAP when it starts
        if subprocess.run(["ip", "link", "show", tap], capture_output=True).returncode == 0:
            break
        time.sleep(0.05)
    subprocess.run(["ip", "addr", "add", host_ip + "/24", "dev", tap], check=True)
    subprocess.run(["ip", "link", "set", tap, "up"], check=True)
    return s
