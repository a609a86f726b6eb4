#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""CPU control and accounting through capsuled (docs/resources.md): real domains, a real
capsuled with its own state directory, the kernel's cgroups.

  sched.py BUILD [--only NAME,...]
      prints PASS/FAIL/NOTE lines and ends with "N passed, N failed"; exit 1 if any failed.

For each cgroup version this host offers (v1: a cpu hierarchy; v2: the cpu controller on
a cgroup2 mount), a capsuled forced to it: two spinning PV domains pinned to one CPU with
weights 512 and 256 share it 2:1 (within 10%); a cap of 25 holds within 5 points; pinning
shows in vcpu-list and in the threads' affinity. Bad input to every new verb gets a clear
error and exit status 1. Accounting: a disk's and a NIC's bytes as the guest moved them.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as base  # noqa: E402  the daemon harness
from run import GUESTS, call, report, wait_for  # noqa: E402

ARGS = sys.argv[1:]
ONLY = ARGS[ARGS.index("--only") + 1].split(",") if "--only" in ARGS else None
TAG = "capsule-cpu-test-%d" % os.getpid()  # our cgroups, TAP: nobody else's
SPIN = os.path.join(GUESTS, "spin.elf")
TICK = os.path.join(GUESTS, "ticker.elf")
NCPU = os.cpu_count()


def versions():
    """The cgroup versions this host offers for the cpu controller, and why not the others."""
    out, why = [], {}
    if os.path.exists("/sys/fs/cgroup/cpu/cpu.shares"):
        out.append("v1")
    else:
        why["v1"] = "no cgroup v1 cpu hierarchy at /sys/fs/cgroup/cpu"
    v2 = [l.split()[1] for l in open("/proc/self/mounts") if l.split()[2] == "cgroup2"]
    ctl = open(os.path.join(v2[0], "cgroup.controllers")).read().split() if v2 else []
    if "cpu" in ctl:
        out.append("v2")
    else:
        why["v2"] = ("the cpu controller is not available on %s (cgroup.controllers: %s): a "
                     "v1 hierarchy holds it" % (v2[0], " ".join(ctl)) if v2 else
                     "no cgroup2 mount")
    return out, why


def vcpus(dm, name):
    rc, out, err = dm.cli("vcpu-list", "--json", name)
    doms = json.loads(out)["domains"] if rc == 0 else []
    return doms[0]["vcpus"] if doms else []


def cpu_s(dm, name):
    """The domain's vCPU seconds, from its accounting (the VMM's per-vCPU clocks)."""
    return sum(v["cpu_s"] for v in vcpus(dm, name))


def dom_cpu_s(dm, names):
    """Each domain's CPU time, from its accounting (its cgroup: every thread of its VMM)."""
    rc, out, err = dm.cli("list", "--json", *names)
    got = {d["name"]: d["cpu_time_s"] for d in json.loads(out)} if rc == 0 else {}
    return [got.get(n, 0.0) for n in names]


def cgdir(dm, name):
    d = dm.dom(name)
    info = json.loads(call(dm.sock, "GET", "/api/v1/daemon.info")[1])
    root = "/sys/fs/cgroup/cpu" if info["cgroup"] == 1 else "/sys/fs/cgroup/unified"
    return os.path.join(root, TAG, d["uuid"])


def read(path):
    with open(path) as f:
        return f.read().strip()


def test_weights(dm, ver):
    rcs = []
    cfg = os.path.join(dm.root, "wa.cfg")
    with open(cfg, "w") as f:  # xl.cfg syntax for one, JSON for the other
        f.write('name = "wa"\nkernel = "%s"\nmemory = 4\ncpu_weight = 512\ncpus = "0"\n' % SPIN)
    rcs.append(dm.cli("create", cfg))
    rcs.append(call(dm.sock, "POST", "/api/v1/domains", json.dumps(
        {"name": "wb", "kernel": SPIN, "memory": 4, "cpu_weight": 256, "cpus": "0"})))
    ok = rcs[0][0] == 0 and rcs[1][0] == 201
    report("%s-weights-create" % ver, ok, repr(rcs))
    if not ok:
        return
    shares = {n: read(os.path.join(cgdir(dm, n), "cpu.shares" if ver == "v1" else
                                   "cpu.weight")) for n in ("wa", "wb")}
    want = {"wa": "2048", "wb": "1024"} if ver == "v1" else {"wa": "200", "wb": "100"}
    report("%s-weights-cgroup-files" % ver, shares == want, repr(shares))
    pid = dm.dom("wa")["pid"]
    procs = read(os.path.join(cgdir(dm, "wa"), "cgroup.procs")).split()
    threads = sorted(os.listdir("/proc/%d/task" % pid))
    cgtasks = read(os.path.join(cgdir(dm, "wa"), "tasks" if ver == "v1" else "cgroup.threads"))
    report("%s-vmm-in-cgroup" % ver, str(pid) in procs and
           all(t in cgtasks.split() for t in threads), "procs %s threads %s" % (procs, threads))
    rc, out, err = dm.cli("sched-credit")
    rows = {l.split()[0]: l.split()[1:] for l in out.splitlines()[2:]}
    report("%s-sched-credit-list" % ver, rc == 0 and out.splitlines()[1].split() ==
           ["Name", "ID", "Weight", "Cap"] and rows.get("wa", [0, 0])[1:] == ["512", "0"] and
           rows.get("wb", [0, 0])[1:] == ["256", "0"], out + err)
    # Both spin on CPU 0: after a second to settle, 10 s of their CPU time (at most 30 s of
    # wall time: a loaded host gives the pair less of the CPU, and a shorter sample is a
    # noisier one).
    # The weight is the whole domain's: its cgroup's time (a VMM's other threads take
    # their part of the domain's share too, a larger part of a smaller share).
    wait_for(lambda: cpu_s(dm, "wa") > 0.3 and cpu_s(dm, "wb") > 0.1, 10)
    (a0, b0), t0 = dom_cpu_s(dm, ["wa", "wb"]), time.time()
    va0, vb0 = cpu_s(dm, "wa"), cpu_s(dm, "wb")
    wait_for(lambda: sum(dom_cpu_s(dm, ["wa", "wb"])) - a0 - b0 >= 10, 30, 1)
    a1, b1 = dom_cpu_s(dm, ["wa", "wb"])
    va, vb = cpu_s(dm, "wa") - va0, cpu_s(dm, "wb") - vb0
    da, db = a1 - a0, b1 - b0
    ratio = da / db if db > 0 else 0
    report("%s-weights-2to1" % ver, da + db > 3 and 1.8 <= ratio <= 2.2,
           "wa %.2f s, wb %.2f s in %.1f s: ratio %.3f (want 2 within 10%%)" %
           (da, db, time.time() - t0, ratio))
    print("NOTE %s weights 512:256 on one CPU: %.2f s : %.2f s = %.3f (requested 2.000; "
          "their vCPUs alone %.3f)" % (ver, da, db, ratio, va / vb if vb > 0 else 0),
          flush=True)
    rc, out, err = dm.cli("sched-credit", "-d", "wb", "-w", "1024")
    rc2, out2, _ = dm.cli("sched-credit", "wb")
    report("%s-sched-credit-set" % ver, rc == 0 and read(os.path.join(
        cgdir(dm, "wb"), "cpu.shares" if ver == "v1" else "cpu.weight")) ==
        ("4096" if ver == "v1" else "400") and out2.splitlines()[-1].split()[2:] ==
        ["1024", "0"], out + err + out2)
    dm.destroy_all()


def test_cap(dm, ver):
    st, data = call(dm.sock, "POST", "/api/v1/domains", json.dumps(
        {"name": "capd", "kernel": SPIN, "memory": 4, "cpus": str(NCPU - 1)}))
    rc, out, err = dm.cli("sched-credit", "capd", "-c", "25")
    report("%s-cap-set" % ver, st == 201 and rc == 0, data.decode() + out + err)
    if st != 201 or rc:
        return
    d = cgdir(dm, "capd")
    files = (read(os.path.join(d, "cpu.cfs_quota_us")), read(os.path.join(d, "cpu.cfs_period_us"))) \
        if ver == "v1" else tuple(read(os.path.join(d, "cpu.max")).split())
    report("%s-cap-cgroup-files" % ver, files == ("2500", "10000"), repr(files))
    wait_for(lambda: cpu_s(dm, "capd") > 0.2, 10)
    thr0 = read(os.path.join(d, "cpu.stat"))
    c0, t0 = cpu_s(dm, "capd"), time.time()
    time.sleep(6)
    share = (cpu_s(dm, "capd") - c0) / (time.time() - t0) * 100
    thr = dict(l.split() for l in read(os.path.join(d, "cpu.stat")).splitlines())
    thr0 = dict(l.split() for l in thr0.splitlines())
    rc, out, err = dm.cli("sched-credit", "capd", "-c", "0")
    report("%s-cap-off" % ver, rc == 0 and (read(os.path.join(d, "cpu.cfs_quota_us")) == "-1"
           if ver == "v1" else read(os.path.join(d, "cpu.max")).startswith("max")), out + err)
    # The same domain uncapped on the same CPU right after: what the host can give it. A
    # cap is a ceiling: from below it can only be judged where the CPU has more to give.
    c0, t0 = cpu_s(dm, "capd"), time.time()
    time.sleep(3)
    free = (cpu_s(dm, "capd") - c0) / (time.time() - t0) * 100
    low = 20 if free >= 30 else 0
    report("%s-cap-25" % ver, low <= share <= 30 and int(thr["nr_throttled"]) >
           int(thr0["nr_throttled"]), "%.1f%% of a CPU (cap 25; %.1f%% "
           "uncapped), throttled %s -> %s" % (share, free, thr0["nr_throttled"],
                                               thr["nr_throttled"]))
    print("NOTE %s cap 25: %.1f%% of one CPU (uncapped: %.1f%%%s)" % (
        ver, share, free, "" if low else "; the host is too loaded to judge the cap from "
        "below"), flush=True)
    dm.destroy_all()


def affinity(pid, tid):
    for line in open("/proc/%d/task/%d/status" % (pid, tid)):
        if line.startswith("Cpus_allowed_list:"):
            return line.split()[1]
    return None


def test_pinning(dm, ver):
    last = str(NCPU - 1)
    st, data = call(dm.sock, "POST", "/api/v1/domains", json.dumps(
        {"name": "pin", "kernel": TICK, "memory": 8, "vcpus": 2, "cpus": last}))
    report("%s-pin-create" % ver, st == 201, data)
    if st != 201:
        return
    pid = dm.dom("pin")["pid"]
    rc, out, err = dm.cli("vcpu-list", "pin")
    lines = out.splitlines()
    report("%s-vcpu-list" % ver, rc == 0 and lines[0].split()[:6] ==
           ["Name", "ID", "VCPU", "CPU", "State", "Time(s)"] and "Affinity" in lines[0] and
           len(lines) == 3 and all(l.split()[0] == "pin" and l.split()[6] == last
                                   for l in lines[1:]), out + err)
    v = wait_for(lambda: all(x["tid"] for x in vcpus(dm, "pin")) and vcpus(dm, "pin"))
    report("%s-pin-config-threads" % ver, all(affinity(pid, x["tid"]) == last for x in v),
           repr([(x["tid"], affinity(pid, x["tid"])) for x in v]))
    # cpus pins the whole domain: the VMM's other threads run there too.
    tasks = {int(t): open("/proc/%d/task/%s/comm" % (pid, t)).read().strip()
             for t in os.listdir("/proc/%d/task" % pid)}
    report("%s-pin-config-vmm-threads" % ver, len(tasks) > 3 and
           all(affinity(pid, t) == last for t in tasks),
           repr([(n, affinity(pid, t)) for t, n in tasks.items()]))
    rc, out, err = dm.cli("vcpu-pin", "pin", "0", "0")
    v = vcpus(dm, "pin")
    report("%s-vcpu-pin-one" % ver, rc == 0 and v[0]["affinity"] == "0" and
           affinity(pid, v[0]["tid"]) == "0" and affinity(pid, v[1]["tid"]) == last, out + err)
    rc, out, err = dm.cli("vcpu-pin", "pin", "all", "all")
    v = vcpus(dm, "pin")
    allcpus = "0-%d" % (NCPU - 1) if NCPU > 1 else "0"
    report("%s-vcpu-pin-all" % ver, rc == 0 and all(x["affinity"] == "all" and
           affinity(pid, x["tid"]) == allcpus for x in v), out + err + repr(v))
    rc, out, err = dm.cli("vcpu-list")
    report("%s-vcpu-list-all" % ver, rc == 0 and sum(l.startswith("pin ") for l in
                                                   out.splitlines()) == 2, out + err)
    d = cgdir(dm, "pin")
    dm.destroy_all()
    report("%s-destroy-removes-cgroup" % ver, wait_for(lambda: not os.path.exists(d), 5), d)
    # capsuled's parent cgroup removed behind its back (it is empty now): made again.
    rmcg()
    st, data = call(dm.sock, "POST", "/api/v1/domains", json.dumps(
        {"name": "again", "kernel": TICK, "memory": 8, "cpu_weight": 300}))
    report("%s-parent-cgroup-made-again" % ver, st == 201 and read(os.path.join(
        cgdir(dm, "again"), "cpu.shares" if ver == "v1" else "cpu.weight")) ==
        ("1200" if ver == "v1" else "117"), data[:300])
    dm.destroy_all()


def test_vmm_ends(dm, ver):
    """A VMM's end takes its cgroup; a restart makes it again, weight and all."""
    st, data = call(dm.sock, "POST", "/api/v1/domains", json.dumps(
        {"name": "ends", "kernel": os.path.join(GUESTS, "exitcode.elf"), "memory": 8,
         "cmdline": "0"}))
    d = cgdir(dm, "ends") if st == 201 else ""
    down = wait_for(lambda: (dm.dom("ends") or {}).get("state") == "shutoff", 10)
    report("%s-ended-cgroup-removed" % ver, st == 201 and down and not os.path.exists(d),
           "%s %s" % (d, data[:200]))
    st, data = call(dm.sock, "POST", "/api/v1/domains", json.dumps(
        {"name": "again2", "kernel": TICK, "memory": 8, "cpu_weight": 300, "cap": 40,
         "on_crash": "restart"}))
    pid = dm.dom("again2")["pid"] if st == 201 else 0
    if pid:
        os.kill(pid, 9)
    new = wait_for(lambda: (dm.dom("again2") or {}).get("restarts") == 1 and
                   dm.dom("again2")["pid"] not in (0, pid) and dm.dom("again2")["pid"], 10)
    d = cgdir(dm, "again2") if new else ""
    files = (read(os.path.join(d, "cpu.shares")), read(os.path.join(d, "cpu.cfs_quota_us"))) \
        if new and ver == "v1" else (read(os.path.join(d, "cpu.weight")),
                                     read(os.path.join(d, "cpu.max")).split()[0]) if new else ()
    report("%s-restart-cgroup-again" % ver, new and str(new) in read(os.path.join(
        d, "cgroup.procs")).split() and files == (("1200", "4000") if ver == "v1" else
                                                ("117", "4000")), "%r %r" % (new, files))
    dm.destroy_all()


def test_orphan_cgroup(dm, ver):
    """A create capsuled never committed (it died): its directory and its cgroup go at start."""
    uuid = "0badc0de-0000-4000-8000-%012d" % os.getpid()
    root = "/sys/fs/cgroup/cpu" if ver == "v1" else "/sys/fs/cgroup/unified"
    cg = os.path.join(root, TAG, uuid)
    dm.stop()
    os.makedirs(os.path.join(dm.state, "domains", uuid))
    os.makedirs(cg)
    dm.start()
    report("%s-orphan-cgroup-removed" % ver, not os.path.exists(cg) and not os.path.exists(
        os.path.join(dm.state, "domains", uuid)), cg)


def test_bad_input(dm):
    st, _ = call(dm.sock, "POST", "/api/v1/domains", json.dumps(
        {"name": "bad", "kernel": TICK, "memory": 8}))
    cases = [
        (("sched-credit", "nosuch"), "no domain nosuch"),
        (("sched-credit", "-d", "nosuch", "-w", "300"), "no domain nosuch"),
        (("sched-credit", "bad", "-w", "0"), "weight must be a whole number from 1 to 65535"),
        (("sched-credit", "bad", "-w", "70000"), "from 1 to 65535"),
        (("sched-credit", "bad", "-w", "abc"), "not a whole number"),
        (("sched-credit", "bad", "-c", "-1"), "cap must be a whole number from 0"),
        (("sched-credit", "bad", "-c", "101"), "from 0 (no cap) to 100"),
        (("vcpu-pin", "nosuch", "0", "0"), "no domain nosuch"),
        (("vcpu-pin", "bad", "0", str(NCPU)), "CPU %d does not exist" % NCPU),
        (("vcpu-pin", "bad", "0", "64"), "does not exist"),
        (("vcpu-pin", "bad", "0", "3-1"), "runs backwards"),
        (("vcpu-pin", "bad", "0", "^"), "expected a CPU number"),
        (("vcpu-pin", "bad", "0", "0,,1"), "expected a CPU number"),
        (("vcpu-pin", "bad", "0", ""), "empty CPU list"),
        (("vcpu-pin", "bad", "0", "nodes:0"), "expected a CPU number"),
        (("vcpu-pin", "bad", "5", "0"), "a vCPU of the domain (0-0)"),
        (("vcpu-pin", "bad", "x", "0"), "not a whole number"),
        (("vcpu-pin", "bad", "0", "0", "1"), "soft affinity is not supported"),
        (("vcpu-list", "nosuch"), "no domain nosuch"),
    ]
    for args, want in cases:
        rc, out, err = dm.cli(*args)
        report("bad-input %s" % " ".join(args), st == 201 and rc == 1 and want in err,
               "rc %d: %s" % (rc, out + err))
    configs = [({"cpu_weight": 0}, "cpu_weight"), ({"cpu_weight": 70000}, "cpu_weight"),
               ({"cap": -1}, "cap"), ({"cap": 150}, "cap 150"),
               ({"cpus": str(NCPU)}, "does not exist"), ({"cpus": "3-1"}, "backwards"),
               ({"cpus": 3}, "cpus"), ({"cpus": "0,,1"}, "cpus")]
    for extra, want in configs:
        cfg = dict(name="badcfg", kernel=TICK, memory=8, **extra)
        st2, data = call(dm.sock, "POST", "/api/v1/domains", json.dumps(cfg))
        report("bad-config %s" % json.dumps(extra), st2 == 400 and want in data.decode(),
               "%d %s" % (st2, data[:300]))
    xl = os.path.join(dm.root, "bad.cfg")
    with open(xl, "w") as f:
        f.write('name = "badxl"\nkernel = "%s"\nmemory = 8\ncpus = ["0", "1"]\n' % TICK)
    rc, out, err = dm.cli("create", xl)
    report("bad-config xl cpus list", rc == 1 and "one string for all vCPUs" in err, out + err)
    for body in (b"", b"[]", b'{"weight": "x"}', b'{"weight": 1, "nope": 2}', b"\xff{"):
        st2, data = call(dm.sock, "PUT", "/api/v1/domain.sched?domain=bad", body)
        report("bad-sched-body %r" % body[:20], st2 == 400, "%d %s" % (st2, data[:200]))
    for body in (b"", b'{"vcpu": -1, "cpus": "0"}', b'{"vcpu": 0, "cpus": 5}',
                 b'{"vcpu": 0, "cpus": "0", "x": 1}', b'{"vcpu": 99999999999999, "cpus": "0"}'):
        st2, data = call(dm.sock, "PUT", "/api/v1/domain.vcpu-pin?domain=bad", body)
        report("bad-pin-body %r" % body[:24], st2 == 400, "%d %s" % (st2, data[:200]))
    report("bad-input-domain-survives", dm.dom("bad") and dm.dom("bad")["state"] == "running",
           repr(dm.dom("bad")))
    dm.destroy_all()


def test_cpu_control_off(dm):
    """Without CPU control, weights and caps are refused with the reason; pinning works."""
    st, data = call(dm.sock, "POST", "/api/v1/domains", json.dumps(
        {"name": "off", "kernel": TICK, "memory": 8, "cpus": "0"}))
    rc, out, err = dm.cli("sched-credit", "off", "-w", "512")
    report("off-sched-credit-refused", st == 201 and rc == 1 and
           "CPU control is off: capsuled runs with --cgroup off" in err, data.decode() + err)
    rc, out, err = dm.cli("sched-credit", "off")
    report("off-sched-credit-shows", rc == 0 and "cgroup=v0" in out and
           out.splitlines()[-1].split()[2:] == ["256", "0"], out + err)
    rc, out, err = dm.cli("vcpu-list", "off")
    report("off-pinning", rc == 0 and out.splitlines()[1].split()[6] == "0", out + err)
    dm.destroy_all()


def test_forced_v2(root, why):
    """A capsuled forced to a version the host does not offer refuses to start, saying why."""
    p = subprocess.run(["timeout", "-k", "5", "20", base.CAPSULED, "--foreground", "--socket",
                        os.path.join(root, "v2.sock"), "--state-dir", os.path.join(root, "v2"),
                        "--cgroup", "v2", "--cgroup-parent", TAG], capture_output=True,
                       text=True)
    report("forced-v2-refused", p.returncode == 1 and "cpu controller is not available" in
           p.stderr, "rc %d: %s (%s)" % (p.returncode, p.stderr[-300:], why))


def counters(dm, name):
    d = dm.dom(name)
    return d.get("accounting", {}) if d else {}


def test_accounting(dm):
    img = os.path.join(dm.root, "acct.img")
    subprocess.run([sys.executable, os.path.join(os.path.dirname(base.__file__), "..",
                                                 "integration", "disk.py"), "make", img],
                   check=True, capture_output=True)
    st, data = call(dm.sock, "POST", "/api/v1/domains", json.dumps(
        {"name": "acct", "kernel": os.path.join(GUESTS, "vblk.elf"), "memory": 8,
         "cmdline": "flushkill", "disk": [{"path": img, "serial": "capsule-test"}]}))
    report("acct-create", st == 201, data)
    # vblk reads the first half (4096 sectors, 8 a request), writes the second half, flushes,
    # then blocks: 2 MiB and 512 requests each way; its failing requests count for nothing.
    ok = wait_for(lambda: counters(dm, "acct").get("block", {}).get("writes") == 512, 30)
    b = counters(dm, "acct").get("block", {})
    report("acct-block", ok and b == {"read_bytes": 4096 * 512, "write_bytes": 4096 * 512,
                                      "reads": 512, "writes": 512}, repr(b))
    a = counters(dm, "acct")
    cg = json.loads(call(dm.sock, "GET", "/api/v1/daemon.info")[1])["cgroup"]
    report("acct-fields", a.get("cpu_time_s", 0) > 0 and len(a.get("vcpu_cpu_s", [])) == 1 and
           ((a.get("cgroup_cpu_s") or 0) > 0 if cg else a.get("cgroup_cpu_s", 0) is None) and a.get("memory", {}).get("memory_bytes") == 8 << 20
           and "shared_bytes" in a.get("memory", {}), repr(a))
    st, m = call(dm.sock, "GET", "/metrics")
    cpu = [float(l.split()[-1]) for l in m.decode().splitlines()
           if l.startswith('capsule_domain_cpu_seconds_total{domain="acct"}')]
    report("acct-metrics", b'capsule_block_write_bytes_total{domain="acct"} 2097152' in m and
           b'capsule_block_read_requests_total{domain="acct"} 512' in m and
           b'capsule_net_transmit_bytes_total{domain="acct"} 0' in m and cpu and cpu[0] > 0,
           m[-600:])
    rc, out, err = dm.cli("top", "-b", "-n", "1")
    report("acct-top", rc == 0 and "acct" in out and "BLK_RD" in out, out + err)
    rc, out, err = dm.cli("list", "acct")
    rc2, out2, _ = dm.cli("list", "--json", "acct")
    report("acct-list-time", rc == 0 and out.splitlines()[0].split()[-1] == "Time(s)" and
           json.loads(out2)[0]["cpu_time_s"] > 0, out + err + out2)
    dm.destroy_all()
    # The NIC: what the guest sends is what the host's end of its TAP receives, and the
    # other way round (the kernel's own counters, read before and after ours).
    tap = "cpuacct%d" % (os.getpid() % 10000)
    if subprocess.run(["ip", "tuntap", "add", "dev", tap, "mode", "tap"],
                      capture_output=True).returncode:
        report("acct-net", False, "cannot make a TAP device")
        return
    try:
        subprocess.run(["ip", "link", "set", tap, "up"], check=True)
        st, data = call(dm.sock, "POST", "/api/v1/domains", json.dumps(
            {"name": "acctnet", "kernel": os.path.join(GUESTS, "vnet.elf"), "memory": 8,
             "cmdline": "192.0.2.2 192.0.2.1", "net": [{"tap": tap}]}))
        stat = "/sys/class/net/%s/statistics/" % tap

        def kernel():
            return {k: int(read(stat + k)) for k in ("rx_bytes", "rx_packets", "tx_bytes",
                                                      "tx_packets")}
        wait_for(lambda: kernel()["rx_packets"] >= 3, 20)  # the guest's ARP requests
        # tx seen by the kernel before and after ours brackets ours.
        k0 = kernel()
        n = counters(dm, "acctnet").get("net", {})
        k1 = kernel()
        ok = st == 201 and n and k0["rx_bytes"] <= n["tx_bytes"] <= k1["rx_bytes"] and \
            k0["rx_packets"] <= n["tx_packets"] <= k1["rx_packets"] and n["tx_packets"] >= 3 \
            and k0["tx_bytes"] <= n["rx_bytes"] <= k1["tx_bytes"]
        report("acct-net", ok, "kernel %r / %r, ours %r (%s)" % (k0, k1, n, data[:200]))
    finally:
        dm.destroy_all()
        subprocess.run(["ip", "link", "del", tap], capture_output=True)


def rmcg():
    for root in ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/unified"):
        d = os.path.join(root, TAG)
        if os.path.isdir(d):
            for sub in os.listdir(d):
                if os.path.isdir(os.path.join(d, sub)):
                    try:
                        os.rmdir(os.path.join(d, sub))
                    except OSError:
                        pass
            try:
                os.rmdir(d)
            except OSError:
                pass


def main():
    offered, why = versions()
    for v, w in why.items():
        print("NOTE cgroup %s not tested here: %s" % (v, w), flush=True)
    root = tempfile.mkdtemp(prefix="capsuled-sched-")
    try:
        for ver in offered + ["off"]:
            dm = base.Daemon(os.path.join(root, ver))
            os.makedirs(dm.root)
            dm.cgroup_parent = TAG
            dm.extra = ["--cgroup", ver, "--cgroup-parent", TAG]
            dm.start()
            print("NOTE testing with cgroup %s" % ver, flush=True)
            tests = [("weights", test_weights), ("cap", test_cap), ("pinning", test_pinning),
                     ("orphan", test_orphan_cgroup), ("vmm-ends", test_vmm_ends)]
            if ver == "off":  # and the version-independent tests if no version ran
                tests = [("off", lambda d, v: test_cpu_control_off(d))]
            if ver == (offered + ["off"])[0]:
                tests += [("bad-input", lambda d, v: test_bad_input(d)),
                          ("accounting", lambda d, v: test_accounting(d))]
            try:
                for name, fn in tests:
                    if ONLY and name not in ONLY:
                        continue
                    t0 = time.time()
                    try:
                        fn(dm, ver)
                    except Exception as e:
                        report("%s-%s" % (ver, name), False, "exception: %r" % e)
                        dm.destroy_all()
                    print("# %s %s: %.1f s" % (ver, name, time.time() - t0), flush=True)
            finally:
                dm.destroy_all()
                dm.stop()
                for pid in dm.vmms():
                    os.kill(pid, 9)
        if "v2" not in offered and (not ONLY or "forced-v2" in ONLY):
            test_forced_v2(root, why["v2"])
    finally:
        rmcg()
        subprocess.run(["rm", "-rf", root])
    print("%d passed, %d failed" % (base.passed, base.failed), flush=True)
    return 1 if base.failed else 0


if __name__ == "__main__":
    sys.exit(main())
