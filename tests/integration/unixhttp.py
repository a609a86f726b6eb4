# SPDX-License-Identifier: Apache-2.0
"""HTTP/1.1 over a Unix socket, for the suites that talk to a VMM's or capsuled's API."""
import http.client
import json
import socket


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def get_json(sock, path, timeout=10):
    """GET path of the API at sock: its JSON answer, or {} if it is not 200."""
    c = UnixHTTP(sock, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        data = r.read()
    finally:
        c.close()
    return json.loads(data) if r.status == 200 else {}
