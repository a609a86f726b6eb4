#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Snapshots through capsuled and the CLI (docs/capsuled.md): save, restore, snapshot, clone,
against a capsuled started here on a temporary state directory (tests/daemon/run.py's).

  snapshot.py BUILD [--clones N] [--only NAME,...]
      prints PASS/FAIL lines and ends with "N passed, N failed"; exit 1 if any failed.
      --clones N: how many clones of one snapshot run at once in the clones test (20 in make
      check, 100 in make soak-daemon)
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as base  # noqa: E402  the daemon harness
from run import GUESTS, HVM, call, report, wait_for  # noqa: E402

ARGS = sys.argv[1:]
CLONES = int(ARGS[ARGS.index("--clones") + 1]) if "--clones" in ARGS else 20
ONLY = ARGS[ARGS.index("--only") + 1].split(",") if "--only" in ARGS else None
TICKER = os.path.join(GUESTS, "ticker.elf")
CLONEPAT = os.path.join(GUESTS, "clonepat.elf")
POWERBUTTON = os.path.join(HVM, "powerbutton.elf")


def console(dm, name):
    st, data = call(dm.sock, "GET", "/api/v1/domain.console?domain=" + name)
    return data.decode(errors="replace") if st == 200 else ""


def ticks(dm, name):
    return [int(n) for n in re.findall(r"^tick (\d+)$", console(dm, name), re.M)]


def last_tick(dm, name):
    t = ticks(dm, name)
    return t[-1] if t else -1


def events(dm, name):
    rc, out, _ = dm.cli("log", name)
    return out


def snapshot_of(dm, root, name, image, memory, tag, cmdline=None, ready=None):
    """A running domain and a live snapshot of it in root/tag."""
    extra = {"cmdline": cmdline} if cmdline else {}
    st, data = dm.create(name, image, memory, **extra)
    assert st == 201, data
    if ready:
        wait_for(lambda: ready in console(dm, name), 10)
    d = os.path.join(root, tag)
    rc, out, err = dm.cli("snapshot", name, d)
    assert rc == 0, err
    return d


def counts(dm):
    return (len(dm.domains()), base.dir_count(dm), len(dm.vmms()))


def test_save_restore(dm, root):
    st, data = dm.create("sv", TICKER, 8)
    wait_for(lambda: last_tick(dm, "sv") >= 5, 10)
    d = os.path.join(root, "sv.snap")
    ev = subprocess.Popen([base.CAPSULE, "events"], env=dict(os.environ, CAPSULE_SOCKET=dm.sock),
                          stdout=subprocess.PIPE, text=True)
    rc, out, err = dm.cli("save", "sv", d)
    report("save", rc == 0 and "saved sv in " + d in out and "paused" in out, out + err)
    wait_for(lambda: dm.dom("sv")["state"] == "shutoff", 5)
    info = dm.dom("sv")
    report("save-record-says-saved", info["state"] == "shutoff" and
           info["exit_reason"] == "saved" and info["saved_to"] == d and info["pid"] == 0,
           str(info))
    report("save-dir-0700", os.stat(d).st_mode & 0o777 == 0o700 and
           sorted(os.listdir(d)) == ["memory", "state"], "%o %s" % (os.stat(d).st_mode,
                                                                  os.listdir(d)))
    last = last_tick(dm, "sv")
    rc, out, err = dm.cli("restore", d, "--name", "sv-r")
    report("restore", rc == 0 and "restored domain sv-r" in out, out + err)
    wait_for(lambda: last_tick(dm, "sv-r") >= last + 5, 10)
    t = ticks(dm, "sv-r")
    report("restore-ticks-go-on", t and t[0] == last + 1 and t[-1] >= last + 5 and
           t == list(range(t[0], t[0] + len(t))), "saved at %d, then %s" % (last, t[:5]))
    info = dm.dom("sv-r")
    report("restore-record", info and info["state"] == "running" and
           info["restored_from"] == d and info["uuid"] != dm.dom("sv")["uuid"], str(info))
    rc, out, err = dm.cli("restore", d)
    report("restore-name-taken-409", rc == 1 and "exists already" in err, out + err)
    time.sleep(0.3)
    ev.terminate()
    evout = ev.communicate(timeout=5)[0]
    def detail(event):  # "TIME event NAME (id N): {...}"
        for line in evout.splitlines():
            f = line.split()
            if len(f) > 3 and f[2] == event and "{" in line:
                return json.loads(line[line.index("{"):])
        return {}
    report("save-restore-events", detail("save").get("pause_ms", 0) > 0 and
           detail("restore").get("dir") == d, evout[-600:])
    dm.destroy_all()


def test_live(dm, root):
    d = snapshot_of(dm, root, "lv", TICKER, 8, "lv.snap")
    before = last_tick(dm, "lv")
    rc, out, err = dm.cli("snapshot", "lv", d + "2")
    report("snapshot-pause-printed", rc == 0 and re.search(r"paused \d+\.\d+ ms", out), out + err)
    wait_for(lambda: last_tick(dm, "lv") >= before + 10, 5)
    report("snapshot-domain-runs-on", dm.dom("lv")["state"] == "running" and
           last_tick(dm, "lv") >= before + 10, "%d -> %d" % (before, last_tick(dm, "lv")))
    rc, out, err = dm.cli("restore", d, "--name", "lv-copy")
    wait_for(lambda: last_tick(dm, "lv-copy") > 3, 5)
    rc2, lst, _ = dm.cli("list")
    report("snapshot-restore-both-run", rc == 0 and base.state_col(lst, "lv") == "r-----" and
           base.state_col(lst, "lv-copy") == "r-----", lst + err)
    dm.destroy_all()


def test_clone5(dm, root):
    d = snapshot_of(dm, root, "c5", TICKER, 8, "c5.snap")
    dm.cli("destroy", "c5")
    rc, out, err = dm.cli("clone", d, "--count", "5", "--name-prefix", "k")
    doms = [dm.dom("k-%d" % i) for i in range(1, 6)]
    report("clone5", rc == 0 and out.count("cloned domain k-") == 5 and
           all(x and x["state"] == "running" for x in doms), out + err)
    ok = all(doms)
    report("clone5-distinct", ok and len({x["id"] for x in doms}) == 5 and
           len({x["uuid"] for x in doms}) == 5 and
           all(x["restored_from"] == d for x in doms), str([(x or {}).get("uuid") for x in doms]))
    wait_for(lambda: all(last_tick(dm, "k-%d" % i) > 10 for i in range(1, 6)), 10)
    t = [ticks(dm, "k-%d" % i) for i in range(1, 6)]
    report("clone5-ticks-go-on", all(x and x[0] == t[0][0] and x[-1] > 10 for x in t),
           str([x[:3] for x in t]))
    rc, out, err = dm.cli("clone", d, "--count", "2")  # the default prefix: DIR's name
    report("clone-default-names", rc == 0 and dm.dom("c5.snap-1") and dm.dom("c5.snap-2"),
           out + err)
    rc, out, err = dm.cli("clone", d, "--count", "3", "--name-prefix", "k")
    report("clone-name-taken-nothing-made", rc == 1 and "exists already" in err and
           dm.dom("k-6") is None, out + err)
    dm.destroy_all()


def test_clone_hvm(dm, root):
    d = snapshot_of(dm, root, "hv", POWERBUTTON, 32, "hv.snap", cmdline="press",
                    ready="powerbutton: waiting")
    dm.cli("destroy", "hv")
    rc, out, err = dm.cli("clone", d, "--count", "2", "--name-prefix", "hc")
    report("clone-hvm", rc == 0 and dm.dom("hc-1")["state"] == "running", out + err)
    rc, out, err = dm.cli("shutdown", "-w", "hc-1")
    info = dm.dom("hc-1")
    report("clone-hvm-shutdown-clean", rc == 0 and info["state"] == "shutoff" and
           info["exit_reason"] == "poweroff" and info["exit_status"] == 0,
           "%s %s %s" % (out, err, info))
    report("clone-hvm-other-runs", dm.dom("hc-2")["state"] == "running", str(dm.dom("hc-2")))
    dm.destroy_all()


def test_clone_net(dm, root):
    """A clone's net device: a new MAC and a TAP of its own (a TAP takes one VMM)."""
    st, data = dm.create("nt", TICKER, 8, net=[{"tap": "snapt0", "mac": "02:00:00:00:00:01"}])
    if st != 201:
        report("clone-net", False, "cannot create a domain with a TAP: %r" % data)
        return
    d = os.path.join(root, "nt.snap")
    rc, out, err = dm.cli("snapshot", "nt", d)
    rc, out, err = dm.cli("clone", d, "--count", "3", "--name-prefix", "n")
    cfgs = [(dm.dom("n-%d" % i) or {}).get("config") or {} for i in range(1, 4)]
    nets = [c.get("net", [{}])[0] for c in cfgs]
    macs = {n.get("mac") for n in nets}
    taps = {n.get("tap") for n in nets}
    report("clone-net-new-macs-taps", rc == 0 and len(macs) == 3 and len(taps) == 3 and
           "02:00:00:00:00:01" not in macs and all(t and t.startswith("snapt0-") and
                                                    len(t) <= 15 for t in taps) and
           all(os.path.exists("/sys/class/net/" + t) for t in taps if t),
           "%s %s" % (err, nets))
    running = wait_for(lambda: all(last_tick(dm, "n-%d" % i) > 3 for i in range(1, 4)), 5)
    report("clone-net-running", running and dm.dom("nt")["state"] == "running",
           str([dm.dom("n-%d" % i)["state"] for i in range(1, 4)]))
    dm.destroy_all()


def test_diff(dm, root):
    """snapshot --diff through capsuled: only the dirtied pages; merged, it restores."""
    full = snapshot_of(dm, root, "df", TICKER, 8, "df.full")
    time.sleep(0.2)
    diff = os.path.join(root, "df.diff")
    rc, out, err = dm.cli("snapshot", "df", diff, "--diff")
    report("diff-snapshot", rc == 0 and "paused" in out and
           os.path.getsize(os.path.join(diff, "memory")) == 8 << 20, out + err)
    before = counts(dm)
    rc, out, err = dm.cli("restore", diff, "--name", "df-bad")
    report("diff-restore-refused", rc == 1 and "diff" in err and counts(dm) == before and
           dm.dom("df-bad") is None, out + err)
    merged = os.path.join(root, "df.merged")
    r = subprocess.run([base.CAPSULE, "snapshot-merge", full, diff, merged],
                       capture_output=True, text=True, timeout=60)
    rc, out, err = dm.cli("restore", merged, "--name", "df-m")
    wait_for(lambda: len(ticks(dm, "df-m")) >= 2, 5)  # it goes on: two ticks at least
    t = ticks(dm, "df-m")
    report("diff-merged-restores", r.returncode == 0 and rc == 0 and t and t[-1] > t[0],
           r.stderr + out + err + str(t[:3]))
    dm.destroy_all()


def test_kill9_mid_clone(dm, root):
    """capsuled killed -9 in the middle of a clone: after its restart, all or none."""
    d = snapshot_of(dm, root, "k9", TICKER, 8, "k9.snap")
    dm.cli("destroy", "k9")
    for delay in (0.05, 0.15, 0.4):
        def clone():
            try:
                call(dm.sock, "POST", "/api/v1/domain.clone",
                     json.dumps({"dir": d, "count": 30, "name_prefix": "m"}), timeout=60)
            except OSError:
                pass
        t = threading.Thread(target=clone)
        t.start()
        time.sleep(delay)
        dm.kill9()
        t.join(30)
        dm.start()
        doms = [x for x in dm.domains() if x["name"].startswith("m-")]
        ok = len(doms) in (0, 30) and base.dir_count(dm) == len(dm.domains()) and \
            len(dm.vmms()) == len([x for x in dm.domains() if x["pid"]])
        print("# kill -9 %d ms into a clone of 30: %d made it" % (delay * 1000, len(doms)))
        report("kill9-mid-clone-%dms" % int(delay * 1000), ok, "%d clones, %d dirs, %d VMMs, "
               "%d domains" % (len(doms), base.dir_count(dm), len(dm.vmms()),
                               len(dm.domains())))
        dm.destroy_all()


def test_corrupt(dm, root):
    d = snapshot_of(dm, root, "cr", TICKER, 8, "cr.snap")
    before = counts(dm)

    def bad(tag, fn):
        b = os.path.join(root, "bad-" + tag)
        shutil.copytree(d, b)
        fn(b)
        return b
    flip = bad("flip", lambda b: flip_byte(os.path.join(b, "state"), 4000))
    trunc = bad("trunc", lambda b: os.truncate(os.path.join(b, "state"),
                                                os.path.getsize(os.path.join(b, "state")) // 2))
    mem = bad("mem", lambda b: os.truncate(os.path.join(b, "memory"), 4 << 20))
    empty = bad("empty", lambda b: os.truncate(os.path.join(b, "state"), 0))
    nomem = bad("nomem", lambda b: os.unlink(os.path.join(b, "memory")))
    for tag, b, word in (("flipped-byte", flip, "checksum"), ("truncated", trunc, "trunc"),
                         ("wrong-memory-size", mem, "bytes of memory"),
                         ("empty-state", empty, "refused"), ("no-memory", nomem, "memory")):
        rc, out, err = dm.cli("restore", b, "--name", "bad")
        report("corrupt-%s-refused" % tag, rc == 1 and word in err and "refused" in err, err)
        rc, out, err = dm.cli("clone", b, "--count", "3", "--name-prefix", "bad")
        report("corrupt-%s-clone-refused" % tag, rc == 1 and word in err, err)
    after = counts(dm)
    report("corrupt-nothing-half-created", before == after and dm.dom("bad") is None and
           dm.dom("bad-1") is None, "%s -> %s" % (before, after))
    # Path safety: absolute, no '..', no symlink for the directory or its files.
    os.symlink(d, os.path.join(root, "link.snap"))
    os.mkdir(os.path.join(root, "filelinks"), 0o700)
    for f in ("state", "memory"):
        os.symlink(os.path.join(d, f), os.path.join(root, "filelinks", f))
    for tag, path, body, word in (
            ("relative", "/api/v1/domain.restore", {"dir": "cr.snap"}, "absolute"),
            ("dotdot", "/api/v1/domain.restore", {"dir": root + "/x/../cr.snap"}, ".."),
            ("symlink-dir", "/api/v1/domain.restore", {"dir": root + "/link.snap"}, "symlink"),
            ("symlink-files", "/api/v1/domain.clone", {"dir": root + "/filelinks", "count": 2},
             "symlink"),
            ("snapshot-relative", "/api/v1/domain.snapshot?domain=cr", {"dir": "x"}, "absolute"),
            ("snapshot-symlink", "/api/v1/domain.snapshot?domain=cr",
             {"dir": root + "/link.snap"}, "symlink"),
            ("save-dotdot", "/api/v1/domain.save?domain=cr", {"dir": root + "/../x"}, ".."),
            ("unknown-field", "/api/v1/domain.clone", {"dir": d, "count": 1, "x": 1}, "unknown"),
            ("count-0", "/api/v1/domain.clone", {"dir": d, "count": 0}, "count"),
            ("count-huge", "/api/v1/domain.clone", {"dir": d, "count": 100000}, "count"),
            ("bad-name", "/api/v1/domain.restore", {"dir": d, "name": "a/b"}, "name"),
            ("not-json", "/api/v1/domain.restore", None, "JSON")):
        st, data = call(dm.sock, "PUT" if "?" in path else "POST", path,
                        json.dumps(body) if body else b"{nope")
        report("path-" + tag + "-400", st == 400 and word.encode() in data,
               "status %d %r" % (st, data))
    report("path-nothing-made", counts(dm) == after and dm.dom("cr")["state"] == "running" and
           not os.path.exists(os.path.join(d, "state.part")), str(counts(dm)))
    dm.destroy_all()


def flip_byte(path, at):
    with open(path, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0x40]))


def test_client_identity(root):
    """A capsule-group client's snapshot directory is touched with its identity, not root's."""
    made = subprocess.run(["getent", "group", "capsule"], capture_output=True).returncode != 0
    if made and subprocess.run(["groupadd", "--system", "capsule"]).returncode != 0:
        return report("client-identity", False, "cannot make the capsule group")
    gid = int(subprocess.run(["getent", "group", "capsule"], capture_output=True,
                             text=True).stdout.split(":")[2])
    g = base.Daemon(os.path.join(root, "g"))
    os.makedirs(g.root)
    os.chmod(g.root, 0o755)
    mine = os.path.join(root, "nobody")
    os.mkdir(mine, 0o755)
    os.chown(mine, 65534, 65534)
    theirs = os.path.join(root, "rootonly")
    os.mkdir(theirs, 0o755)

    def as_nobody(*args):
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--groups=%d" % gid,
                            base.CAPSULE] + list(args), env=dict(os.environ,
                                                                 CAPSULE_SOCKET=g.sock),
                           capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout + r.stderr
    try:
        g.start()
        st, data = g.create("who", TICKER, 8)
        rc, out = as_nobody("snapshot", "who", os.path.join(mine, "snap"))
        f = os.path.join(mine, "snap", "state")
        report("client-identity-files-theirs", rc == 0 and os.path.exists(f) and
               os.stat(f).st_uid == 65534 and os.stat(os.path.dirname(f)).st_uid == 65534,
               out)
        rc, out = as_nobody("snapshot", "who", os.path.join(theirs, "snap"))
        report("client-identity-no-write-as-root", rc == 1 and "ermission denied" in out and
               not os.path.exists(os.path.join(theirs, "snap")), out)
        secret = os.path.join(theirs, "secret")
        rc, out, err = g.cli("snapshot", "who", secret)  # root's, mode 0700
        rc, out = as_nobody("restore", secret, "--name", "stolen")
        report("client-identity-no-read-as-root", rc == 1 and "ermission denied" in out and
               g.dom("stolen") is None, out)
        rc, out = as_nobody("clone", os.path.join(mine, "snap"), "--count", "2")
        report("client-identity-clone-own", rc == 0 and g.dom("snap-2") is not None, out)
        g.destroy_all()
    finally:
        g.stop()
        for pid in g.vmms():
            os.kill(pid, signal.SIGKILL)
        if made:
            subprocess.run(["groupdel", "capsule"])


def private_dirty_kib(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Private_Dirty:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def test_clones(dm, root, n):
    """n clones of one snapshot at once, each with its own pattern in memory."""
    mem_mib = 8
    d = snapshot_of(dm, root, "pat", CLONEPAT, mem_mib, "pat.snap", ready="clonepat: ready")
    dm.cli("destroy", "pat")
    t0 = time.time()
    rc, out, err = dm.cli("clone", d, "--count", str(n), "--name-prefix", "p", timeout=300)
    dt = time.time() - t0
    names = ["p-%d" % i for i in range(1, n + 1)]
    report("clones-%d-running" % n, rc == 0 and out.count("cloned domain") == n and
           all(x["state"] == "running" for x in dm.domains()), (out + err)[-500:])
    print("# %d clones in %.2f s (%.0f clones/s)" % (n, dt, n / dt), flush=True)

    def verified(name):
        c = console(dm, name)
        i = c.find("clonepat: restored")
        return i >= 0 and "clonepat: verified" in c[i:]
    wait_for(lambda: all(verified(x) for x in names), 30, 0.5)
    outs = {x: console(dm, x) for x in names}
    seeds = {}
    for x, c in outs.items():
        m = re.search(r"clonepat: restored gen (\d+) seed ([0-9a-f]+)", c)
        seeds[x] = m.group(2) if m else None
    bad = [x for x, c in outs.items() if "MISMATCH" in c or not verified(x)]
    report("clones-%d-own-patterns" % n, not bad and None not in seeds.values() and
           len(set(seeds.values())) == n, "bad %s; seeds %d distinct" % (
               bad[:5], len(set(seeds.values()))))
    pids = [x["pid"] for x in dm.domains() if x["pid"]]
    dirty = sum(private_dirty_kib(p) for p in pids)
    full = n * mem_mib * 1024
    print("# %d clones: %d KiB private dirty in all (%.0f KiB each); %d KiB if each had its "
          "own copy of the memory" % (n, dirty, dirty / max(1, len(pids)), full), flush=True)
    # What a VMM holds privately whatever its guest (its own heap; a sanitizer build's
    # shadow memory too): a fresh domain's guest memory is a shared memfd, so its VMM's
    # private dirty is that alone. The clones' sharing is judged on what is left.
    dm.create("own", TICKER, mem_mib)
    own = dm.dom("own")
    time.sleep(0.3)
    base = private_dirty_kib(own["pid"]) if own and own["pid"] else 0
    dirty -= base * len(pids)
    print("# a fresh VMM holds %d KiB privately; %d KiB left for the clones' memory" %
          (base, dirty), flush=True)
    report("clones-%d-memory-shared" % n, len(pids) == n and dirty < full // 4,
           "%d KiB private dirty, %d KiB for %d whole copies" % (dirty, full, n))
    dm.destroy_all()


def main():
    root = tempfile.mkdtemp(prefix="capsuled-snap-")
    os.chmod(root, 0o755)
    dm = base.Daemon(root)
    tests = [("save-restore", lambda: test_save_restore(dm, root)),
             ("live", lambda: test_live(dm, root)),
             ("clone5", lambda: test_clone5(dm, root)),
             ("clone-hvm", lambda: test_clone_hvm(dm, root)),
             ("clone-net", lambda: test_clone_net(dm, root)),
             ("diff", lambda: test_diff(dm, root)),
             ("kill9-mid-clone", lambda: test_kill9_mid_clone(dm, root)),
             ("corrupt", lambda: test_corrupt(dm, root)),
             ("clones", lambda: test_clones(dm, root, CLONES)),
             ("client-identity", lambda: test_client_identity(root))]
    try:
        dm.start()
        for name, fn in tests:
            if ONLY and name not in ONLY:
                continue
            t0 = time.time()
            try:
                fn()
            except Exception as e:  # a test that throws has failed; the others go on
                report(name, False, "exception: %r" % e)
                try:
                    if not dm.ping():
                        dm.start()
                    dm.destroy_all()
                except Exception:
                    pass
            print("# %s: %.1f s" % (name, time.time() - t0), flush=True)
    finally:
        try:
            dm.destroy_all()
        except Exception:
            pass
        dm.stop()
        for pid in dm.vmms():  # nothing of ours may outlive the test
            os.kill(pid, signal.SIGKILL)
        subprocess.run(["rm", "-rf", root])
    print("%d passed, %d failed" % (base.passed, base.failed))
    sys.exit(1 if base.failed else 0)


if __name__ == "__main__":
    main()
