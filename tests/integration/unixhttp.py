# SPDX-License-Identifier: Apache-2.0
"""HTTP/1.1 over a Unix socket, for the suites that talk to a VMM's or capsuled's API."""
import http.client
import socket


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)
