#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Memory through capsuled (docs/resources.md): page sharing with KSM, and bad memory
configurations refused; a capsuled started here on a temporary state directory
(tests/daemon/run.py's harness), with KSM turned up for the test and the host's KSM
settings checked to be back afterwards.

  memory.py BUILD [--domains N] [--only NAME,...]
      prints PASS/FAIL lines and ends with "N passed, N failed"; exit 1 if any failed.
      --domains N: identical domains in the sharing test (10 in make check)
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as base  # noqa: E402  the daemon harness
from run import GUESTS, call, report, wait_for  # noqa: E402

ARGS = sys.argv[1:]
NDOMS = int(ARGS[ARGS.index("--domains") + 1]) if "--domains" in ARGS else 10
ONLY = ARGS[ARGS.index("--only") + 1].split(",") if "--only" in ARGS else None
VSHARE = os.path.join(GUESTS, "vshare.elf")
VPOLICY = os.path.join(GUESTS, "vpolicy.elf")
KSM = "/sys/kernel/mm/ksm/"
KSM_KEYS = ["run", "advisor_mode", "advisor_max_cpu", "advisor_target_scan_time"]
DATA_PAGES = 4096  # 16 MiB of identical data in each domain


def ksm_settings():
    out = {}
    for k in KSM_KEYS:
        with open(KSM + k) as f:
            v = f.read().strip()
        m = re.search(r"\[(.*)\]", v)
        out[k] = m.group(1) if m else v
    return out


def ksm(name):
    with open(KSM + name) as f:
        return int(f.read())


class KsmStat:
    """/proc/PID/ksm_stat, as the kernel counts it for one VMM."""
    def __init__(self, pid):
        try:
            with open("/proc/%d/ksm_stat" % pid) as f:
                m = re.search(r"^ksm_merging_pages (\d+)", f.read(), re.M)
        except OSError:
            m = None
        self.merging_pages = int(m.group(1)) if m else 0


def ksm_set(name, value):
    with open(KSM + name, "w") as f:
        f.write(value)


def pss_kib(pid, key="Pss"):
    """The VMM's proportional set size: a page KSM merged across n VMMs counts 1/n in each
    (key "Rss": in full in each)."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            return int(re.search(r"^%s:\s+(\d+) kB" % key, f.read(), re.M).group(1))
    except (OSError, AttributeError):
        return 0


def console(dm, name):
    st, data = call(dm.sock, "GET", "/api/v1/domain.console?domain=" + name)
    return data.decode(errors="replace") if st == 200 else ""


def say(dm, name, line):
    return call(dm.sock, "POST", "/api/v1/domain.console?domain=" + name,
                (line + "\n").encode())[0]


def Daemon(root, extra):
    """run.py's capsuled with more options."""
    dm = base.Daemon(root)
    dm.extra = list(extra)
    return dm


def test_bad_configs(dm):
    cases = [({"memory_backing": "hugepages"}, "memory_backing"),
             ({"memory_min": 65}, "memory_min of 65 MiB is more than"),
             ({"memory_shares": 0}, "\"memory_shares\" must be an integer from 1"),
             ({"memory_shares": -3}, "\"memory_shares\" must be an integer from 1"),
             ({"memory_min": -1}, "\"memory_min\" must be an integer")]
    for extra, want in cases:
        st, data = dm.create("bad", VSHARE, 64, **extra)
        try:
            said = json.loads(data)["error"]
        except (ValueError, KeyError):
            said = data.decode(errors="replace")
        report("refused-%s" % "-".join("%s=%s" % kv for kv in extra.items()),
               st == 400 and want in said, "%d %s" % (st, said))
    report("refused-left-nothing", not dm.domains() and not dm.vmms(), dm.domains())
    p = subprocess.run([base.CAPSULED, "--ksm-cpu", "0"], capture_output=True, text=True)
    report("ksm-cpu-0-refused", p.returncode == 2 and "--ksm-cpu expects a number from 1 "
           "to 100" in p.stderr, p.stderr)


def test_sharing(dm):
    """NDOMS domains with the same data: the VMMs' memory falls by what KSM says it saved,
    and a domain that writes breaks sharing for itself only."""
    names = ["sh%d" % i for i in range(NDOMS)]
    # KSM held off while the domains fill, so that the baseline is unshared (capsuled turned
    # it on; it puts back the host's own setting at stop, which the last check verifies).
    ksm_set("run", "0")
    for i, n in enumerate(names):
        st, data = dm.create(n, VSHARE, 64, memory_backing="private",
                             cmdline="pages=%d seed=7 id=%d" % (DATA_PAGES, i + 1))
        assert st == 201, data
    filled = wait_for(lambda: all("vshare: filled" in console(dm, n) for n in names), 60)
    report("sharing-domains-filled", filled, [console(dm, n)[-100:] for n in names])
    pids = {n: dm.dom(n)["pid"] for n in names}
    # Before KSM merges: what the VMMs hold.
    sharing0 = ksm("pages_sharing")
    pss0 = sum(pss_kib(p) for p in pids.values())
    ksm_set("run", "1")
    want = int(0.8 * (NDOMS - 1) * DATA_PAGES)
    t0 = time.time()
    # Merged: the host's count, and every domain's own (ksmd reaches them in turn).
    merged = wait_for(lambda: ksm("pages_sharing") >= want and
                      all(k.merging_pages >= 0.8 * DATA_PAGES for k in
                          (KsmStat(p) for p in pids.values())), 120, 0.5)
    print("# KSM merged %d pages in %.1f s, %d full scans, ksmd %.1f s of CPU" %
          (ksm("pages_sharing"), time.time() - t0, ksm("full_scans"),
           dm.info().get("ksm", {}).get("ksmd_cpu_s", -1)), flush=True)
    time.sleep(1)
    sharing1 = ksm("pages_sharing")
    pss1 = sum(pss_kib(p) for p in pids.values())
    saved_kib = (sharing1 - sharing0) * 4
    fell_kib = pss0 - pss1
    report("sharing-ksm-merges", merged, "pages_sharing %d -> %d, wanted %d" %
           (sharing0, sharing1, want))
    # The VMMs' proportional memory falls by what KSM reports saved, within 15%.
    report("sharing-memory-falls-by-what-ksm-saved",
           saved_kib > 0 and abs(fell_kib - saved_kib) <= 0.15 * saved_kib,
           "Pss %d -> %d KiB (fell %d), KSM saved %d KiB" % (pss0, pss1, fell_kib, saved_kib))
    infos = {n: dm.dom(n) for n in names}
    per = {n: infos[n].get("ksm", {}).get("merging_pages", 0) for n in names}
    report("sharing-per-domain-reported", all(v >= 0.8 * DATA_PAGES for v in per.values()),
           per)
    host = dm.info().get("ksm", {})
    report("sharing-host-reported", host.get("tuned_by_capsuled") is True and
           host.get("run") == "1" and host.get("pages_sharing", 0) >= want and
           host.get("saved_bytes", 0) == host.get("pages_sharing", 0) * 4096 and
           "ksmd_cpu_s" in host, host)
    st, metrics = call(dm.sock, "GET", "/metrics")
    metrics = metrics.decode()
    report("sharing-metrics", st == 200 and 'capsule_ksm_pages{counter="pages_sharing"}' in
           metrics and 'capsule_domain_ksm_merging_pages{domain="sh0"}' in metrics and
           "capsule_ksmd_cpu_seconds_total" in metrics, metrics[-600:])
    rc, out, err = dm.cli("info", "sh1")
    m = re.search(r"^ksm +: (\d+) pages merged", out, re.M)
    report("sharing-capsule-info", rc == 0 and m and abs(int(m.group(1)) - per["sh1"]) < 64,
           out[-400:] + err)
    rc, out, err = dm.cli("top", "-b", "-n", "1")
    row = [line.split() for line in out.splitlines() if line.startswith("sh1 ")]
    report("sharing-capsule-top", rc == 0 and "SHR(MiB)" in out and row and
           int(row[0][-1]) >= DATA_PAGES // 256 * 0.8, out[-600:] + err)
    # One domain writes 200 of its shared pages: its copies become its own.
    writer, others = names[0], names[1:]
    assert say(dm, writer, "write 200") == 200
    wait_for(lambda: "vshare: wrote 200" in console(dm, writer), 10)
    # The kernel counts a broken page out when ksmd next passes it.
    wait_for(lambda: dm.dom(writer).get("ksm", {}).get("merging_pages", 0) <=
             per[writer] - 190, 20, 0.2)
    after = {n: dm.dom(n).get("ksm", {}).get("merging_pages", 0) for n in names}
    report("sharing-cow-breaks-for-writer", after[writer] <= per[writer] - 190,
           "writer %d -> %d merging pages" % (per[writer], after[writer]))
    report("sharing-cow-others-still-shared",
           all(after[n] >= per[n] - 5 for n in others),
           {n: (per[n], after[n]) for n in others})
    for n in names:
        say(dm, n, "verify")
    ok = wait_for(lambda: all("vshare: verify ok %d" % DATA_PAGES in console(dm, n)
                              for n in names), 30)
    report("sharing-each-reads-its-own-data", ok and not any("BAD" in console(dm, n)
                                                              for n in names),
           {n: console(dm, n)[-80:] for n in names})
    dm.destroy_all()


def policy_events(dm, name):
    st, data = call(dm.sock, "GET", "/api/v1/domain.log?domain=" + name)
    evs = json.loads(data)["events"] if st == 200 else []
    return [json.loads(e["detail"]) for e in evs if e.get("event") == "mem-policy"]


def holds(dm, name):
    """What the domain holds by the policy's last word: memory less its balloon."""
    d = dm.dom(name) or {}
    return d.get("memory_mib", 0) - d.get("mem_policy", {}).get("balloon_mib", 0)


def policy_run(root, tag, limit, doms, settle):
    """A capsuled with --mem-limit LIMIT running doms [(name, use_mib, extra config)] of
    128 MiB each, until settle(dm) holds (or 30 s): the daemon, still running."""
    dm = Daemon(os.path.join(root, tag), ["--mem-limit", str(limit)])
    os.makedirs(dm.root)
    dm.start()
    for name, use, extra in doms:
        extra = dict(extra)
        cmdline = extra.pop("cmdline", "use=%d" % use)
        st, data = dm.create(name, VPOLICY, 128, balloon=0, cmdline=cmdline, **extra)
        assert st == 201, data
    wait_for(lambda: all("vpolicy: ready" in console(dm, n) for n, _, _ in doms), 20)
    wait_for(lambda: settle(dm), 30, 0.25)
    time.sleep(1.5)  # a tick or two more: the targets stay where they settled
    return dm


def policy_end(dm, names):
    """No VMM was killed (the OOM killer, or anyone): every domain still runs."""
    pids = [dm.dom(n).get("pid", 0) for n in names]
    ok = all((dm.dom(n) or {}).get("state") == "running" for n in names) and \
        all(p and base.alive(p) for p in pids)
    dm.destroy_all()
    dm.stop()
    return ok


def near(v, want, tol):
    return abs(v - want) <= tol


def test_policy(root):
    # The budget is 56 MiB short: reclaim takes from the idle domain only. With tau 0.75
    # (k = 4) the busy one (96 MiB active) would be touched only once the idle one held
    # P_busy - 0.75 * 96 = 56 MiB; 200 - 128 = 72 is still above that.
    doms = [("idle", 0, {}), ("busy", 96, {})]
    dm = policy_run(root, "p1", 200, doms,
                    lambda dm: holds(dm, "idle") + holds(dm, "busy") <= 202)
    hi, hb = holds(dm, "idle"), holds(dm, "busy")
    ev_busy = policy_events(dm, "busy")
    report("policy-idle-ballooned-first", near(hi, 72, 3) and hb == 128 and not ev_busy,
           "idle holds %d, busy %d, busy's events %s" % (hi, hb, ev_busy))
    rc, out, err = dm.cli("info", "idle")
    report("policy-capsule-info", rc == 0 and "mem_policy  : balloon %d MiB, active 0 MiB, "
           "shares 1280, min 32 MiB" % (128 - hi) in out, out[-400:] + err)
    ev = policy_events(dm, "idle")
    report("policy-decisions-are-events", ev and ev[-1]["balloon_mib"] == 128 - hi and
           ev[-1]["active_mib"] == 0 and ev[-1]["budget_mib"] == 200 and ev[-1]["rho"] > 0,
           ev[-3:])
    st, metrics = call(dm.sock, "GET", "/metrics")
    report("policy-metrics", b"capsule_mem_policy_budget_bytes 209715200" in metrics and
           ('capsule_domain_policy_balloon_bytes{domain="idle"} %d' % ((128 - hi) << 20))
           .encode() in metrics, metrics[-500:])
    report("policy-no-vmm-killed-1", policy_end(dm, ["idle", "busy"]))
    # 96 MiB short: both give, where their rho meet: P_idle = P_busy - 72, sum 160.
    dm = policy_run(root, "p2", 160, doms,
                    lambda dm: holds(dm, "idle") + holds(dm, "busy") <= 162)
    hi, hb = holds(dm, "idle"), holds(dm, "busy")
    report("policy-tax-split", near(hi, 44, 4) and near(hb, 116, 4),
           "idle holds %d (want 44), busy %d (want 116)" % (hi, hb))
    report("policy-no-vmm-killed-2", policy_end(dm, ["idle", "busy"]))
    # Shares 2:1, both idle: what they keep is 2:1 (80 and 40 of 120).
    doms = [("rich", 0, {"memory_shares": 2560}), ("poor", 0, {"memory_shares": 1280})]
    dm = policy_run(root, "p3", 120, doms,
                    lambda dm: holds(dm, "rich") + holds(dm, "poor") <= 122)
    hr, hp = holds(dm, "rich"), holds(dm, "poor")
    report("policy-shares-split", hp > 0 and near(hr / hp, 2.0, 0.2) and hr + hp <= 122,
           "rich holds %d, poor %d (want 80, 40)" % (hr, hp))
    report("policy-no-vmm-killed-3", policy_end(dm, ["rich", "poor"]))
    # A minimum holds: without it both would keep 75 of 150; with memory_min 100, 100 and 50.
    doms = [("reserved", 0, {"memory_min": 100}), ("other", 0, {})]
    dm = policy_run(root, "p4", 150, doms,
                    lambda dm: holds(dm, "reserved") + holds(dm, "other") <= 152)
    hr, ho = holds(dm, "reserved"), holds(dm, "other")
    ev = policy_events(dm, "reserved")
    report("policy-minimum-never-violated", hr >= 100 and near(ho, 50, 3) and
           all(e["holds_mib"] >= 100 for e in ev),
           "reserved holds %d, other %d, events %s" % (hr, ho, ev))
    report("policy-no-vmm-killed-4", policy_end(dm, ["reserved", "other"]))
    # auto: the host's MemAvailable (and memory pressure) sets the budget; this host has
    # room for a 128 MiB domain, so nothing is ballooned.
    dm = policy_run(root, "p5", "auto", [("roomy", 0, {})],
                    lambda dm: dm.info().get("mem_policy", {}).get("budget_mib", 0) > 0)
    info = dm.info().get("mem_policy", {})
    report("policy-auto-budget-from-the-host", info.get("mode") == "auto" and
           128 < info.get("budget_mib", 0) <= info.get("limit_mib", 0) and
           info.get("psi_some_avg10", -1) >= 0 and holds(dm, "roomy") == 128 and
           not policy_events(dm, "roomy"), info)
    report("policy-no-vmm-killed-5", policy_end(dm, ["roomy"]))
    for args, want in [(["--mem-tau", "1.5"], "--mem-tau expects a number from 0 to 0.99"),
                       (["--mem-tau", "x"], "--mem-tau expects"),
                       (["--mem-limit", "0"], "--mem-limit expects MiB")]:
        p = subprocess.run([base.CAPSULED] + args, capture_output=True, text=True)
        report("policy-refused-%s" % "".join(args).strip("-"),
               p.returncode == 2 and want in p.stderr, p.stderr)


def test_policy_dirty(root):
    """The dirty log's sample of the write working set (docs/resources.md): two domains
    with 96 MiB in use by their balloon statistics, one rewriting it every 100 ms, the
    other having filled it once and stopped writing (vpolicy's "once"). 56 MiB short, the
    policy takes it from the one that stopped writing alone. The control, without the
    sampler (wss_sample_pages 0): the balloon's statistics cannot tell them apart, and both
    give. The sampler's period is 3 s here, so that its first sample (a period after the
    start) comes after the guest's fill, on a loaded host too (a sample that saw the fill
    reads the writer as idle for a while, or the filled one as busy, and the policy rightly
    takes from whom it sees idle). The filled one runs first, until its estimate is in; the
    writer comes next, and is left alone until its own estimate is (3 periods more), as a
    domain that just started is."""
    period = {"wss_period_ms": 3000}
    dm = Daemon(os.path.join(root, "p6"), ["--mem-limit", "200"])
    os.makedirs(dm.root)
    dm.start()
    policy_of = lambda name: (dm.dom(name) or {}).get("mem_policy", {})
    for name, cmdline in (("filled", "use=96 once"), ("writer", "use=96")):
        st, data = dm.create(name, VPOLICY, 128, balloon=0, cmdline=cmdline, **period)
        assert st == 201, data
        wait_for(lambda: "vpolicy: ready" in console(dm, name), 90)
        if name == "filled":
            wait_for(lambda: 0 <= policy_of("filled").get("active_dirty_mib", -1) <= 12, 60,
                     0.25)
    wait_for(lambda: holds(dm, "filled") + holds(dm, "writer") <= 202 and
             holds(dm, "writer") == 128 and
             policy_of("writer").get("active_dirty_mib", -1) >= 48, 60, 0.25)
    time.sleep(1.5)
    hf, hw = holds(dm, "filled"), holds(dm, "writer")
    ev_w, ev_f = policy_events(dm, "writer"), policy_events(dm, "filled")
    # A writer still filling its memory on a starved host writes little, and looks it:
    # whenever its sample said it writes, it kept everything.
    seen_busy = [e for e in ev_w if e["active_dirty_mib"] >= 48]
    report("policy-dirty-idle-ballooned-first", near(hf, 72, 3) and hw == 128 and
           all(e["balloon_mib"] == 0 for e in seen_busy) and ev_f,
           "filled holds %d, writer %d, writer's events %s" % (hf, hw, ev_w))
    last = ev_f[-1] if ev_f else {}
    report("policy-dirty-event-has-both-samples",
           near(last.get("active_balloon_mib", 0), 96, 2) and
           0 <= last.get("active_dirty_mib", -1) <= 48 and
           last.get("active_mib") == last.get("active_dirty_mib") and
           last.get("idle_fraction", 0) > 0.5, ev_f[-3:])
    mp = (dm.dom("writer") or {}).get("mem_policy", {})
    report("policy-dirty-writer-sampled-active", mp.get("active_dirty_mib", 0) >= 85 and
           near(mp.get("active_mib", 0), 96, 12) and mp.get("decisions") == len(ev_w), mp)
    st, metrics = call(dm.sock, "GET", "/metrics")
    want = [b'capsule_domain_policy_active_bytes{domain="filled",source="dirty"}',
            b'capsule_domain_policy_active_bytes{domain="filled",source="balloon"}',
            b'capsule_domain_policy_active_bytes{domain="writer",source="policy"}',
            ('capsule_domain_policy_decisions_total{domain="filled"} %d' % len(ev_f)).encode(),
            ('capsule_domain_policy_decisions_total{domain="writer"} %d' % len(ev_w)).encode()]
    m = re.search(rb'capsule_domain_policy_idle_fraction\{domain="filled"\} ([0-9.]+)', metrics)
    report("policy-dirty-metrics", st == 200 and all(w in metrics for w in want) and m and
           float(m.group(1)) > 0.5, ([w for w in want if w not in metrics], m and m.group(0)))
    report("policy-no-vmm-killed-6", policy_end(dm, ["writer", "filled"]))
    off = {"wss_sample_pages": 0}
    doms = [("writer", 96, off), ("filled", 96, dict(off, cmdline="use=96 once"))]
    dm = policy_run(root, "p7", 200, doms,
                    lambda dm: holds(dm, "filled") + holds(dm, "writer") <= 202)
    hf, hw = holds(dm, "filled"), holds(dm, "writer")
    mp = (dm.dom("writer") or {}).get("mem_policy", {})
    report("policy-without-sampler-cannot-tell", hw < 128 and near(hf, hw, 6) and
           mp.get("active_dirty_mib") == -1, "filled holds %d, writer %d; %s" % (hf, hw, mp))
    report("policy-no-vmm-killed-7", policy_end(dm, ["writer", "filled"]))
    p = subprocess.run([base.CAPSULED, "--wss-sample", "70000"], capture_output=True, text=True)
    report("policy-refused-wss-sample", p.returncode == 2 and "--wss-sample expects a number "
           "from 0 to 65536, got '70000'" in p.stderr, p.stderr)
    p = subprocess.run([base.CAPSULED, "--wss-period", "5"], capture_output=True, text=True)
    report("policy-refused-wss-period", p.returncode == 2 and "--wss-period expects a number "
           "from 50 to 60000, got '5'" in p.stderr, p.stderr)


def own_memcg():
    """This process's memory cgroup (v1), where the test makes its small host."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            parts = line.strip().split(":", 2)
            if len(parts) == 3 and "memory" in parts[1].split(","):
                return "/sys/fs/cgroup/memory" + parts[2].rstrip("/")
    return None


def stop_all(procs, cg):
    """End the control's processes: every process in its cgroup (the shells, timeouts and
    VMMs it started, none other) killed, then reaped."""
    for _ in range(3):
        with open(cg + "/cgroup.procs") as f:
            pids = [int(x) for x in f.read().split()]
        for pid in pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        if not pids:
            break
        time.sleep(0.2)


def make_memcg(tag, limit_mib):
    base_cg = own_memcg()
    if not base_cg or not os.path.exists(base_cg + "/memory.limit_in_bytes"):
        return None
    cg = "%s/capsule-mem-%s-%d" % (base_cg, tag, os.getpid())
    os.mkdir(cg)
    with open(cg + "/memory.limit_in_bytes", "w") as f:
        f.write(str(limit_mib << 20))
    return cg


def memcg_oom_kills(cg):
    with open(cg + "/memory.oom_control") as f:
        m = re.search(r"^oom_kill (\d+)", f.read(), re.M)
    return int(m.group(1)) if m else 0


def drop_memcg(cg):
    for _ in range(50):
        try:
            os.rmdir(cg)
            return
        except OSError:
            time.sleep(0.1)


OVER_DOMS, OVER_LIMIT, OVER_TOUCH = 4, 360, 100


def test_overcommit(root):
    """Four domains of 128 MiB, each touching 100 MiB, in a memory cgroup of 360 MiB (a small
    host without swap): capsule run alone gets a VMM OOM-killed; under capsuled's policy the
    idle memory is ballooned out first and every domain runs."""
    cg = make_memcg("raw", OVER_LIMIT)
    if not cg:
        report("overcommit-needs-memory-cgroup-v1", False, "no v1 memory controller here")
        return
    procs = []
    try:  # the control: the same domains, no policy
        for i in range(OVER_DOMS):
            procs.append(subprocess.Popen(
                ["sh", "-c", 'echo $$ > %s/cgroup.procs && exec timeout -k 5 60 %s run -m 128 '
                 '--balloon 0 -p "touch=%d wait=1" %s' % (cg, base.CAPSULE, OVER_TOUCH, VPOLICY)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            time.sleep(0.5)
        wait_for(lambda: memcg_oom_kills(cg) > 0 or any(p.poll() is not None for p in procs), 15)
        killed = memcg_oom_kills(cg)
        report("overcommit-without-policy-oom-kills", killed > 0, "oom_kill %d" % killed)
    finally:
        stop_all(procs, cg)
        drop_memcg(cg)
    cg = make_memcg("policy", OVER_LIMIT)
    dm = Daemon(os.path.join(root, "over"), ["--mem-cgroup", cg])
    os.makedirs(dm.root)
    names = ["o%d" % i for i in range(OVER_DOMS)]
    try:
        dm.start()
        for n in names:  # one at a time, as a host fills
            st, data = dm.create(n, VPOLICY, 128, balloon=0,
                                 cmdline="touch=%d wait=3" % OVER_TOUCH)
            assert st == 201, data
            wait_for(lambda: "vpolicy: touched" in console(dm, n), 20)
        time.sleep(2)
        info = dm.info().get("mem_policy", {})
        with open(cg + "/memory.max_usage_in_bytes") as f:
            peak = int(f.read()) >> 20
        why = "peak %d MiB, policy %s, consoles %s" % (
            peak, info, {n: console(dm, n)[-120:] for n in names})
        report("overcommit-with-policy-all-run", policy_end(dm, names) and
               memcg_oom_kills(cg) == 0, "oom_kill %d, %s" % (memcg_oom_kills(cg), why))
        report("overcommit-cgroup-limit-is-the-budget", info.get("limit_mib") == OVER_LIMIT and
               0 < info.get("budget_mib", 0) < OVER_LIMIT, info)
        print("# overcommit: peak %d MiB of %d" % (peak, OVER_LIMIT), flush=True)
    finally:
        base.end_daemon(dm)
        drop_memcg(cg)
    p = subprocess.run([base.CAPSULED, "--foreground", "--mem-cgroup", "/nonexistent", "--socket",
                        os.path.join(root, "x.sock"), "--state-dir", os.path.join(root, "x")],
                       capture_output=True, text=True, timeout=10)
    report("overcommit-bad-cgroup-refused", p.returncode == 1 and
           "not a memory cgroup with a limit" in p.stderr, p.stderr)


def rss_anon_kib(pid):
    """Guest memory the VMM holds: a memfd's pages are shared memory, a private one anon."""
    try:
        with open("/proc/%d/status" % pid) as f:
            t = f.read()
        return sum(int(re.search(r"^%s:\s+(\d+) kB" % k, t, re.M).group(1))
                   for k in ("RssAnon", "RssShmem"))
    except (OSError, AttributeError):
        return 0


def test_page_reporting(root):
    """Free page reporting: a guest that touched 64 MiB and reports the pages free gives them
    back to the host (the VMM's resident memory falls by them); one that only frees them
    keeps them resident. Both backings."""
    for backing in ("shared", "private"):
        got = {}
        for mode in ("free", "report"):
            out = os.path.join(root, "fpr-%s-%s.out" % (backing, mode))
            p = subprocess.Popen(["timeout", "-k", "5", "30", base.CAPSULE, "run", "-m", "128",
                                  "--memory-backing", backing, "--balloon", "0", "-p",
                                  "touch=64 wait=0 %s" % ("report" if mode == "report" else ""),
                                  VPOLICY], stdout=open(out, "w"), stderr=subprocess.STDOUT)
            want = "vpolicy: reported" if mode == "report" else "vpolicy: touched"
            wait_for(lambda: want in open(out).read(), 15)
            time.sleep(0.3)
            with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:  # timeout's child
                kids = f.read().split()
            got[mode] = rss_anon_kib(int(kids[0])) if kids else 0
            p.terminate()
            p.wait()
        report("page-reporting-releases-%s" % backing,
               got["free"] - got["report"] >= 56 * 1024 and got["report"] > 0,
               "resident guest memory: freed only %d KiB, reported %d KiB" %
               (got["free"], got["report"]))


def main():
    root = tempfile.mkdtemp(prefix="capsuled-mem-")
    os.chmod(root, 0o755)
    before = ksm_settings()
    # KSM turned up for the test: a full scan aimed at every second, half a CPU at most.
    dm = Daemon(root, ["--ksm-cpu", "50", "--ksm-scan-time", "1"])
    tests = [("bad-configs", lambda: test_bad_configs(dm)),
             ("sharing", lambda: test_sharing(dm)),
             ("policy", lambda: test_policy(root)),
             ("policy-dirty", lambda: test_policy_dirty(root)),
             ("overcommit", lambda: test_overcommit(root)),
             ("page-reporting", lambda: test_page_reporting(root))]
    try:
        dm.start()
        base.run_named(dm, tests, ONLY)
    finally:
        base.end_daemon(dm)
        after = ksm_settings()
        report("ksm-host-settings-restored", after == before, "%s -> %s" % (before, after))
        subprocess.run(["rm", "-rf", root])
    print("%d passed, %d failed" % (base.passed, base.failed))
    sys.exit(1 if base.failed else 0)


if __name__ == "__main__":
    main()
