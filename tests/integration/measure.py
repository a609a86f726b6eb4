#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Measured launch (docs/measured-launch.md) on real domains: the measurement a PV guest
finds in start_info and an HVM guest in its CMSR table is the one the API reports and the
one tools/measure.py recomputes from the files; one byte more or less in the image or the
command line changes it (and only its own event); capsule attest's statement verifies
with the host's public key (capsule verify-attestation, and plain openssl) and fails with
a flipped byte, another key or another nonce. Prints PASS/FAIL lines and
"measure: N passed, N failed".

    tests/integration/measure.py BUILD
"""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
CAPSULE = os.path.join(BUILD, "capsule")
CAPSULED = os.path.join(BUILD, "capsuled")
GUEST = os.path.join(BUILD, "tests", "guests", "measure.elf")
HVM = os.path.join(BUILD, "tests", "hvm", "measure.elf")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
sys.path.append(HERE)  # after tools/: measure is tools/measure.py
import measure as ref  # noqa: E402  the verifier's side, from the document
from unixhttp import UnixHTTP  # noqa: E402

TMP = tempfile.mkdtemp(prefix="capsule-measure-")
passed = failed = 0
LINE = re.compile(rb"launch_measurement ([0-9a-f]{64})")


def report(name, ok, why=""):
    global passed, failed
    if ok:
        passed += 1
        print("PASS measure-" + name)
    else:
        failed += 1
        print("FAIL measure-%s: %s" % (name, why))
    sys.stdout.flush()


def get(sock, path):
    c = UnixHTTP(sock)
    c.request("GET", path)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def wait_for(cond, seconds=10):
    until = time.time() + seconds
    while time.time() < until:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    return cond()


def expected(image, cmdline="", kind="pv", mem=64, vcpus=1, devices=()):
    with open(image, "rb") as f:
        data = f.read()
    cfg = ref.config_text(kind, mem, vcpus, "reduced", False, "", list(devices))
    value, events = ref.measure(data, cmdline.encode(), b"", cfg.encode())
    return value.hex(), [d.hex() for _, d in events]


def run_pv(name, image, cmdline, extra=()):
    """A PV domain with the API: (what the guest printed, the API's measurement, vm.info's)."""
    sock = os.path.join(TMP, name + ".sock")
    out = os.path.join(TMP, name + ".out")
    p = subprocess.Popen(["timeout", "-k", "5", "60", CAPSULE, "run", "--api-sock", sock,
                          "--cmdline", cmdline] + list(extra) + [image],
                         stdout=open(out, "wb"), stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    try:
        m = wait_for(lambda: LINE.search(open(out, "rb").read()))
        guest = m.group(1).decode() if m else None
        st, data = get(sock, "/api/v1/vm.measurement")
        api = json.loads(data) if st == 200 else {}
        st, data = get(sock, "/api/v1/vm.info")
        info = json.loads(data).get("measurement") if st == 200 else None
    finally:
        p.terminate()
        p.wait(10)
    return guest, api, info, open(out, "rb").read()


def pv_cases():
    guest, api, info, out = run_pv("pv", GUEST, "one two", ["--vcpus", "2", "--rng"])
    want, events = expected(GUEST, "one two", vcpus=2, devices=["rng"])
    report("pv-guest-sees-api", guest is not None and guest == api.get("measurement") == info,
           "guest %s, API %s, vm.info %s: %r" % (guest, api.get("measurement"), info, out[-300:]))
    report("pv-flag", b"flags 2 " in out or b"flags 3 " in out, out[-200:])
    report("pv-recomputed", api.get("measurement") == want and
           [e["digest"] for e in api.get("events", [])] == events and
           [e["name"] for e in api.get("events", [])] == ["image", "cmdline", "initrd", "config"],
           "API %r, tools/measure.py %s %s" % (api, want, events))
    report("pv-config-text", api.get("config") == "kind=pv\nmem_mib=64\nvcpus=2\nacpi=reduced\n"
           "virtio_pci=0\ncpu=\ndevice=rng\n", repr(api.get("config")))
    # One byte of the image (a symbol's name in .strtab, which nothing loads): only the
    # image's event changes, and the measurement with it.
    data = bytearray(open(GUEST, "rb").read())
    at = data.rfind(b"\0measure.c\0")
    if at < 0:
        report("image-byte-changes-it", False, "no symbol name to change in %s" % GUEST)
        return
    data[at + 1] ^= 0x20
    changed = os.path.join(TMP, "changed.elf")
    with open(changed, "wb") as f:
        f.write(data)
    g2, api2, _, out2 = run_pv("pv-byte", changed, "one two", ["--vcpus", "2", "--rng"])
    ev1 = [e["digest"] for e in api.get("events", [])]
    ev2 = [e["digest"] for e in api2.get("events", [])]
    report("image-byte-changes-it", at > 0 and g2 and g2 == api2.get("measurement") and
           g2 != guest and len(ev2) == 4 and ev2[0] != ev1[0] and ev2[1:] == ev1[1:] and
           g2 == expected(changed, "one two", vcpus=2, devices=["rng"])[0],
           "before %s, after %s, events %s -> %s" % (guest, g2, ev1, ev2))
    g3, api3, _, _ = run_pv("pv-cmdline", GUEST, "one twp", ["--vcpus", "2", "--rng"])
    ev3 = [e["digest"] for e in api3.get("events", [])]
    report("cmdline-byte-changes-it", g3 and g3 != guest and len(ev3) == 4 and
           ev3[1] != ev1[1] and ev3[0] == ev1[0] and ev3[2:] == ev1[2:], "%s %s" % (g3, ev3))
    g4, _, _, _ = run_pv("pv-again", GUEST, "one two", ["--vcpus", "2", "--rng"])
    report("same-launch-same-value", g4 == guest, "%s then %s" % (guest, g4))
    g5, _, _, _ = run_pv("pv-mem", GUEST, "one two", ["--vcpus", "2", "--rng", "--mem", "65"])
    report("config-changes-it", g5 and g5 != guest and
           g5 == expected(GUEST, "one two", mem=65, vcpus=2, devices=["rng"])[0], str(g5))


def hvm_case():
    p = subprocess.run(["timeout", "-k", "5", "60", CAPSULE, "run", "--mem", "64", "--cmdline",
                        "hvm measure", HVM], capture_output=True)
    m = LINE.search(p.stdout)
    want = expected(HVM, "hvm measure", kind="hvm")[0]
    report("hvm-acpi-table", p.returncode == 1 and m and m.group(1).decode() == want and
           p.stdout.rstrip().endswith(b"Test result: SUCCESS"),
           "status %d, guest %s, tools/measure.py %s: %r" % (p.returncode, m and m.group(1),
                                                             want, p.stdout[-300:]))


def capsule(*args, sock):
    env = dict(os.environ, CAPSULE_SOCKET=sock)
    return subprocess.run([CAPSULE] + list(args), capture_output=True, env=env, timeout=60)


def attest_cases():
    root = os.path.join(TMP, "daemon")
    os.mkdir(root)
    sock, state = os.path.join(root, "capsuled.sock"), os.path.join(root, "state")
    log = open(os.path.join(root, "capsuled.log"), "wb")
    d = subprocess.Popen(["timeout", "-s", "KILL", "300", CAPSULED, "--foreground", "--socket",
                          sock, "--state-dir", state], stdout=log, stderr=log,
                         stdin=subprocess.DEVNULL)
    try:
        if not wait_for(lambda: os.path.exists(sock), 20):
            report("capsuled", False, "did not start")
            return
        c = UnixHTTP(sock)
        c.request("POST", "/api/v1/domains", body=json.dumps(
            {"name": "m1", "kernel": GUEST, "memory": 16, "cmdline": "attested"}))
        r = c.getresponse()
        r.read()
        report("create", r.status == 201, "status %d" % r.status)
        info = wait_for(lambda: json.loads(capsule("info", "--json", "m1", sock=sock).stdout or
                                           b"{}").get("vmm", {}).get("measurement"))
        want = expected(GUEST, "attested", mem=16)[0]
        report("capsuled-info", info == want, "info %s, tools/measure.py %s" % (info, want))
        txt = capsule("info", "m1", sock=sock).stdout.decode()
        report("capsule-info-prints-it", ("measurement : %s" % want) in txt, txt[-400:])
        a = capsule("attest", "m1", "--nonce", "c0ffee01", sock=sock)
        doc = os.path.join(TMP, "m1.attest")
        with open(doc, "wb") as f:
            f.write(a.stdout)
        pub = os.path.join(TMP, "host.pub")
        k = capsule("attest", "--pubkey", sock=sock)
        with open(pub, "wb") as f:
            f.write(k.stdout)
        try:
            j = json.loads(a.stdout)
            st = json.loads(j["statement"])
        except (ValueError, KeyError) as e:
            report("attest", False, "%r %r %s" % (a.stdout[:300], a.stderr[:300], e))
            return
        report("attest-statement", a.returncode == 0 and st["measurement"] == want and
               st["nonce"] == "c0ffee01" and st["domain"] == "m1" and
               st["format"] == "capsule-attestation-1" and j["signature_algorithm"] == "ed25519",
               repr(st))
        keyfile = os.path.join(state, "attest-key.pem")
        report("host-key-made-private", k.returncode == 0 and b"BEGIN PUBLIC KEY" in k.stdout and
               os.stat(keyfile).st_mode & 0o777 == 0o600 and j["public_key"].encode() == k.stdout,
               "%r, mode %o" % (k.stdout[:80], os.stat(keyfile).st_mode & 0o777))
        v = capsule("verify-attestation", doc, "--pubkey", pub, "--measurement", want,
                    "--nonce", "c0ffee01", sock=sock)
        report("verifies", v.returncode == 0 and b"good signature" in v.stdout and
               want.encode() in v.stdout, v.stdout + v.stderr)
        # The same with nothing but openssl: the statement's bytes and the raw signature.
        sfile, sig = os.path.join(TMP, "statement"), os.path.join(TMP, "sig.bin")
        with open(sfile, "wb") as f:
            f.write(j["statement"].encode())
        with open(sig, "wb") as f:
            f.write(base64.b64decode(j["signature"]))
        o = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin",
                            "-in", sfile, "-sigfile", sig], capture_output=True)
        report("openssl-verifies", o.returncode == 0 and b"Signature Verified Successfully" in
               o.stdout, o.stdout + o.stderr)

        def tampered(name, mutate, args=()):
            bad = os.path.join(TMP, name)
            t = dict(j)
            mutate(t)
            with open(bad, "w") as f:
                json.dump(t, f)
            r = capsule("verify-attestation", bad, "--pubkey", pub, *args, sock=sock)
            return r.returncode, (r.stdout + r.stderr).decode()

        flip = want[:10] + ("0" if want[10] != "0" else "1") + want[11:]
        rc, out = tampered("flip-statement",
                           lambda t: t.update(statement=t["statement"].replace(want, flip)))
        report("flipped-statement-fails", rc == 1 and "BAD signature" in out, out)
        raw = bytearray(base64.b64decode(j["signature"]))
        raw[5] ^= 1
        rc, out = tampered("flip-signature",
                           lambda t: t.update(signature=base64.b64encode(raw).decode()))
        report("flipped-signature-fails", rc == 1 and "BAD signature" in out, out)
        other = os.path.join(TMP, "other.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out",
                        os.path.join(TMP, "other.key")], check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", os.path.join(TMP, "other.key"), "-pubout",
                        "-out", other], check=True, capture_output=True)
        r = capsule("verify-attestation", doc, "--pubkey", other, sock=sock)
        report("other-key-fails", r.returncode == 1 and b"BAD signature" in r.stdout,
               r.stdout + r.stderr)
        r = capsule("verify-attestation", doc, "--pubkey", pub, "--nonce", "c0ffee02", sock=sock)
        report("other-nonce-fails", r.returncode == 1 and b"nonce is not" in r.stdout,
               r.stdout + r.stderr)
        r = capsule("verify-attestation", doc, "--pubkey", pub, "--measurement", flip, sock=sock)
        report("other-measurement-fails", r.returncode == 1 and b"not the expected" in r.stdout,
               r.stdout + r.stderr)
        r = capsule("verify-attestation", doc, "--pubkey", doc, sock=sock)
        report("not-a-key", r.returncode == 1 and b"not an Ed25519 public key" in r.stderr,
               r.stdout + r.stderr)
        r = capsule("verify-attestation", pub, "--pubkey", pub, sock=sock)
        report("not-a-statement", r.returncode == 1 and b"not a statement" in r.stderr,
               r.stdout + r.stderr)
        rc, out = tampered("short-sig", lambda t: t.update(signature="AAAA"))
        report("short-signature", rc == 1 and "not 64 bytes" in out, out)
        r = capsule("attest", "nosuch", sock=sock)
        report("attest-unknown-domain", r.returncode != 0 and b"no domain nosuch" in r.stderr,
               r.stdout + r.stderr)
        st_, data = get(sock, "/api/v1/domain.attest?domain=m1&nonce=xyz")
        report("attest-bad-nonce", st_ == 400 and b"nonce" in data, "%d %r" % (st_, data))
        # The key is made once: the next statement is signed by the same one.
        k2 = capsule("attest", "--pubkey", sock=sock)
        report("host-key-kept", k2.stdout == k.stdout, k2.stdout[:80])
    finally:
        c = UnixHTTP(sock)  # domains outlive capsuled: this one goes first
        try:
            c.request("PUT", "/api/v1/domain.destroy?domain=m1")
            c.getresponse().read()
        except OSError:
            pass
        d.terminate()
        d.wait(10)


def main():
    try:
        pv_cases()
        hvm_case()
        attest_cases()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("measure: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
