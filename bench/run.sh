#!/usr/bin/env bash
# Runs every benchmark and prints the rows of the table in docs/benchmarks.md.
# Usage: bench/run.sh [BUILD]   (make bench runs it)
set -euo pipefail
B=${1:-build}
echo "| what | Capsule | floor or peer, same run | ratio |"
echo "|---|---|---|---|"
"$B/bench/launch" "$B/capsule" "$B/bench/guests/first_hypercall.elf" 60 | grep '^|'
"$B/bench/hypercall" "$B/capsule" "$B/bench/guests/hcbench.elf" 20000 | grep '^|'
"$B/bench/cpu" "$B/capsule" "$B/bench/guests/cpubench.elf" 4000 | grep '^|'
