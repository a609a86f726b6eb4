#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Where a launch's time goes: runs `capsule run --vcpus N GUEST` RUNS times with
CAPSULE_STAMP_PHASES=1 (capsule prints each launch phase's monotonic time; src/util/log.c)
and prints, for each phase, the median time from the spawn of capsule (min-max), in the
order the phases happen. Phases on different threads overlap: the main thread builds the
domain while the spawner asks KVM's CPUID and makes the vCPU threads.

    bench/launch_phases.py BUILD [RUNS [VCPUS [GUEST]]]
"""
import os
import re
import subprocess
import sys
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
VCPUS = sys.argv[3] if len(sys.argv) > 3 else "1"
GUEST = sys.argv[4] if len(sys.argv) > 4 else os.path.join(BUILD, "bench", "guests",
                                                            "first_hypercall.elf")
STAMP = re.compile(r"capsule: (?:phase )?(.+?) at monotonic (\d+)\.(\d{9})")


def one():
    env = dict(os.environ, CAPSULE_STAMP_PHASES="1", CAPSULE_STAMP_FIRST_HYPERCALL="1")
    t0 = time.monotonic_ns()
    p = subprocess.run([os.path.join(BUILD, "capsule"), "run", "--vcpus", VCPUS, GUEST],
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True, timeout=60, check=False)
    seen = {}
    for line in p.stderr.splitlines():
        m = STAMP.search(line)
        if m and m.group(1) not in seen:
            seen[m.group(1)] = (int(m.group(2)) * 10**9 + int(m.group(3)) - t0) / 1e3
    if "first hypercall" not in seen:
        sys.exit("launch_phases: capsule printed no first hypercall:\n" + p.stderr)
    return seen


def main():
    with open("/proc/loadavg") as f:
        print("host load before:", f.read().strip())
    runs = [one() for _ in range(RUNS)]
    with open("/proc/loadavg") as f:
        print("host load after:", f.read().strip())
    names = sorted({n for r in runs for n in r},
                   key=lambda n: sorted(r[n] for r in runs if n in r)[0])
    print(f"launch phases, {VCPUS} vCPU(s), {RUNS} runs: us from the spawn of capsule, "
          "median (min-max)")
    print("| phase | us after spawn |")
    print("|---|---|")
    for n in names:
        v = sorted(r[n] for r in runs if n in r)
        print(f"| {n} | {v[len(v) // 2]:.0f} ({v[0]:.0f}-{v[-1]:.0f}) |")


main()
