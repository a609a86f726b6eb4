#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every benchmark and prints the rows of the tables in docs/benchmarks.md.
# Usage: bench/run.sh [BUILD]   (make bench runs it; needs root for the network namespace)
set -euo pipefail
B=${1:-build}
echo "## PV domains"
echo "| what | Capsule | floor or peer, same run | ratio |"
echo "|---|---|---|---|"
"$B/bench/launch" "$B/capsule" "$B/bench/guests/first_hypercall.elf" 30 1 | grep -E '^\||^host load'
"$B/bench/launch" "$B/capsule" "$B/bench/guests/first_hypercall.elf" 10 64 | grep -E '^\||^host load'
"$B/bench/jail_launch" "$B/capsule" "$B/bench/guests/first_hypercall.elf" 20 | grep -E '^\||^host load'
"$B/bench/hypercall" "$B/capsule" "$B/bench/guests/hcbench.elf" 20000 7 | grep -E '^\||^host load'
"$B/bench/cpu" "$B/capsule" "$B/bench/guests/cpubench.elf" 4000 7 | grep -E '^\||^host load'
echo
echo "Where a launch's time goes (the VMM's own phase stamps):"
echo
bench/launch_phases.py "$B" 20 1 | grep -E '^\||^host load'
bench/launch_phases.py "$B" 10 64 | grep -E '^\||^host load'

echo
echo "## HVM domains"
echo "| what | Capsule | floor or peer, same run | ratio |"
echo "|---|---|---|---|"
"$B/bench/hvm" "$B/capsule" "$B/tests/hvm/serial.elf" 20 "$B/tests/hvm/serial.elf32" | grep -E '^\||^host load'
img=$(mktemp /var/tmp/capsule-bench-XXXXXX.img)
"$B/bench/hvm_blk" "$B/capsule" "$B/tests/hvm/blkbench.elf" "$img" 5 2000 | grep -E '^\||^host load'
rm -f "$img"

echo
echo "## virtio devices"
echo "| what | Capsule | floor or peer, same run | ratio |"
echo "|---|---|---|---|"
img=$(mktemp /var/tmp/capsule-bench-XXXXXX.img)
"$B/bench/blk" "$B/capsule" "$B/bench/guests/blkbench.elf" "$img" 5 | grep -E "^\||^host load"
rm -f "$img"
ns=capsule-bench-$$
ip netns add "$ns"
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
ip -n "$ns" link set lo up
ip netns exec "$ns" "$B/capsule" run --stats --net tap=cap0 --cmdline "192.0.2.2 192.0.2.1" \
	"$B/tests/guests/vnet.elf" >/tmp/capsule-bench-net.$$ 2>&1 &
for _ in $(seq 100); do ip -n "$ns" link show cap0 >/dev/null 2>&1 && break; sleep 0.05; done
ip -n "$ns" addr add 192.0.2.1/24 dev cap0
ip -n "$ns" link set cap0 up
sleep 0.5 # the guest resolves the host's MAC and says hello
ip netns exec "$ns" timeout -k 5 600 "$B/bench/net" 192.0.2.2 5 | grep -E '^\||^host load'
ip netns exec "$ns" python3 -c \
	"import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'quit', ('192.0.2.2', 7))"
wait
echo
echo "Requests completed per queue notification (kick), under the loads above:"
echo
echo "| device | requests | kicks | requests per kick |"
echo "|---|---|---|---|"
per_kick() { sed -n 's/^capsule: stats: \(virtio-[a-z]*\): \([0-9]*\) requests, \([0-9]*\) kicks (\([0-9.]*\) requests per kick).*/| \1 | \2 | \3 | \4 |/p'; }
per_kick </tmp/capsule-bench-net.$$
rm -f /tmp/capsule-bench-net.$$
img=$(mktemp /var/tmp/capsule-bench-XXXXXX.img)
truncate -s 64M "$img"
"$B/capsule" run --stats --mem 256 --disk "$img" --cmdline "randread 4 64 64" \
	"$B/bench/guests/blkbench.elf" 2>&1 | per_kick
rm -f "$img"
"$B/capsule" run --stats --mem 128 --rng --virtio-console --balloon 32 \
	"$B/bench/guests/devload.elf" 2>&1 </dev/null | per_kick

echo
echo "## The per-domain API"
echo "host load before: $(cat /proc/loadavg)"
echo "| what | Capsule | floor or peer, same run | ratio |"
echo "|---|---|---|---|"
"$B/bench/api_launch" "$B/capsule" "$B/bench/guests/first_hypercall.elf" 40 | grep '^|'
"$B/bench/api" "$B/capsule" "$B/tests/guests/ticker.elf" 7 | grep '^|'
echo "host load after: $(cat /proc/loadavg)"

echo
echo "## capsuled"
echo "host load before: $(cat /proc/loadavg)"
echo "| what | Capsule | floor or peer, same run | ratio |"
echo "|---|---|---|---|"
bench/daemon.py "$B" 21
echo "host load after: $(cat /proc/loadavg)"

echo
echo "## Snapshots"
echo "| what | Capsule | floor or peer, same run | ratio |"
echo "|---|---|---|---|"
"$B/bench/restore" "$B/capsule" "$B/bench/guests/hcloop.elf" 15 8 64 256 1024
bench/workingset.py "$B" 5
bench/clone.py "$B" 5 50 64

echo
echo "## Snapshot pauses and migration"
bench/encap.py "$B" 5

echo
echo "## CPU control"
bench/sched.py "$B" 5 3

echo
echo "## Introspection"
echo "| what | Capsule | floor or peer, same run | ratio |"
echo "|---|---|---|---|"
bench/introspect.py "$B" 7

echo
echo "## capsule-oci"
echo "| what | Capsule | floor or peer, same run | ratio |"
echo "|---|---|---|---|"
bench/oci.py "$B" 5

echo
echo "## Memory"
bench/memory.py "$B" 5 2,10,50 768
