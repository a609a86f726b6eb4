#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""capsule-oci (docs/oci.md) against real domains: first the runtime alone, driven as
containerd's shim drives it (each command a new process, state under a --root of our own),
then a real containerd from Debian, started here with its own root, state, socket and
config under a temporary directory (never the host's /run/containerd or /var/lib), running
a locally packed OCI image (scripts/capsule-oci-pack, umoci) through `ctr run
--runc-binary build/capsule-oci`, and Debian's dockerd 20.10 (its own data and exec roots,
socket and configuration) with capsule-oci as the runtime "capsule".

  run.py BUILD [--only NAME,...]
      prints PASS/FAIL lines and ends with "N passed, N failed"; exit 1 if any failed.
      A missing engine or tool is a FAIL that says what is missing, never a skip.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engines import DOCKER, DOCKERD, Containerd, Dockerd, udp_ask  # noqa: E402

ARGS = sys.argv[1:]
BUILD = os.path.abspath(ARGS[0] if ARGS and not ARGS[0].startswith("--") else "build")
ONLY = ARGS[ARGS.index("--only") + 1].split(",") if "--only" in ARGS else None
ROOT_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OCI = os.path.join(BUILD, "capsule-oci")
GUEST = os.path.join(BUILD, "tests", "guests", "ociguest.elf")
PACK = os.path.join(ROOT_DIR, "scripts", "capsule-oci-pack")
TMP = tempfile.mkdtemp(prefix="capsule-oci-test-")
RUNROOT = os.path.join(TMP, "root")
passed = failed = 0


def report(name, ok, why=""):
    global passed, failed
    if ok:
        passed += 1
        print("PASS oci-%s" % name, flush=True)
    else:
        failed += 1
        print("FAIL oci-%s: %s" % (name, why), flush=True)
    return ok


def oci(*args, root=RUNROOT, stdout=None, timeout=60):
    """One capsule-oci command: (exit status, stdout, stderr). Its output goes to files, not
    pipes: a created VMM keeps the runtime's stdio, as the container's."""
    with tempfile.TemporaryFile("w+") as o, tempfile.TemporaryFile("w+") as e:
        rc = subprocess.run(["timeout", "-k", "5", str(timeout), OCI, "--root", root,
                             "--log", os.path.join(TMP, "oci.log"), "--log-format", "json"]
                            + list(args), stdout=stdout or o, stderr=e,
                            stdin=subprocess.DEVNULL).returncode
        o.seek(0)
        e.seek(0)
        return rc, o.read(), e.read()


def bundle(name, args, env=None, terminal=False, annotations=None, resources=None,
           mounts=None, image=GUEST, image_name="guest"):
    """A bundle: rootfs/<image_name> and config.json as the engines write it."""
    b = os.path.join(TMP, "bundles", name)
    os.makedirs(os.path.join(b, "rootfs"), exist_ok=True)
    if image:
        shutil.copy(image, os.path.join(b, "rootfs", image_name))
    cfg = {"ociVersion": "1.0.2", "root": {"path": "rootfs"},
           "process": {"args": ["/" + image_name] + args, "env": env or [], "cwd": "/",
                       "terminal": terminal},
           "mounts": mounts if mounts is not None else
           [{"destination": "/proc", "type": "proc", "source": "proc"}],
           "annotations": annotations or {},
           "linux": {"resources": resources or {}, "namespaces": [{"type": "pid"}]}}
    with open(os.path.join(b, "config.json"), "w") as f:
        json.dump(cfg, f)
    return b


def state(cid):
    rc, out, err = oci("state", cid)
    return json.loads(out) if rc == 0 else {"status": "error: " + err.strip()}


def wait_status(cid, want, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = state(cid)
        if s["status"] == want:
            return s
        time.sleep(0.05)
    return state(cid)


def wait_text(path, text, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path) and text in open(path, errors="replace").read():
            return True
        time.sleep(0.05)
    return False


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def create(cid, b, console=None, extra=()):
    """create with the guest's console in a file: (rc, stderr, console file, pid file)."""
    con = os.path.join(TMP, cid + ".console")
    pidf = os.path.join(TMP, cid + ".pid")
    args = ["create", "--bundle", b, "--pid-file", pidf] + list(extra)
    if console:
        args += ["--console-socket", console]
    with open(con, "w") as f:
        rc, _, err = oci(*(args + [cid]), stdout=f)
    return rc, err, con, pidf


def cleanup(cid):
    oci("delete", "--force", cid)


# ---- the runtime alone -------------------------------------------------------------------

def t_lifecycle():
    b = bundle("life", ["ticks", "3", "exit", "7"], env=["A=b c", "PATH=/bin"],
               annotations={"io.capsule.vcpus": "2", "com.example.note": "kept"})
    rc, err, con, pidf = create("life", b)
    if not report("create", rc == 0, "rc %d: %s" % (rc, err)):
        return
    s = state("life")
    pid = int(open(pidf).read())
    report("state-created", s["status"] == "created" and s["pid"] == pid and pid_alive(pid)
           and s["bundle"] == os.path.realpath(b) and s["ociVersion"] and s["id"] == "life"
           and s["annotations"].get("com.example.note") == "kept", "state %s, pid file %d" % (s, pid))
    # The state outlives the runtime's process: a state.json another process reads.
    st = json.load(open(os.path.join(RUNROOT, "life", "state.json")))
    report("state-file", st["pid"] == pid and st["started"] is False, str(st))
    time.sleep(0.5)
    report("paused-before-first-instruction", open(con).read() == "",
           "the guest printed before start: %r" % open(con).read())
    rc, _, err = oci("start", "life")
    report("start", rc == 0, err)
    ok = wait_text(con, "ociguest: exit 7")
    text = open(con).read()
    # env, quoted where it holds a space, then "--" and the args (docs/oci.md).
    report("console-and-cmdline", ok and 'cmdline ""A=b c" PATH=/bin -- ticks 3 exit 7"' in text
           and "2 vCPU(s)" in text, text)
    s = wait_status("life", "stopped")
    report("state-stopped", s["status"] == "stopped" and not pid_alive(pid), str(s))
    # The guest's code is the VMM's exit status (the shim reaps it; here, its exit file).
    ex = json.load(open(os.path.join(RUNROOT, "life", "exit.json")))
    report("exit-code", ex.get("status") == 7 or ex.get("code") == 7, str(ex))
    rc, _, err = oci("start", "life")
    report("start-stopped", rc == 1 and "cannot start a container that has stopped" in err, err)
    rc, _, err = oci("kill", "life", "KILL")
    report("kill-stopped", rc == 1 and "container not running" in err, err)
    rc, _, err = oci("delete", "life")
    report("delete-stopped", rc == 0 and not os.path.exists(os.path.join(RUNROOT, "life")),
           "rc %d %s; left %s" % (rc, err, os.listdir(RUNROOT)))


def t_errors():
    for cmd in (["state"], ["start"], ["kill"], ["delete"], ["delete", "--force"], ["ps"]):
        rc, _, err = oci(*(cmd + ["nosuch"]))
        report("unknown-id-" + "-".join(c.strip("-") for c in cmd),
               rc == 1 and "container does not exist" in err, "rc %d: %s" % (rc, err))
    rc, _, err = oci("state", "../etc")
    report("bad-id", rc == 1 and "invalid container id" in err, err)
    b = bundle("twice", ["ticks", "0"])
    rc, err, con, _ = create("twice", b)
    rc2, err2, _, _ = create("twice", b)
    report("double-create", rc == 0 and rc2 == 1 and "container with id exists: twice" in err2
           and state("twice")["status"] == "created", "%d %s / %d %s" % (rc, err, rc2, err2))
    oci("start", "twice")
    rc, _, err = oci("start", "twice")
    report("double-start", rc == 1 and "cannot start an already running container" in err, err)
    rc, _, err = oci("delete", "twice")
    s = state("twice")
    report("delete-running-refused", rc == 1 and
           "cannot delete container twice that is not stopped: running" in err and
           s["status"] == "running", "rc %d %s, then %s" % (rc, err, s))
    pid = s.get("pid", 0)
    rc, _, err = oci("delete", "--force", "twice")
    report("delete-force", rc == 0 and not pid_alive(pid) and
           not os.path.exists(os.path.join(RUNROOT, "twice")), "rc %d %s" % (rc, err))
    # A created container is destroyed by delete without --force, as runc does.
    rc, err, con, pidf = create("created-del", bundle("created-del", ["ticks", "0"]))
    pid = int(open(pidf).read()) if rc == 0 else 0
    rc, _, err = oci("delete", "created-del")
    report("delete-created", rc == 0 and pid and not pid_alive(pid), err)

    def refused(name, b, want, extra=()):
        rc, err, _, _ = create(name, b, extra=extra)
        report("refuse-" + name, rc == 1 and want in err and
               not os.path.exists(os.path.join(RUNROOT, name)), "rc %d: %s" % (rc, err))

    refused("missing-image", bundle("missing-image", [], image=None, image_name="nope"),
            'exec: "/nope": stat /nope: No such file or directory')
    b = bundle("not-runnable", [], image=None, image_name="text")
    with open(os.path.join(b, "rootfs", "text"), "w") as f:
        f.write("#!/bin/sh\necho not a domain\n")
    refused("not-runnable", b, "not runnable: neither a Capsule PV image nor a kernel")
    # args[0] is resolved inside the rootfs: a symlink out of it stays in it.
    b = bundle("escape", [], image=None, image_name="link")
    os.symlink("../../../../../../../etc/passwd", os.path.join(b, "rootfs", "link"))
    refused("escape", b, "No such file or directory")
    refused("small-memory", bundle("small-memory", [], resources={"memory": {"limit": 8 << 20}}),
            "linux.resources.memory.limit 8388608 bytes is too small")
    refused("bad-vcpus", bundle("bad-vcpus", [], annotations={"io.capsule.vcpus": "0"}),
            "annotation io.capsule.vcpus: expected 1 to 64")
    refused("bad-type", bundle("bad-type", [], annotations={"io.capsule.type": "hvm"}),
            "annotation io.capsule.type says hvm")
    refused("unknown-annotation", bundle("unknown-annotation", [],
                                          annotations={"io.capsule.nope": "1"}),
            "unknown annotation io.capsule.nope")
    refused("quote", bundle("quote", ['say "hi"']), "holds a '\"'")
    refused("long-cmdline", bundle("long-cmdline", ["x" * 2000]), "longer than 1023 bytes")
    refused("terminal-no-socket", bundle("terminal-no-socket", [], terminal=True),
            "cannot allocate tty if runc will detach without setting console socket")
    refused("bad-cpus", bundle("bad-cpus", [], resources={"cpu": {"cpus": "0-zz"}}),
            "linux.resources.cpu.cpus")
    refused("disk-not-bind", bundle("disk-not-bind", [], mounts=[
        {"destination": "/d", "type": "tmpfs", "source": "x", "options": ["io.capsule.disk"]}]),
        "io.capsule.disk needs type bind")
    b = bundle("bad-json", [])
    with open(os.path.join(b, "config.json"), "w") as f:
        f.write('{"ociVersion": "1.0.2", "process": {"args": [1]}, "root": {"path": "rootfs"}}')
    refused("bad-args", b, "process.args[0] is not a string")
    with open(os.path.join(b, "config.json"), "w") as f:
        f.write('{"ociVersion": ')
    refused("bad-json", b, "cannot read")
    rc, _, err = oci("--systemd-cgroup", "state", "x")
    report("systemd-cgroup-refused", rc == 1 and "--systemd-cgroup is not supported" in err, err)
    rc, _, err = oci("exec", "x")
    report("exec-refused", rc == 1 and "exec is not supported" in err, err)
    rc, out, err = oci("features")
    f = json.loads(out) if rc == 0 else {}
    report("features", f.get("ociVersionMax") == "1.0.2" and "io.capsule.vcpus" in
           f.get("annotations", {}), out + err)
    rc, out, err = oci("--version")
    report("version", rc == 0 and out.startswith("capsule-oci version ") and "spec: 1.0.2" in out,
           out + err)
    # Every failed create logged its error as JSON, as containerd's shim reads it.
    lines = [json.loads(l) for l in open(os.path.join(TMP, "oci.log"))]
    report("log-json", any(l["level"] == "error" and "container with id exists" in l["msg"]
                           for l in lines) and all("time" in l for l in lines), str(lines[-3:]))


def t_kill():
    rc, err, con, pidf = create("term", bundle("term", ["ticks", "0"]))
    oci("start", "term")
    wait_text(con, "tick 2")
    rc, _, err = oci("kill", "term", "15")
    s = wait_status("term", "stopped")
    text = open(con).read()
    ex = json.load(open(os.path.join(RUNROOT, "term", "exit.json")))
    report("kill-term-graceful", rc == 0 and s["status"] == "stopped" and
           "asked for a power off" in text, "rc %d %s; %s; %s; %s" % (rc, err, s, text[-200:], ex))
    oci("delete", "term")
    rc, err, con, pidf = create("kill9", bundle("kill9", ["ticks", "0"]))
    oci("start", "kill9")
    wait_text(con, "tick 2")
    rc, _, err = oci("kill", "kill9", "SIGKILL")
    s = wait_status("kill9", "stopped")
    report("kill-9", rc == 0 and s["status"] == "stopped", "%d %s %s" % (rc, err, s))
    oci("delete", "kill9")
    rc, _, err = oci("kill", "nosuch", "SIGNOPE")
    report("kill-bad-signal", rc == 1 and "invalid signal: SIGNOPE" in err, err)
    # pause and resume through the API, seen in state.
    rc, err, con, _ = create("pause", bundle("pause", ["ticks", "0"]))
    oci("start", "pause")
    rc1, _, e1 = oci("pause", "pause")
    s1 = state("pause")["status"]
    rc2, _, e2 = oci("resume", "pause")
    s2 = state("pause")["status"]
    report("pause-resume", rc1 == 0 and s1 == "paused" and rc2 == 0 and s2 == "running",
           "%s %s %s %s" % (e1, s1, e2, s2))
    cleanup("pause")


def t_resources():
    b = bundle("res", ["ticks", "0"], resources={
        "memory": {"limit": 128 << 20},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"}},
        mounts=[{"destination": "/data", "type": "bind", "source": os.path.join(TMP, "disk.img"),
                 "options": ["rbind", "io.capsule.disk"]},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"}])
    with open(os.path.join(TMP, "disk.img"), "wb") as f:
        f.truncate(1 << 20)
    rc, err, con, pidf = create("res", b)
    if not report("resources-create", rc == 0, err):
        return
    pid = int(open(pidf).read())
    oci("start", "res")
    wait_text(con, "tick 1")
    report("memory-limit", "ociguest: hello, %d MiB" % (128 - 16) in open(con).read(),
           open(con).read()[:200])
    status = open("/proc/%d/status" % pid).read()
    report("cpus-pinned", "Cpus_allowed_list:\t0\n" in status,
           [l for l in status.splitlines() if "Cpus_allowed_list" in l])
    cg = open("/proc/%d/cgroup" % pid).read()
    line = [l for l in cg.splitlines() if ("cpu," in l or ":cpu:" in l or l.startswith("0::"))
            and "capsule-oci/res" in l]
    ok, why = bool(line), cg
    if line:
        path = line[0].split(":", 2)[2]
        v1 = "/sys/fs/cgroup/cpu" + path
        if os.path.exists(v1 + "/cpu.cfs_quota_us"):
            quota = int(open(v1 + "/cpu.cfs_quota_us").read())
            period = int(open(v1 + "/cpu.cfs_period_us").read())
            shares = int(open(v1 + "/cpu.shares").read())
            ok, why = quota * 2 == period and shares == 512, "%d/%d %d" % (quota, period, shares)
        else:
            mx = open("/sys/fs/cgroup/unified" + path + "/cpu.max").read().split()
            ok, why = int(mx[0]) * 2 == int(mx[1]), str(mx)
    report("cpu-cap-weight", ok, why)
    rc, out, _ = oci("ps", "--format", "json", "res")
    report("ps", rc == 0 and json.loads(out) == [pid], out)
    sock = os.path.join(RUNROOT, "res", "api.sock")
    p = subprocess.run(["curl", "-s", "--unix-socket", sock, "http://l/api/v1/vm.counters"],
                       capture_output=True, text=True, timeout=30)
    devs = [d["name"] for d in json.loads(p.stdout or "{}").get("devices", [])]
    report("disk-mount", any("blk" in d for d in devs), p.stdout[:300])
    cleanup("res")
    # The cap binds: a guest spinning at CPL 3 under a 20% quota gets no more than that
    # (with room for the VMM's own threads), however idle the host is.
    spin = os.path.join(BUILD, "tests", "guests", "spin.elf")
    rc, err, con, pidf = create("spin", bundle("spin", [], image=spin, resources={
        "cpu": {"quota": 20000, "period": 100000}}))
    if rc == 0:
        oci("start", "spin")
        wait_text(con, "spin: spinning")
        pid = int(open(pidf).read())
        tick = os.sysconf("SC_CLK_TCK")

        def cpu_s():
            f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
            return (int(f[11]) + int(f[12])) / tick

        c0, t0 = cpu_s(), time.time()
        time.sleep(2)
        share = (cpu_s() - c0) / (time.time() - t0)
        report("cpu-cap-binds", share < 0.35, "a 20%% cap, %.0f%% of a CPU used" % (share * 100))
    else:
        report("cpu-cap-binds", False, err)
    cleanup("spin")
    report("cgroup-removed", not any(os.path.isdir(d + "/capsule-oci/res") for d in
                                     ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/unified")), "left")


def t_hvm():
    """A kernel in the rootfs makes an HVM domain; io.capsule.kernel-cmdline leads its command
    line (tests/hvm/serial.c checks for "hvm-test" and 64 MiB)."""
    kernel = os.path.join(BUILD, "tests", "hvm", "serial.elf")
    b = bundle("hvm", [], image=kernel, image_name="vmlinux",
               annotations={"io.capsule.kernel-cmdline": "hvm-test console=ttyS0",
                            "io.capsule.type": "hvm"})
    rc, err, con, _ = create("hvm", b)
    if not report("hvm-create", rc == 0, err):
        return
    oci("start", "hvm")
    s = wait_status("hvm", "stopped", timeout=60)
    text = open(con).read()
    report("hvm-kernel-runs", s["status"] == "stopped" and 'cmdline "hvm-test console=ttyS0"'
           in text and "SUCCESS" in text, "%s %r" % (s, text[-400:]))
    oci("delete", "hvm")
    rc, err, _, _ = create("pv-as-hvm", bundle("pv-as-hvm", [], annotations={
        "io.capsule.type": "hvm"}))
    report("hvm-type-mismatch", rc == 1 and "is a PV image" in err, err)


def t_terminal():
    path = os.path.join(TMP, "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(30)
    b = bundle("tty", ["ticks", "3", "exit", "4"], terminal=True)
    pidf = os.path.join(TMP, "tty.pid")
    p = subprocess.Popen([OCI, "--root", RUNROOT, "create", "--bundle", b, "--pid-file", pidf,
                          "--console-socket", path, "tty"], stderr=subprocess.PIPE, text=True)
    try:
        conn, _ = srv.accept()
        msg, fds, _, _ = socket.recv_fds(conn, 1024, 1)
    except OSError as e:
        p.kill()
        report("terminal", False, "no console fd: %s %s" % (e, p.stderr.read()))
        return
    rc = p.wait(timeout=60)
    oci("start", "tty")
    master, out = fds[0] if fds else -1, b""
    deadline = time.time() + 20
    while master >= 0 and b"exit 4" not in out and time.time() < deadline:
        try:
            out += os.read(master, 4096)
        except OSError:
            break
    report("terminal", rc == 0 and msg.startswith(b"/dev/pts/") and b"ociguest: hello" in out
           and b"exit 4" in out and os.isatty(master), "rc %d msg %r out %r" % (rc, msg, out[:200]))
    if master >= 0:
        os.close(master)
    cleanup("tty")


class NetPair:
    """Two network namespaces joined by a veth, as an engine leaves a container's: the
    container's side (eth0, 10.213.N.2/24, a default route through .1) and a peer (.1)."""

    def __init__(self, n):
        self.c, self.p = "capsule-oci-c%d-%d" % (n, os.getpid()), "capsule-oci-p%d-%d" % (n, os.getpid())
        self.ip, self.peer = "10.213.%d.2" % n, "10.213.%d.1" % n
        va, vb = "coc%d%d" % (n, os.getpid() % 100000), "cop%d%d" % (n, os.getpid() % 100000)
        cmds = [["ip", "netns", "add", self.c], ["ip", "netns", "add", self.p],
                ["ip", "link", "add", va, "type", "veth", "peer", "name", vb],
                ["ip", "link", "set", va, "netns", self.c], ["ip", "link", "set", vb, "netns", self.p],
                ["ip", "-n", self.c, "link", "set", va, "name", "eth0"],
                ["ip", "-n", self.c, "addr", "add", self.ip + "/24", "dev", "eth0"],
                ["ip", "-n", self.c, "link", "set", "eth0", "up"],
                ["ip", "-n", self.c, "route", "add", "default", "via", self.peer],
                ["ip", "-n", self.p, "addr", "add", self.peer + "/24", "dev", vb],
                ["ip", "-n", self.p, "link", "set", vb, "up"]]
        for c in cmds:
            subprocess.run(c, check=True, capture_output=True)
        self.path = "/var/run/netns/" + self.c

    def echo(self, text):
        """text to the domain's UDP port 7 from the peer: the answer, or None."""
        return udp_ask(["ip", "netns", "exec", self.p], text, (self.ip, 7))

    def close(self):
        for ns in (self.c, self.p):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def t_network():
    net = NetPair(1)
    try:
        b = bundle("net", ["ticks", "0"])
        cfg = json.load(open(os.path.join(b, "config.json")))
        cfg["linux"]["namespaces"].append({"type": "network", "path": net.path})
        json.dump(cfg, open(os.path.join(b, "config.json"), "w"))
        rc, err, con, pidf = create("net", b)
        if not report("net-create", rc == 0, err):
            return
        oci("start", "net")
        up = wait_text(con, "ociguest: net ")
        text = open(con).read()
        report("net-address-on-cmdline", up and "capsule.ip=%s/24 capsule.gw=%s" % (net.ip, net.peer)
               in text, text[:300])
        reply = net.echo("hello-through-veth")
        report("net-udp-echo-through-veth", reply == "hello-through-veth", "reply %r; %s" % (reply, text[-300:]))
        # The redirects are the kernel's: tc shows both, and the domain holds eth0's MAC.
        q = subprocess.run(["ip", "netns", "exec", net.c, "tc", "filter", "show", "dev", "eth0",
                            "ingress"], capture_output=True, text=True).stdout
        report("net-tc-mirred", "mirred" in q and "capsule0" in q, q)
        net.echo("quit")
        s = wait_status("net", "stopped")
        report("net-quit", s["status"] == "stopped", str(s))
        cleanup("net")
        # The same namespace path under containerd (ctr run --with-ns), if it runs here.
        b = bundle("net-nsless", ["ticks", "0"])
        cfg = json.load(open(os.path.join(b, "config.json")))
        cfg["linux"]["namespaces"].append({"type": "network", "path": "/var/run/netns/nope"})
        json.dump(cfg, open(os.path.join(b, "config.json"), "w"))
        rc, err, _, _ = create("net-nsless", b)
        report("net-missing-namespace", rc == 1 and "network namespace /var/run/netns/nope" in err,
               err)
    finally:
        net.close()


# ---- containerd --------------------------------------------------------------------------

def t_containerd():
    missing = [t for t in ("containerd", "ctr", "containerd-shim-runc-v2", "umoci")
               if not shutil.which(t)]
    if not report("containerd-present", not missing,
                  "missing %s: make deps-test installs containerd and umoci" % missing):
        return
    images = []
    for tag, args in (("exit5", ["ticks", "3", "exit", "5"]), ("forever", ["ticks", "0"])):
        tar = os.path.join(TMP, tag + ".tar")
        p = subprocess.run([PACK, GUEST, tar, "capsule.test/ociguest:" + tag] + args,
                           capture_output=True, text=True)
        if not report("pack-" + tag, p.returncode == 0, p.stderr):
            return
        images.append(tar)
    c = Containerd(TMP, OCI)
    try:
        for tar in images:
            rc, out, err = c.ctr("images", "import", tar)
            report("import-" + os.path.basename(tar), rc == 0, out + err)
        rc, out, err = c.ctr(*(["run", "--rm"] + c.run_args() +
                               ["capsule.test/ociguest:exit5", "exit5"]))
        report("ctr-run-exit-code", rc == 5 and "ociguest: hello, 64 MiB" in out and
               "ociguest: exit 5" in out, "rc %d out %r err %r" % (rc, out, err[-500:]))
        # What OCI has no field for comes as annotations; the memory limit as ctr sets it.
        rc, out, err = c.ctr(*(["run", "--rm", "--annotation", "io.capsule.vcpus=2",
                                "--memory-limit", str(96 << 20)] + c.run_args() +
                               ["capsule.test/ociguest:exit5", "exit5b"]))
        report("ctr-annotation-and-memory", rc == 5 and "ociguest: hello, 80 MiB, 2 vCPU(s)" in out,
               "rc %d out %r err %r" % (rc, out[:200], err[-300:]))
        for name, sig, want in (("term", "SIGTERM", "asked for a power off"),
                                ("kill", "SIGKILL", None)):
            logf = os.path.join(TMP, "ctr-%s.log" % name)
            rc, out, err = c.ctr(*(["run", "-d", "--log-uri", "file://" + logf] + c.run_args()
                                   + ["capsule.test/ociguest:forever", name]))
            ok = rc == 0 and wait_text(logf, "tick 2")
            rc2, _, err2 = c.ctr("task", "kill", "-s", sig, name)
            deadline, tasks = time.time() + 30, ""
            while time.time() < deadline:
                tasks = c.ctr("task", "ls")[1]
                if any(l.split()[0] == name and l.split()[-1] == "STOPPED"
                       for l in tasks.splitlines()[1:]):
                    break
                time.sleep(0.1)
            stopped = any(l.split()[0] == name and l.split()[-1] == "STOPPED"
                          for l in tasks.splitlines()[1:])
            text = open(logf).read() if os.path.exists(logf) else ""
            report("ctr-task-kill-" + name, ok and rc2 == 0 and stopped and
                   (want is None or want in text),
                   "run %d %s; kill %d %s; tasks %r; log %r" % (rc, err, rc2, err2, tasks,
                                                                text[-200:]))
            c.ctr("task", "rm", name)
            c.ctr("container", "rm", name)
        net = NetPair(2)
        try:
            logf = os.path.join(TMP, "ctr-net.log")
            rc, out, err = c.ctr(*(["run", "-d", "--log-uri", "file://" + logf,
                                    "--with-ns", "network:" + net.path] + c.run_args()
                                   + ["capsule.test/ociguest:forever", "net"]))
            reply = net.echo("hello-ctr") if rc == 0 else None
            report("ctr-with-ns-udp-echo", reply == "hello-ctr", "run %d %s; reply %r; %s" % (
                rc, err, reply, open(logf).read()[-300:] if os.path.exists(logf) else ""))
            c.ctr("task", "kill", "-s", "SIGKILL", "net")
            time.sleep(0.5)
            c.ctr("task", "rm", "-f", "net")
            c.ctr("container", "rm", "net")
        finally:
            net.close()
        left = os.listdir(os.path.join(c.runc_root, c.ns)) if os.path.isdir(
            os.path.join(c.runc_root, c.ns)) else []
        report("ctr-state-cleaned", left == [], "left %s" % left)
    finally:
        c.stop()


# ---- Docker -------------------------------------------------------------------------------

def pty_run(argv, until, timeout=30, after=None, send=b"", on_until=None):
    """argv on a new pty (docker run -it needs one), typing send once after is printed;
    once until is printed, on_until() (which may end it): (exit status, what it printed)."""
    import pty
    import select
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    out, deadline, sent, done = b"", time.time() + timeout, False, False
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                d = os.read(fd, 4096)
            except OSError:
                break
            if not d:
                break
            out += d
        if after and not sent and after.encode() in out:
            os.write(fd, send)
            sent = True
        if not done and until.encode() in out:
            done = True
            if on_until:
                on_until()
    if time.time() >= deadline:
        os.kill(pid, signal.SIGKILL)
    _, st = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(st), out.decode(errors="replace")


def t_docker():
    missing = [t for t in (DOCKER, DOCKERD) if not os.access(t, os.X_OK)]
    if not report("docker-present", not missing,
                  "missing %s: make deps-test installs Debian's docker.io" % missing):
        return
    tars = {}
    for tag, args in (("exit5", ["ticks", "3", "exit", "5"]), ("forever", ["ticks", "0"])):
        tars[tag] = os.path.join(TMP, "docker-" + tag + ".tar")
        # (On Docker's bridge, ociguest serves UDP: "forever" is the network's image too.)
        p = subprocess.run([PACK, GUEST, tars[tag], "capsule.test/ociguest:" + tag] + args,
                           capture_output=True, text=True)
        if not report("docker-pack-" + tag, p.returncode == 0, p.stderr):
            return
    tars["echo"] = os.path.join(TMP, "docker-echo.tar")
    subprocess.run([PACK, os.path.join(BUILD, "tests", "guests", "echo.elf"), tars["echo"],
                    "capsule.test/echo:1"], check=True, capture_output=True)
    d = Dockerd(TMP, OCI)
    try:
        for tag, tar in tars.items():
            rc, out, err = d.docker("load", "-i", tar)
            report("docker-load-" + tag, rc == 0 and "Loaded image: capsule.test/" in out,
                   out + err)
        run = ["run", "--runtime", "capsule", "--network", "none"]
        # The bridge: Docker's prestart hook moves a veth into the VMM's namespace, which
        # capsule-oci joins to the domain; -p is docker-proxy in front of it.
        rc, out, err = d.docker("run", "--runtime", "capsule", "-d", "--name", "net1", "-p",
                                "7007:7/udp", "capsule.test/ociguest:forever")
        ip = d.docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "net1")[1].strip()
        r1 = d.udp("to-the-bridge", (ip, 7)) if rc == 0 and ip else None
        r2 = d.udp("to-the-port", ("127.0.0.1", 7007)) if rc == 0 else None
        logs = d.docker("logs", "net1")[1]
        report("docker-bridge-udp-echo", r1 == "to-the-bridge" and "capsule.ip=%s/" % ip in logs,
               "run %d %s ip %r reply %r logs %r" % (rc, err, ip, r1, logs[:300]))
        report("docker-port-mapping", r2 == "to-the-port", "reply %r" % r2)
        d.docker("rm", "-f", "net1")
        rc, out, err = d.docker(*(run + ["--rm", "capsule.test/ociguest:exit5"]))
        report("docker-run-exit-code", rc == 5 and "ociguest: exit 5" in out and
               "HOSTNAME=" in out, "rc %d out %r err %r" % (rc, out, err))
        rc, out, err = d.docker(*(run + ["-d", "--name", "stop1", "-m", "96m", "--cpus", "0.5",
                                         "capsule.test/ociguest:forever"]))
        deadline = time.time() + 20
        while time.time() < deadline and "tick 2" not in d.docker("logs", "stop1")[1]:
            time.sleep(0.1)
        logs = d.docker("logs", "stop1")[1]
        report("docker-memory-limit", "ociguest: hello, 80 MiB" in logs, logs[:200])
        pid = d.docker("inspect", "-f", "{{.State.Pid}}", "stop1")[1].strip()
        cg = open("/proc/%s/cgroup" % pid).read() if pid.isdigit() else ""
        line = [l.split(":", 2)[2] for l in cg.splitlines() if "capsule-oci/" in l
                and (":cpu" in l or l.startswith("0::"))]
        q = "/sys/fs/cgroup/cpu%s/cpu.cfs_quota_us" % (line[0] if line else "/none")
        p_ = q.replace("quota", "period")
        ok = line and os.path.exists(q) and int(open(q).read()) * 2 == int(open(p_).read())
        if line and not os.path.exists(q):
            mx = open("/sys/fs/cgroup/unified%s/cpu.max" % line[0]).read().split()
            ok = int(mx[0]) * 2 == int(mx[1])
        report("docker-cpu-limit", ok, "pid %s cgroup %r" % (pid, cg))
        rc, out, err = d.docker("stop", "stop1")
        code = d.docker("inspect", "-f", "{{.State.ExitCode}}", "stop1")[1].strip()
        logs = d.docker("logs", "stop1")[1]
        report("docker-stop-graceful", rc == 0 and code == "0" and
               "asked for a power off" in logs, "rc %d %s code %s logs %r" % (rc, err, code,
                                                                        logs[-200:]))
        d.docker("rm", "stop1")
        rc, out, err = d.docker(*(run + ["-d", "--name", "kill1",
                                         "capsule.test/ociguest:forever"]))
        rc, out, err = d.docker("kill", "kill1")
        d.docker("wait", "kill1")
        code = d.docker("inspect", "-f", "{{.State.ExitCode}}", "kill1")[1].strip()
        report("docker-kill", rc == 0 and code == "137", "rc %d %s code %s" % (rc, err, code))
        d.docker("rm", "-f", "kill1")
        rc, out = pty_run([DOCKER, "-H", "unix://" + d.sock] + run +
                          ["--rm", "-it", "capsule.test/ociguest:exit5"], "exit 5")
        report("docker-run-it", rc == 5 and "TERM=xterm" in out and "ociguest: exit 5" in out,
               "rc %d out %r" % (rc, out[-300:]))
        # Typing on docker run -it's terminal reaches the guest (tests/guests/echo.c).
        rc, out = pty_run([DOCKER, "-H", "unix://" + d.sock] + run +
                          ["--rm", "-it", "--name", "tty1", "capsule.test/echo:1"],
                          "echo: typed-on-the-tty", after="echo: ready",
                          send=b"typed-on-the-tty\n",
                          on_until=lambda: d.docker("kill", "tty1"))
        report("docker-run-it-input", "echo: typed-on-the-tty" in out, "rc %d out %r" % (
            rc, out[-300:]))
    finally:
        d.stop()


def t_swarm():
    """A one-node Swarm whose default runtime is capsule-oci: three replicas run as domains,
    and one whose VMM is killed is replaced."""
    if not os.access(DOCKERD, os.X_OK):
        report("swarm-present", False, "missing %s: make deps-test installs docker.io" % DOCKERD)
        return
    tar = os.path.join(TMP, "swarm.tar")
    subprocess.run([PACK, GUEST, tar, "capsule.test/ociguest:swarm", "ticks", "0"], check=True,
                   capture_output=True)
    d = Dockerd(TMP, OCI, default_runtime=True, name="swarm")
    try:
        d.docker("load", "-i", tar)
        rc, out, err = d.docker("swarm", "init", "--advertise-addr", d.addr)
        if not report("swarm-init", rc == 0, out + err):
            return
        rc, out, err = d.docker("service", "create", "--detach", "--no-resolve-image", "--name",
                                "tick", "--replicas", "3", "capsule.test/ociguest:swarm")
        report("swarm-service-create", rc == 0, out + err)

        def running():
            ids = d.docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name=tick")[1].split()
            return [(c, d.docker("inspect", "-f", "{{.State.Pid}} {{.HostConfig.Runtime}}", c)[1].split())
                    for c in ids]

        deadline, tasks = time.time() + 60, []
        while time.time() < deadline:
            tasks = running()
            if len(tasks) == 3:
                break
            time.sleep(0.5)
        report("swarm-three-replicas-as-domains", len(tasks) == 3 and all(
            t[1][1] == "capsule" and open("/proc/%s/comm" % t[1][0]).read().strip() == "capsule"
            for t in tasks), str(tasks))
        if len(tasks) == 3:
            victim = tasks[0]
            os.kill(int(victim[1][0]), signal.SIGKILL)  # a crashed domain: its VMM gone
            deadline, now = time.time() + 60, []
            while time.time() < deadline:
                now = running()
                if len(now) == 3 and victim[0] not in [c for c, _ in now]:
                    break
                time.sleep(0.5)
            hist = d.docker("service", "ps", "tick")[1]
            report("swarm-restarts-crashed", len(now) == 3 and victim[0] not in [c for c, _ in now]
                   and "non-zero exit (137)" in hist, "%s\n%s" % (now, hist))
        d.docker("service", "rm", "tick")
        d.docker("swarm", "leave", "--force")
    finally:
        d.stop()


TESTS = [("lifecycle", t_lifecycle), ("errors", t_errors), ("kill", t_kill),
         ("resources", t_resources), ("terminal", t_terminal), ("hvm", t_hvm), ("network", t_network), ("containerd", t_containerd),
         ("docker", t_docker), ("swarm", t_swarm)]


def main():
    if os.geteuid() != 0:
        print("FAIL oci: needs root (KVM, cgroups, containerd)")
        return 1
    for t in (OCI, GUEST):
        if not os.access(t, os.R_OK):
            print("FAIL oci: %s is missing (make all)" % t)
            return 1
    try:
        for name, fn in TESTS:
            if ONLY is None or name in ONLY:
                try:
                    fn()
                except Exception as e:  # a crash of the driver is a failure, not a stop
                    report(name, False, "exception %r" % e)
    finally:
        if os.path.isdir(RUNROOT):
            for cid in os.listdir(RUNROOT):
                cleanup(cid)
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
