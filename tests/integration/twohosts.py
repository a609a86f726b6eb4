# SPDX-License-Identifier: Apache-2.0
"""Two "hosts" on this machine for the migration tests (tests/integration/migrate.py,
tests/daemon/migrate.py): network namespaces joined by a veth pair, and the certificates
of mutually authenticated migrations (docs/migration.md, "TLS"): a CA, a certificate for
each host it signs (a, b), and a rogue one (another CA's) that trusts our CA; each host
directory holds ca.pem, cert.pem and key.pem."""
import os
import shutil
import subprocess


def make_pki(pki, prefix):
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda *a: subprocess.run(list(a), capture_output=True, timeout=30, check=True)
    k = lambda d, f: os.path.join(pki, d, f)
    for d in ("ca", "a", "b", "rogue", "rogue-ca"):
        os.makedirs(os.path.join(pki, d))
    for ca in ("ca", "rogue-ca"):
        run("openssl", "req", "-x509", *ec, "-keyout", k(ca, "key.pem"), "-out",
            k(ca, "cert.pem"), "-days", "2", "-subj", "/CN=%s%s" % (prefix, ca))
    for host, ca in (("a", "ca"), ("b", "ca"), ("rogue", "rogue-ca")):
        run("openssl", "req", *ec, "-keyout", k(host, "key.pem"), "-out", k(host, "req.pem"),
            "-subj", "/CN=%shost-%s" % (prefix, host))
        run("openssl", "x509", "-req", "-in", k(host, "req.pem"), "-CA", k(ca, "cert.pem"),
            "-CAkey", k(ca, "key.pem"), "-CAcreateserial", "-out", k(host, "cert.pem"),
            "-days", "2")
        shutil.copy(k("ca", "cert.pem"), k(host, "ca.pem"))  # the rogue trusts our CA


def veth_up(ns_a, veth_a, addr_a, ns_b, veth_b, addr_b):
    """A veth pair between two namespaces, each end addressed in a /24 and up."""
    run = lambda *a: subprocess.run(list(a), capture_output=True, timeout=30, check=True)
    run("ip", "link", "add", veth_a, "netns", ns_a, "type", "veth", "peer", "name", veth_b,
        "netns", ns_b)
    for ns, dev, addr in ((ns_a, veth_a, addr_a), (ns_b, veth_b, addr_b)):
        run("ip", "-n", ns, "addr", "add", addr + "/24", "dev", dev)
        run("ip", "-n", ns, "link", "set", dev, "up")
        run("ip", "-n", ns, "link", "set", "lo", "up")
