#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Integration tests: boot real domains with build/capsule and check what they print and
# how they exit. Each case names the exit status it expects and patterns (extended regular
# expressions) that stdout and stderr must match. Ends with "N passed, N failed".
#
# CAPSULE_JAIL=1 runs every `capsule run` of the suite (and of its Python drivers) jailed
# (docs/jailer.md), each in a jail directory of its own, as uid/gid 64200: BUILD is then
# a copy of links whose capsule is a wrapper that adds --jail, --uid and --gid.
set -u
BUILD=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ "${CAPSULE_JAIL:-}" = 1 ]; then
	real=$(realpath "$BUILD")
	mkdir "$tmp/jails" "$tmp/build"
	chmod 1777 "$tmp/jails" # kvm-permission runs the wrapper as another user
	for f in "$real"/*; do ln -s "$f" "$tmp/build/"; done
	rm "$tmp/build/capsule"
	cat >"$tmp/build/capsule" <<-EOF
	#!/bin/sh
	[ "\$1" = run ] || exec "$real/capsule" "\$@"
	shift
	exec "$real/capsule" run --jail "\$(mktemp -d "$tmp/jails/j.XXXXXX")" --uid 64200 --gid 64200 "\$@"
	EOF
	chmod +x "$tmp/build/capsule"
	BUILD=$tmp/build
fi
CAPSULE=$BUILD/capsule
# The VMM process of a capsule run started as PID: jailed, the child PID waits for.
vmm_of() { if [ "${CAPSULE_JAIL:-}" = 1 ]; then pgrep -P "$1" | head -n 1; else echo "$1"; fi; }
G=$BUILD/tests/guests
E=$BUILD/guest
passed=0 failed=0

report() { # name ok why
	if [ "$2" = 1 ]; then
		passed=$((passed + 1))
		printf 'PASS %s\n' "$1"
	else
		failed=$((failed + 1))
		printf 'FAIL %s: %s\n' "$1" "$3"
		sed 's/^/  stdout| /' "$tmp/out" | tail -n 15
		sed 's/^/  stderr| /' "$tmp/err" | tail -n 15
	fi
}

# expect NAME STATUS STDOUT_RE STDERR_RE -- ARGS... ("" skips a pattern, EMPTY wants nothing)
expect() {
	local name=$1 want=$2 out_re=$3 err_re=$4 status ok=1 why=""
	shift 5
	timeout 120 "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	status=$?
	if [ "$status" != "$want" ]; then
		ok=0 why="exit status $status, expected $want"
	elif [ -n "$out_re" ] && ! grep -Eq -- "$out_re" "$tmp/out"; then
		ok=0 why="stdout does not match /$out_re/"
	elif [ "$err_re" = EMPTY ] && [ -s "$tmp/err" ]; then
		ok=0 why="stderr is not empty"
	elif [ -n "$err_re" ] && [ "$err_re" != EMPTY ] && ! grep -Eq -- "$err_re" "$tmp/err"; then
		ok=0 why="stderr does not match /$err_re/"
	fi
	report "$name" "$ok" "$why"
}

# result STATUS NAME ARGS...: a test domain must exit with STATUS and print
# "Test result: SUCCESS" as its last line.
result() {
	local want=$1 name=$2 status last ok=1 why=""
	shift 2
	timeout 120 "$CAPSULE" run "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	status=$?
	last=$(tail -n 1 "$tmp/out")
	if [ "$last" != "Test result: SUCCESS" ]; then
		ok=0 why="last line is '$last'"
	elif [ "$status" != "$want" ]; then
		ok=0 why="exit status $status, expected $want"
	fi
	report "$name" "$ok" "$why"
}
guest() { result 0 "$@"; } # PV test guests power off with 0
hvm() { result 1 "$@"; }   # HVM test kernels write 0 to the debug-exit port: (0 << 1) | 1

# --- domains that must succeed
expect hello 0 '^Hello from a Capsule PV domain: 64 MiB, 1 vCPU\(s\), cmdline ""$' EMPTY \
	-- "$CAPSULE" run "$E/hello.elf"
expect hello-options 0 '128 MiB, 3 vCPU\(s\), cmdline "a b=c"' '' \
	-- "$CAPSULE" run --mem 128 --vcpus 3 --cmdline "a b=c" "$E/hello.elf"
guest abi --mem 96 --vcpus 2 --cmdline "abi test cmdline" "$G/abi.elf"
guest smp-2 --vcpus 2 "$G/smp.elf"
guest smp-8 --vcpus 8 "$G/smp.elf"
guest smp-64 --vcpus 64 "$G/smp.elf"
guest timer "$G/timer.elf"
guest events --vcpus 2 "$G/events.elf"
guest hostile-hypercalls "$G/hostile.elf"
expect hostile-console-warning 0 'console recovered' 'console ring is inconsistent' \
	-- "$CAPSULE" run "$G/hostile.elf"
expect exit-code 42 'cmdline "42"' '' -- "$CAPSULE" run --cmdline 42 "$G/exitcode.elf"
expect reboot-no-reboot 0 'boot' 'domain rebooted; on_reboot=destroy, exiting' \
	-- "$CAPSULE" run --no-reboot --cmdline reboot "$G/exitcode.elf"
expect reboot-restarts 124 '' 'domain rebooted; restarting it' \
	-- "$CAPSULE" run --timeout 1 --cmdline reboot "$G/exitcode.elf"
# Lifecycle actions (xl.cfg's on_poweroff, on_reboot, on_crash).
expect on-crash-restart 124 '' 'domain crashed; restarting it' \
	-- "$CAPSULE" run --timeout 1 --on-crash restart --cmdline ud2 "$G/crash.elf"
expect on-poweroff-restart 124 '' 'domain powered off; restarting it' \
	-- "$CAPSULE" run --timeout 1 --on-poweroff restart "$E/hello.elf"
"$CAPSULE" run --on-poweroff preserve "$E/hello.elf" >"$tmp/out" 2>"$tmp/err" &
pid=$!
sleep 0.5
kill -0 $pid 2>/dev/null && alive=1 || alive=0
kill -TERM $pid 2>/dev/null
wait $pid
status=$?
[ $alive = 1 ] && [ $status = 143 ] && grep -q 'preserved until destroyed' "$tmp/err" &&
	report on-poweroff-preserve 1 "" || report on-poweroff-preserve 0 "alive $alive, status $status"
expect on-crash-bad-action 125 '' '--on-crash expects destroy, restart or preserve' \
	-- "$CAPSULE" run --on-crash reboot "$E/hello.elf"
printf '{"name": "web", "image": "%s", "memory": 96, "vcpus": 2, "cmdline": "from json"}\n' \
	"$E/hello.elf" >"$tmp/dom.json"
expect config-file 0 '96 MiB, 2 vCPU\(s\), cmdline "from json"' '' -- "$CAPSULE" run --config "$tmp/dom.json"
expect config-file-overridden 0 '128 MiB, 2 vCPU' '' -- "$CAPSULE" run --config "$tmp/dom.json" --mem 128
printf '{"memroy": 96}\n' >"$tmp/bad.json"
expect config-file-unknown-key 125 '' 'bad.json: unknown key "memroy"' -- "$CAPSULE" run --config "$tmp/bad.json"
expect verbose-log 0 'Hello' 'info: domain web: pv domain from .*hello.elf, 64 MiB, 1 vCPU.*info: domain web: boot 1 ended \(power off, code 0\)' \
	-- sh -c "$CAPSULE run -v --name web $E/hello.elf 2>&1 | tr '\n' ' ' >&2; echo Hello"
expect options-after-image 0 '128 MiB, 2 vCPU' '' -- "$CAPSULE" run "$E/hello.elf" --mem 128 --vcpus 2
expect exit-code-largest 123 'cmdline "123"' '' -- "$CAPSULE" run --cmdline 123 "$G/exitcode.elf"
expect exit-code-out-of-range 126 '' 'the guest reported a crash \(code 300\)' \
	-- "$CAPSULE" run --cmdline 300 "$G/exitcode.elf"
expect stats 0 '' 'stats: [0-9]+ exits; hypercalls: console_write=[0-9]+ shutdown=1' \
	-- "$CAPSULE" run --stats "$E/hello.elf"
expect demo 0 'demo: done' '' -- "$CAPSULE" run --vcpus 4 "$E/demo.elf"

# --- virtio devices
D=tests/integration
"$D/disk.py" make "$tmp/disk.img"
expect vblk-rw 0 'Test result: SUCCESS' 'virtio-blk: [0-9]+ requests, [0-9]+ kicks' \
	-- "$CAPSULE" run --stats --disk "$tmp/disk.img,serial=capsule-test" "$G/vblk.elf"
expect vblk-rw-file 0 '0 sectors differ' '' -- "$D/disk.py" check "$tmp/disk.img" rw
"$D/disk.py" make "$tmp/disk.img"
expect vblk-readonly 0 'read-only disk refused a write' '' \
	-- "$CAPSULE" run --disk "$tmp/disk.img,readonly,serial=capsule-test" --cmdline ro "$G/vblk.elf"
expect vblk-readonly-file 0 '0 sectors differ' '' -- "$D/disk.py" check "$tmp/disk.img" ro
# An acknowledged flush survives the VMM being killed.
"$D/disk.py" make "$tmp/disk.img"
"$CAPSULE" run --disk "$tmp/disk.img,serial=capsule-test" --cmdline flushkill "$G/vblk.elf" \
	>"$tmp/flush.out" 2>&1 &
pid=$!
for _ in $(seq 200); do grep -q 'wrote and flushed' "$tmp/flush.out" && break; sleep 0.05; done
kill -KILL $pid 2>/dev/null
wait $pid 2>/dev/null
expect vblk-flush-then-kill 0 '0 sectors differ' '' -- "$D/disk.py" check "$tmp/disk.img" flushed
# Images are locked: one writer, or any number of readers.
"$D/disk.py" make "$tmp/disk.img"
"$CAPSULE" run --disk "$tmp/disk.img" "$G/ticker.elf" >/dev/null 2>&1 &
pid=$!
sleep 0.3
expect disk-locked-for-writers 125 '' 'disk.img is in use by another domain \(locked\)' \
	-- "$CAPSULE" run --disk "$tmp/disk.img" "$E/hello.elf"
expect disk-locked-for-readers 125 '' 'in use by another domain \(open read-write\)' \
	-- "$CAPSULE" run --disk "$tmp/disk.img,readonly" "$E/hello.elf"
kill -TERM $pid
wait $pid
"$CAPSULE" run --disk "$tmp/disk.img,readonly" "$G/ticker.elf" >/dev/null 2>&1 &
pid=$!
sleep 0.3
expect disk-shared-readonly 0 'Hello' '' -- "$CAPSULE" run --disk "$tmp/disk.img,readonly" "$E/hello.elf"
kill -TERM $pid
wait $pid
# A block device as a disk (a loop device over the test image).
"$D/disk.py" make "$tmp/disk.img"
if loop=$(losetup -f --show "$tmp/disk.img" 2>"$tmp/err"); then
	expect vblk-block-device 0 'Test result: SUCCESS' '' \
		-- "$CAPSULE" run --disk "$loop,serial=capsule-test" "$G/vblk.elf"
	losetup -d "$loop"
	expect vblk-block-device-file 0 '0 sectors differ' '' -- "$D/disk.py" check "$tmp/disk.img" rw
else
	report vblk-block-device 0 "cannot make a loop device: $(cat "$tmp/err")"
fi
# virtio-blk's asynchronous paths (tests/guests/vblkasync.c): multiqueue, completions in the
# order their I/O finished, a misaligned buffer, a reset with requests in flight; through the
# page cache, and with O_DIRECT (direct=on); an image whose data the host has not cached.
"$D/stamp_disk.py" "$tmp/stamp.img" 128
expect vblk-async 0 '[0-9]+ of 32 small reads completed before the big one' \
	'virtio-blk: [0-9]+ requests.*polls' -- "$CAPSULE" run --stats --disk "$tmp/stamp.img,queues=4" \
	--cmdline 4 "$G/vblkasync.elf"
grep -q 'Test result: SUCCESS' "$tmp/out" && grep -q 'reset with [1-9][0-9]* of 24 reads in flight' "$tmp/out" &&
	report vblk-async-reset-in-flight 1 "" || report vblk-async-reset-in-flight 0 "see the output"
"$D/stamp_disk.py" "$tmp/stamp.img" 128
expect vblk-async-direct 0 'Test result: SUCCESS' '' \
	-- "$CAPSULE" run --disk "$tmp/stamp.img,queues=4,direct=on" --cmdline "4 direct" "$G/vblkasync.elf"
"$D/stamp_disk.py" "$tmp/stamp.img" 128
expect vblk-async-two-queues 0 'vblkasync: 2 queues, each wrote' '' \
	-- "$CAPSULE" run --disk "$tmp/stamp.img,queues=2" --cmdline 2 "$G/vblkasync.elf"
rm -f "$tmp/stamp.img"
"$D/disk.py" make "$tmp/disk.img"
expect vblk-direct 0 'Test result: SUCCESS' '' \
	-- "$CAPSULE" run --disk "$tmp/disk.img,serial=capsule-test,direct=on" "$G/vblk.elf"
expect vblk-direct-file 0 '0 sectors differ' '' -- "$D/disk.py" check "$tmp/disk.img" rw
expect disk-bad-queues 125 '' "queues= takes 1 to 4, not '5'" \
	-- "$CAPSULE" run --disk "$tmp/disk.img,queues=5" "$E/hello.elf"
expect vrng 0 'Test result: SUCCESS' '' -- "$CAPSULE" run --rng "$G/vrng.elf"
expect console-terminal 0 'escape: True restored: True' '' \
	-- timeout -k 5 60 python3 "$D/console_tty.py" "$CAPSULE" "$G/vcons.elf"
expect vcons 0 'HELLO CAPSULE' '' -- sh -c "printf 'hello capsule\nquit\n' | $CAPSULE run --virtio-console $G/vcons.elf"
# PV console input (docs/pv-abi.md 7.1): the input ring, fed from stdin.
expect consin 0 'HELLO CAPSULE' '' -- sh -c "printf 'hello capsule\nquit\n' | timeout -k 5 60 $CAPSULE run $G/consin.elf"
# More than the ring holds (2 KiB): back-pressure, every line echoed, in order.
seq -f 'line %05g of the console input, abcdefghij' 1 400 >"$tmp/cin.txt" # 14 KB
tr a-z A-Z <"$tmp/cin.txt" >"$tmp/cin.want"
expect consin-big 0 'Test result: SUCCESS' '' -- sh -c "{ cat '$tmp/cin.txt'; echo quit; } | timeout -k 5 60 $CAPSULE run $G/consin.elf"
grep -v '^consin: ready$\|^Test result: ' "$tmp/out" >"$tmp/cin.got"
cmp -s "$tmp/cin.got" "$tmp/cin.want" && report consin-big-in-order 1 "" ||
	report consin-big-in-order 0 "$(wc -l <"$tmp/cin.got") lines echoed, differing: $(cmp "$tmp/cin.got" "$tmp/cin.want" 2>&1)"
# A reboot stops the input thread; the next domain reads on from the same stdin.
expect consin-reboot 0 'ONE.*' '' -- sh -c "(printf 'one\nreboot\n'; sleep 1; printf 'two\nquit\n') | timeout -k 5 60 $CAPSULE run $G/consin.elf"
n=$(grep -c '^consin: ready$' "$tmp/out"); t=$(grep -c '^TWO$' "$tmp/out")
[ "$n" = 2 ] && [ "$t" = 1 ] && report consin-reboot-reads-on 1 "" ||
	report consin-reboot-reads-on 0 "$n boots, $t TWO lines"
# Endless input into a guest that stopped reading: the ring stays full, and the domain
# still ends at once when the guest powers off (the thread waits in slices).
expect consin-full-ends 0 'Test result: SUCCESS' '' -- sh -c "{ echo stop; yes; } | timeout -k 5 10 $CAPSULE run $G/consin.elf"
# No input without the flag: stdin that cannot be waited on, or taken by virtio-console.
expect consin-devnull 1 'check failed: start_info->flags' '' -- timeout -k 5 60 "$CAPSULE" run "$G/consin.elf"
expect consin-virtio-console 1 'check failed: start_info->flags' '' -- sh -c "printf 'quit\n' | timeout -k 5 60 $CAPSULE run --virtio-console $G/consin.elf"
"$D/disk.py" make "$tmp/disk.img"
expect vhostile-rings 0 'vhostile: devices recovered' \
	'(needs a reset.*){1}' -- "$CAPSULE" run --rng --disk "$tmp/disk.img" "$G/vhostile.elf"
n=$(grep -c 'virtio-rng at 0x[0-9a-f]*: queue 0: .*; the device needs a reset' "$tmp/err")
[ "$n" = 11 ] && report vhostile-each-reported 1 "" || report vhostile-each-reported 0 "$n of 11 reports"
n=$(grep -c 'virtio-blk at 0x[0-9a-f]*: queue .*; the device needs a reset' "$tmp/err")
[ "$n" = 2 ] && report vhostile-blk-queue-past-mq-and-in-flight 1 "" ||
	report vhostile-blk-queue-past-mq-and-in-flight 0 "$n of 2 virtio-blk reports"

# virtio-net: a TAP in a network namespace made for the test; a guest that takes the
# offloads, then one that refuses them (it must then get no GSO frame nor partial checksum).
for mode in tso plain; do
ns=capsule-test-$$
flag=; [ $mode = plain ] && flag=nooffload
if ip netns add "$ns" 2>"$tmp/err"; then
	ip -n "$ns" link set lo up
	ip netns exec "$ns" timeout -k 5 120 "$CAPSULE" run --stats \
		--net tap=cap0,mac=52:54:00:12:34:56 \
		--cmdline "192.0.2.2 192.0.2.1 $flag" "$G/vnet.elf" >"$tmp/net.out" 2>&1 &
	pid=$!
	expect vnet-peer-$mode 0 'tcp: 4194304 bytes, intact' '' \
		-- ip netns exec "$ns" timeout -k 5 100 python3 "$D/net_peer.py" cap0 192.0.2.1 192.0.2.2 $mode
	wait $pid
	status=$?
	cp "$tmp/net.out" "$tmp/out"
	if [ $status = 0 ] && grep -q 'echoed 200 datagrams' "$tmp/out" &&
		grep -q 'mac 52:54:00:12:34:56' "$tmp/out"; then
		report vnet-guest-$mode 1 ""
	else
		report vnet-guest-$mode 0 "exit status $status"
	fi
	# Receive batching: the burst the guest held came in many packets per wake-up.
	most=$(sed -n 's/^capsule: stats: virtio-net: .* at most \([0-9]*\))$/\1/p' "$tmp/out")
	[ "${most:-0}" -ge 16 ] && report vnet-rx-batch-$mode 1 "" ||
		report vnet-rx-batch-$mode 0 "at most ${most:-no} packets per wake-up"
	# After each delivery the device waited for the guest's answer on its transmit queue
	# (virtio_expect); that the echo and the TCP stream above came through whole is the
	# proof that no answer was lost to the suppressed kicks.
	awaited=$(sed -n 's/^capsule: stats: virtio-net: .*, \([0-9]*\) answers awaited.*/\1/p' "$tmp/out")
	[ "${awaited:-0}" -gt 0 ] && report vnet-answers-awaited-$mode 1 "" ||
		report vnet-answers-awaited-$mode 0 "no answer awaited: $(grep 'stats: virtio-net' "$tmp/out")"
	ip netns del "$ns"
else
	report vnet 0 "cannot create a network namespace: $(cat "$tmp/err")"
fi
done

# virtio-net multiqueue: two queue pairs on a multiqueue TAP, one driven by each vCPU.
ns=capsule-test-$$
if ip netns add "$ns" 2>"$tmp/err"; then
	ip -n "$ns" link set lo up
	ip netns exec "$ns" timeout -k 5 60 "$CAPSULE" run --stats --vcpus 2 \
		--net tap=cap0,queues=2 --cmdline "192.0.2.2 192.0.2.1" "$G/vnetmq.elf" \
		>"$tmp/netmq.out" 2>&1 &
	pid=$!
	expect vnet-mq-peer 0 'mq: pair 0 sent 100, pair 1 sent 100' '' \
		-- ip netns exec "$ns" timeout -k 5 50 python3 "$D/net_mq_peer.py" cap0 192.0.2.1
	wait $pid
	status=$?
	if [ $status = 0 ] && grep -q 'pair 0 got 100, pair 1 got 100' "$tmp/netmq.out"; then
		report vnet-mq-guest 1 ""
	else
		report vnet-mq-guest 0 "status $status: $(tail -n 3 "$tmp/netmq.out")"
	fi
	ip netns del "$ns"
fi
expect net-bad-queues 125 '' 'queues= takes 1 or 2' -- "$CAPSULE" run --net tap=t0,queues=3 x

# virtio-balloon: the VMM's resident memory follows the balloon.
"$CAPSULE" run --mem 256 --balloon 0 --control "$tmp/ctl" --cmdline 64 "$G/vballoon.elf" \
	>"$tmp/balloon.out" 2>&1 &
pid=$!
rss() { awk '/^VmRSS/ {print $2}' "/proc/$(vmm_of $pid)/status"; }
wait_line() { for _ in $(seq 200); do grep -q "$1" "$tmp/balloon.out" && return 0; sleep 0.05; done; return 1; }
ok=1 why=""
wait_line 'balloon: ready' || { ok=0 why="guest never ready"; }
r1=$(rss)
"$CAPSULE" control "$tmp/ctl" balloon 48 >/dev/null
wait_line 'holding 12288 pages' || { ok=0 why="no inflate"; }
r2=$(rss)
"$CAPSULE" control "$tmp/ctl" balloon 0 >/dev/null
wait_line 'holding 0 pages' || { ok=0 why="no deflate"; }
r3=$(rss)
drop=$(((r1 - r2) / 1024)) rise=$(((r3 - r2) / 1024))
printf 'balloon: RSS %d kB -> %d kB (inflate 48 MiB: -%d MiB) -> %d kB (deflate: +%d MiB)\n' \
	"$r1" "$r2" "$drop" "$r3" "$rise"
[ $ok = 1 ] && [ $((r1 - r2)) -ge $((48 * 1024 * 9 / 10)) ] || { ok=0 why="${why:-RSS fell by $drop MiB, not 90% of 48}"; }
[ $ok = 1 ] && [ $((r3 - r2)) -ge $((48 * 1024 * 9 / 10)) ] || { ok=0 why="${why:-RSS rose by $rise MiB, not 90% of 48}"; }
report balloon-rss "$ok" "$why"
"$CAPSULE" control "$tmp/ctl" balloon >/dev/null
sleep 0.3
expect balloon-stats 0 'actual_mib=0 .*free=[1-9][0-9]* total=268435456' '' \
	-- "$CAPSULE" control "$tmp/ctl" balloon
expect control-bad-command 125 '' "unknown command 'frobnicate'" \
	-- "$CAPSULE" control "$tmp/ctl" frobnicate
kill -TERM $pid
wait $pid
expect control-gone 125 '' 'cannot connect' -- "$CAPSULE" control "$tmp/ctl" balloon
expect control-no-balloon 125 'has no balloon' '' -- sh -c \
	"$CAPSULE run --control $tmp/ctl2 --timeout 5 $G/spin.elf >/dev/null 2>&1 & sleep 0.3; $CAPSULE control $tmp/ctl2 balloon; s=\$?; kill %1; exit \$s"

# pause and resume: a paused domain prints nothing, and goes on where it was
"$CAPSULE" run --control "$tmp/ctl3" "$G/ticker.elf" >"$tmp/tick.out" 2>&1 &
pid=$!
sleep 0.4
expect control-pause 0 'ok: paused' '' -- "$CAPSULE" control "$tmp/ctl3" pause
n1=$(grep -c tick "$tmp/tick.out")
sleep 0.5
n2=$(grep -c tick "$tmp/tick.out")
expect control-pause-twice 125 'a domain that is paused' '' -- "$CAPSULE" control "$tmp/ctl3" pause
expect control-resume 0 'ok: resumed' '' -- "$CAPSULE" control "$tmp/ctl3" resume
sleep 0.4
n3=$(grep -c tick "$tmp/tick.out")
kill -TERM $pid
wait $pid
if [ "$n1" -gt 0 ] && [ "$n1" = "$n2" ] && [ "$n3" -gt "$n2" ]; then
	report pause-stops-the-guest 1 ""
else
	report pause-stops-the-guest 0 "ticks: $n1 at pause, $n2 after 0.5 s paused, $n3 after resume"
fi
last=$(grep tick "$tmp/tick.out" | tail -n 1 | awk '{print $2}')
[ "$(grep -c tick "$tmp/tick.out")" = $((last + 1)) ] && report resume-continues-in-order 1 "" ||
	report resume-continues-in-order 0 "ticks are not 0..$last"

# pause reaches a vCPU asleep in a hypercall with nothing to wake it, and a silent client
# does not hold the control socket
"$CAPSULE" run --control "$tmp/ctl4" "$G/blocker.elf" >/dev/null 2>&1 &
pid=$!
sleep 0.3
python3 -c "import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(5)" "$tmp/ctl4" &
idle=$!
sleep 0.2
expect control-pause-blocked-vcpu 0 'ok: paused' '' -- timeout 10 "$CAPSULE" control "$tmp/ctl4" pause
expect control-resume-blocked-vcpu 0 'ok: resumed' '' -- timeout 10 "$CAPSULE" control "$tmp/ctl4" resume
kill $idle 2>/dev/null
kill -TERM $pid
wait $pid
[ $? = 143 ] && report blocked-domain-terminates 1 "" || report blocked-domain-terminates 0 "exit status not 143"

# seccomp: the vCPU and device threads are confined, and so is the main thread
seccomp_of() { # pid thread-name: that thread's seccomp mode
	for t in /proc/"$(vmm_of "$1")"/task/*; do
		[ "$(cat "$t/comm")" = "$2" ] && awk '/^Seccomp:/ {print $2}' "$t/status" && return
	done
	echo missing
}
"$CAPSULE" run --rng "$G/ticker.elf" >/dev/null 2>&1 &
pid=$!
sleep 0.4
modes="$(seccomp_of $pid vcpu0) $(seccomp_of $pid virtio-rng) $(seccomp_of $pid capsule)"
kill -TERM $pid
wait $pid
# A sanitizer build runs without the filter (its runtime makes calls of its own): it says so.
want="2 2 2"
"$CAPSULE" --version | grep -q 'sandbox: off in this sanitizer build' && want="0 0 0"
[ "$modes" = "$want" ] && report seccomp-confines-every-thread 1 "" ||
	report seccomp-confines-every-thread 0 "seccomp modes of vcpu0, virtio-rng, main: $modes, want $want"
"$CAPSULE" run --no-seccomp --rng "$G/ticker.elf" >/dev/null 2>&1 &
pid=$!
sleep 0.4
modes="$(seccomp_of $pid vcpu0) $(seccomp_of $pid virtio-rng)"
kill -TERM $pid
wait $pid
[ "$modes" = "0 0" ] && report seccomp-off 1 "" || report seccomp-off 0 "modes with --no-seccomp: $modes"

# device options: clear errors
expect disk-missing 125 '' 'cannot open /nonexistent.img' -- "$CAPSULE" run --disk /nonexistent.img x
expect disk-bad-option 125 '' "unknown option 'bogus'" -- "$CAPSULE" run --disk "$tmp/disk.img,bogus" x
expect net-no-tap 125 '' 'give a TAP device name' -- "$CAPSULE" run --net mac=52:54:00:00:00:01 x
expect net-bad-mac 125 '' 'not a unicast MAC' -- "$CAPSULE" run --net tap=t0,mac=01:00:00:00:00:00 x
expect net-tap-too-long 125 '' 'a TAP name has 1 to 15 characters' \
	-- "$CAPSULE" run --net tap=a-name-much-too-long x
expect control-help 0 'usage: capsule control' '' -- "$CAPSULE" control --help
expect balloon-bad 125 '' '--balloon expects a number' -- "$CAPSULE" run --balloon lots x

# --- HVM domains: small test kernels (multiboot and PVH), which pass with the debug-exit
# port's status 1 ((0 << 1) | 1, QEMU's isa-debug-exit convention) and the result line.
H=$BUILD/tests/hvm
hvm hvm-serial-multiboot --mem 64 --cmdline hvm-test "$H/serial.elf"
hvm hvm-serial-pvh --mem 64 --cmdline "hvm-test pvh" "$H/serial-pvh.elf"
expect hvm-pvh-chosen 1 'from a PVH kernel' '' -- "$CAPSULE" run --mem 64 --cmdline hvm-test "$H/serial-pvh.elf"
hvm hvm-timer-interrupt --mem 64 "$H/timer.elf"
# ELF32 images (objcopy -O elf32-i386) and a real-mode kernel linked at 0x8000, as ELF32
# (multiboot's ELF loading) and ELF64; an image over the firmware area is refused.
hvm hvm-serial-elf32 --mem 64 --cmdline hvm-test "$H/serial.elf32"
hvm hvm-timer-elf32 --mem 64 "$H/timer.elf32"
hvm hvm-realmode-0x8000-elf32 --mem 64 --cmdline lowload-test "$H/realmode.elf32"
hvm hvm-realmode-0x8000-elf64 --mem 64 --cmdline lowload-test "$H/realmode.elf"
# The same binaries on QEMU where it is installed: both platforms pass them alike.
# qemu_hvm NAME APPEND KERNEL [QEMU ARGS...] (QWANT: the exit status, 1 unless given)
qemu_hvm() {
	local name=$1 append=$2 kernel=$3 status last ok=1 why="" want=${QWANT:-1}
	shift 3
	command -v qemu-system-x86_64 >/dev/null && [ -w /dev/kvm ] || return 0
	timeout -k 5 60 qemu-system-x86_64 -M microvm -enable-kvm -m ${QMEM:-64} -nographic -nodefaults \
		-no-reboot -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 "$@" \
		-kernel "$kernel" -append "$append" >"$tmp/out" 2>"$tmp/err" </dev/null
	status=$?
	last=$(tr -d '\r' <"$tmp/out" | tail -n 1)
	if [ "$last" != "Test result: SUCCESS" ]; then
		ok=0 why="last line is '$last'"
	elif [ "$status" != "$want" ]; then
		ok=0 why="exit status $status, expected $want"
	fi
	report "$name" "$ok" "$why"
}
qemu_hvm qemu-serial-elf32 hvm-test "$H/serial.elf32"
qemu_hvm qemu-realmode-0x8000-elf32 lowload-test "$H/realmode.elf32"
objcopy --change-addresses 0x97000 "$H/realmode.elf32" "$tmp/over-ebda.elf" 2>/dev/null
expect hvm-load-over-firmware 125 '' 'overlaps the PC.s firmware area' \
	-- "$CAPSULE" run --mem 64 "$tmp/over-ebda.elf"
# Full ACPI (--acpi full): the PM timer's rate against the CMOS clock and the TSC, S5
# through PM1a_CNT (and through the sleep register of reduced ACPI), S3 and resume by the
# FACS waking vector with the CMOS alarm as the wake event; on QEMU's pc machine as well.
hvm hvm-acpi-pm-timer --mem 64 --acpi full "$H/pmtimer.elf"
expect hvm-acpi-pm-timer-reduced 3 'check failed: !\(flags & FADT_HW_REDUCED\)' '' \
	-- "$CAPSULE" run --mem 64 "$H/pmtimer.elf"
guest hvm-acpi-s5-full --mem 64 --acpi full "$H/poweroff.elf"
guest hvm-acpi-s5-reduced --mem 64 "$H/poweroff.elf32"
hvm hvm-acpi-s3-resume --mem 64 --acpi full "$H/suspend.elf"
expect hvm-acpi-s3-needs-full 3 'Test result: FAILURE' '' -- "$CAPSULE" run --mem 64 "$H/suspend.elf"
expect hvm-acpi-bad-profile 125 '' '--acpi expects full or reduced' \
	-- "$CAPSULE" run --acpi some "$H/serial.elf"
qemu_hvm qemu-pc-acpi-pm-timer "" "$H/pmtimer.elf32" -M pc
QWANT=0 qemu_hvm qemu-pc-acpi-s5 "" "$H/poweroff.elf32" -M pc
QWANT=0 qemu_hvm qemu-microvm-acpi-s5 "" "$H/poweroff.elf32"
qemu_hvm qemu-pc-acpi-s3-resume "" "$H/suspend.elf32" -M pc
# PCI (--virtio-pci): the host bridge, CF8 and ECAM, virtio-pci functions with their IDs,
# capabilities and BARs, virtio-blk driven with MSI-X (masking held in the PBA); on QEMU's
# q35 machine as well, with the same disk.
printf 'CAPSULE-PCI-DISK' >"$tmp/pci.img" && truncate -s 1M "$tmp/pci.img"
hvm hvm-pci-virtio-blk-msix --mem 64 --virtio-pci --disk "$tmp/pci.img" --rng \
	--cmdline "blk rng sectors=2048" "$H/pci.elf"
hvm hvm-pci-virtio-blk-intx --mem 64 --virtio-pci --disk "$tmp/pci.img" \
	--cmdline "blk sectors=2048 intx" "$H/pci.elf32"
hvm hvm-pci-full-acpi --mem 64 --acpi full --virtio-pci --rng --cmdline rng "$H/pci.elf32"
# The disk benchmark's kernel (bench/hvm_blk.c), one driver on both transports.
printf 'CAPSULE-BLKBENCH' >"$tmp/bb.img" && truncate -s 1M "$tmp/bb.img"
hvm hvm-blkbench-mmio --mem 64 --disk "$tmp/bb.img" --cmdline "mmio reqs=64 depth=8" "$H/blkbench.elf"
hvm hvm-blkbench-pci --mem 64 --virtio-pci --disk "$tmp/bb.img" --cmdline "pci reqs=64 depth=1" \
	"$H/blkbench.elf32"
expect hvm-pci-absent-without 3 'check failed: mcfg != NULL' '' \
	-- "$CAPSULE" run --mem 64 --rng --cmdline rng "$H/pci.elf"
qemu_hvm qemu-q35-pci-virtio-blk-msix "blk rng sectors=2048" "$H/pci.elf32" -M q35 \
	-drive file="$tmp/pci.img",if=none,id=d0,format=raw \
	-device virtio-blk-pci,drive=d0,disable-legacy=on -device virtio-rng-pci,disable-legacy=on
# CPU models (--cpu): hidden features (x2apic, with the APIC in xAPIC mode), the vendor, the
# topology; the host's CPUID without one; refusals; QEMU's -cpu shows the same binary the same.
cpu_want="-x2apic -cx16 -tsc-deadline +apic vendor=CapsuleVirt! threads=2 cpus=2"
hvm hvm-cpu-model --mem 64 --vcpus 2 --cpu host,-x2apic,-cx16,-tsc-deadline,vendor=CapsuleVirt!,threads=2 \
	--cmdline "$cpu_want" "$H/cpuid.elf"
hvm hvm-cpu-host --mem 64 --cmdline "+x2apic +cx16 +apic +hypervisor" "$H/cpuid.elf32"
expect hvm-cpu-model-shows 3 'check failed' '' \
	-- "$CAPSULE" run --mem 64 --vcpus 2 --cmdline "$cpu_want" "$H/cpuid.elf"
expect hvm-cpu-refuse-unsupported 125 '' 'this host cannot give the guest avx512f' \
	-- "$CAPSULE" run --mem 64 --cpu host,+avx512f "$H/cpuid.elf"
expect hvm-cpu-refuse-unknown 125 '' 'no CPU feature is called "warp"' \
	-- "$CAPSULE" run --mem 64 --cpu host,+warp "$H/cpuid.elf"
expect hvm-cpu-refuse-topology 125 '' '3 vCPUs are not whole cores of 2 threads' \
	-- "$CAPSULE" run --mem 64 --vcpus 3 --cpu host,threads=2 "$H/cpuid.elf"
# (-arch-capabilities: QEMU 7.2 aborts when the host's KVM refuses the IA32_ARCH_CAPABILITIES
# value it derives, as kvm_pvm on an AMD host does; the guest checks no bit of that MSR.)
qemu_hvm qemu-pc-cpu-model "$cpu_want" "$H/cpuid.elf32" -M pc \
	-cpu host,-x2apic,-cx16,-tsc-deadline,vendor=CapsuleVirt!,-arch-capabilities \
	-smp 2,cores=1,threads=2
# The MP table (for kernels without ACPI): every vCPU, the ISA bus, the IOAPIC, IRQ routes.
hvm hvm-mptable-1 --mem 64 --cmdline 1 "$H/mptable.elf"
hvm hvm-mptable-3 --mem 64 --vcpus 3 --cmdline 3 "$H/mptable.elf32"
qemu_hvm qemu-pc-mptable 1 "$H/mptable.elf32" -M pc
hvm hvm-virtio-interrupt --mem 64 --rng "$H/virtio_irq.elf"
hvm hvm-smp-2 --mem 64 --vcpus 2 --cmdline 2 "$H/smp.elf"
hvm hvm-smp-4 --mem 64 --vcpus 4 --cmdline 4 "$H/smp.elf"
hvm hvm-rtc --mem 64 --cmdline "$(date -u +%F)" "$H/rtc.elf"
expect hvm-reset 0 'pulsing the i8042 reset line' 'domain rebooted; on_reboot=destroy' \
	-- "$CAPSULE" run --mem 64 --no-reboot "$H/reset.elf"
expect hvm-debug-exit-code 3 'Test result: FAILURE' '' \
	-- "$CAPSULE" run --mem 64 --cmdline wrong "$H/serial.elf"
expect hvm-mem-too-small 125 '' 'needs at least --mem 16' -- "$CAPSULE" run --mem 8 "$H/serial.elf"
expect hvm-mem-too-big 125 '' 'is more than this host has' \
	-- "$CAPSULE" run --mem $(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 + 1024)) "$H/serial.elf"
# RAM above 4 GiB (--mem past 3072: the PCI hole from 3 to 4 GiB, the rest from 4 GiB): the
# multiboot and PVH maps, patterns at the start, middle and end of the high range, the hole
# not RAM; the same binary on QEMU's pc machine, which splits RAM at 3 GiB as well.
hvm hvm-highmem-multiboot --mem 4608 --cmdline "low=3072 high=1536 hole" "$H/highmem.elf"
hvm hvm-highmem-elf32 --mem 4608 --cmdline "low=3072 high=1536 hole" "$H/highmem.elf32"
hvm hvm-highmem-pvh --mem 3200 --cmdline "low=3072 high=128 hole pvh" "$H/highmem-pvh.elf"
QMEM=4608 qemu_hvm qemu-pc-highmem "low=3072 high=1536" "$H/highmem.elf32" -M pc
expect hvm-missing-initrd 125 '' 'cannot open /nonexistent.cpio' \
	-- "$CAPSULE" run --mem 64 --initrd /nonexistent.cpio "$H/serial.elf"
# The ACPI power button (docs/hvm.md): start the kernel with a control socket, wait until
# it waits, send each COMMAND ("shutdown 1") with capsule control, and judge how it ended by
# its status, its last line, and its stderr or the control replies ($tmp/replies).
# hvm_button NAME STATUS LAST_LINE_RE STDERR_RE CMDLINE COMMAND...
# (ACPI=full: the fixed power button of full ACPI instead of the GED.)
hvm_button() {
	local name=$1 want=$2 out_re=$3 err_re=$4 cmdline=$5 pid status ok=1 why=""
	shift 5
	rm -f "$tmp/pb.sock" "$tmp/replies"
	timeout -k 5 60 "$CAPSULE" run --mem 64 --acpi "${ACPI:-reduced}" \
		--control "$tmp/pb.sock" --cmdline "$cmdline" \
		"$H/powerbutton.elf" >"$tmp/out" 2>"$tmp/err" </dev/null &
	pid=$!
	for _ in $(seq 400); do grep -q '^powerbutton: waiting' "$tmp/out" && break; sleep 0.05; done
	for cmd in "$@"; do
		# shellcheck disable=SC2086 # a command and its argument
		timeout -k 5 20 "$CAPSULE" control "$tmp/pb.sock" $cmd >>"$tmp/replies" 2>&1
	done
	wait $pid
	status=$?
	if [ "$status" != "$want" ]; then
		ok=0 why="exit status $status, expected $want"
	elif ! tail -n 1 "$tmp/out" | grep -Eq -- "$out_re"; then
		ok=0 why="the last line of stdout does not match /$out_re/"
	elif ! cat "$tmp/err" "$tmp/replies" | grep -Eq -- "$err_re"; then
		ok=0 why="stderr and the replies do not match /$err_re/"
	fi
	report "$name" "$ok" "$why"
}
# The kernel sees the button, then powers off through ACPI S5: status 0.
hvm_button hvm-power-button 0 '^Test result: SUCCESS$' 'ok: asked the guest to power off' \
	press shutdown
ACPI=full hvm_button hvm-power-button-full-acpi 0 '^Test result: SUCCESS$' \
	'ok: asked the guest to power off' press shutdown
hvm_button hvm-power-button-ignored 124 '^powerbutton: waiting \(ignoring' \
	'did not shut down within 1 s of the request; destroying it' ignore reboot "shutdown 1"
# ... and the reboot asked for first was refused: ACPI has no reboot button.
grep -q 'error: an HVM domain cannot be asked to reboot' "$tmp/replies" &&
	report hvm-reboot-refused 1 "" || report hvm-reboot-refused 0 "no refusal of the reboot"

# --- crashes: reported with the reason and registers, exit status 126, VMM intact
crash() { # how stderr-pattern [extra args]
	local how=$1 re=$2
	shift 2
	expect "crash-$how" 126 "about to $how" "domain crashed: $re" \
		-- "$CAPSULE" run "$@" --cmdline "$how" "$G/crash.elf"
}
crash null '#PF \(page fault\) at rip=0x[0-9a-f]+ cr2=0x0 error=0x6 on vCPU 0'
crash div0 '#DE \(divide error\) at rip=0x[0-9a-f]+'
crash gdt '#PF \(page fault\) at rip=0x[0-9a-f]+ cr2=0x1000 error=0x7'
crash port '#GP \(general protection\)'
crash ud2 '#UD \(invalid opcode\)'
crash int3 '#BP \(breakpoint\)'
crash hlt '#GP \(general protection\)'
crash beyond '#PF \(page fault\) at rip=0x[0-9a-f]+ cr2=0x4400000'
crash mmio 'unhandled MMIO write at 0x4100000 \(4 bytes\)'
crash stack '#PF \(page fault\)'
crash secondary '#PF \(page fault\) at rip=0xdead0000 cr2=0xdead0000 error=0x14 on vCPU 1' --vcpus 2
crash guest 'the guest reported a crash \(code 7\)'
expect crash-registers 126 '' '^  rip=0{10}[0-9a-f]{6} rsp=' \
	-- "$CAPSULE" run --cmdline null "$G/crash.elf"
expect timeout 124 'spinning forever' 'domain timed out after 1 s and was destroyed' \
	-- "$CAPSULE" run --timeout 1 "$G/spin.elf"

# --- signals end the domain cleanly
"$CAPSULE" run "$G/spin.elf" >"$tmp/out" 2>"$tmp/err" &
pid=$!
sleep 0.3
kill -TERM $pid
wait $pid
status=$?
if [ $status = 143 ] && grep -q 'Terminated received, domain destroyed' "$tmp/err"; then
	report sigterm 1 ""
else
	report sigterm 0 "exit status $status"
fi

# --- the command line and bad images: one clear line, status 125
printf 'just text\n' >"$tmp/text.img"
head -c 3000 "$E/hello.elf" >"$tmp/truncated.elf"
python3 -c "import sys; d=bytearray(open(sys.argv[1],'rb').read()); d[18]=0xb7; open(sys.argv[2],'wb').write(d)" \
	"$E/hello.elf" "$tmp/arm64.elf"
expect help 0 'usage: capsule' '' -- "$CAPSULE" --help
expect version 0 '^capsule [0-9]+\.[0-9]+\.[0-9]+$' '' -- "$CAPSULE" --version
expect run-help 0 'usage: capsule run' '' -- "$CAPSULE" run --help
expect no-command 125 '' 'usage: capsule' -- "$CAPSULE"
expect bad-command 125 '' "unknown command 'frobnicate'" -- "$CAPSULE" frobnicate
expect no-image 125 '' 'no image given' -- "$CAPSULE" run
expect two-images 125 '' 'more than one image' -- "$CAPSULE" run a b
expect bad-option 125 '' "unknown or incomplete option '--bogus'" -- "$CAPSULE" run --bogus x
expect missing-image 125 '' 'cannot open /nonexistent.elf: No such file' \
	-- "$CAPSULE" run /nonexistent.elf
expect text-image 125 '' 'not an ELF file' -- "$CAPSULE" run "$tmp/text.img"
expect dynamic-elf 125 '' 'not a static executable' -- "$CAPSULE" run /bin/true
expect truncated-elf 125 '' 'beyond the end of the file' -- "$CAPSULE" run "$tmp/truncated.elf"
expect other-machine-elf 125 '' 'ELF machine is 183, not x86-64' -- "$CAPSULE" run "$tmp/arm64.elf"
expect mem-too-small 125 '' '--mem expects a number from 4 to' -- "$CAPSULE" run --mem 1 x
expect mem-not-number 125 '' "--mem expects a number .* got '12abc'" \
	-- "$CAPSULE" run --mem 12abc x
expect mem-more-than-host 125 '' 'is more than this host has' \
	-- "$CAPSULE" run --mem 60000 "$E/hello.elf"
expect vcpus-zero 125 '' '--vcpus expects a number from 1 to 64' -- "$CAPSULE" run --vcpus 0 x
expect vcpus-too-many 125 '' '--vcpus expects' -- "$CAPSULE" run --vcpus 65 x
expect wss-period-too-short 125 '' "--wss-period expects a number from 50 to 60000, got '10'" \
	-- "$CAPSULE" run --wss-period 10 x
expect wss-period-not-number 125 '' "--wss-period expects a number .* got '1s'" \
	-- "$CAPSULE" run --wss-period 1s x
expect wss-sample-too-many 125 '' "--wss-sample expects a number from 0 to 65536, got '65537'" \
	-- "$CAPSULE" run --wss-sample 65537 x
if command -v unshare >/dev/null && unshare -m true 2>/dev/null; then
	expect no-kvm 125 '' 'cannot open /dev/kvm: it does not exist' \
		-- unshare -m sh -c "mount -t tmpfs none /dev && exec $CAPSULE run $E/hello.elf"
fi
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	cp "$CAPSULE" "$E/hello.elf" "$tmp/" && chmod 755 "$tmp" "$tmp/capsule"
	chmod 644 "$tmp/hello.elf"
	expect kvm-permission 125 '' 'cannot open /dev/kvm: permission denied' \
		-- setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/capsule" run "$tmp/hello.elf"
fi

# A Python suite (NAME SCRIPT): its PASS and FAIL lines count here, and it must end with
# "N passed, 0 failed".
py_suite() {
	local out="$tmp/suite-$1.out" done='^[0-9]* passed, 0 failed$'
	timeout -k 5 300 python3 "$2" "$BUILD" >"$out" 2>&1
	grep -E '^(PASS|FAIL|SKIP)' "$out"
	passed=$((passed + $(grep -c '^PASS' "$out")))
	failed=$((failed + $(grep -c '^FAIL' "$out")))
	grep -q "$done" "$out" || report "$1-suite-completes" 0 "$(tail -n 5 "$out")"
}

# --- the per-domain REST API with a real HTTP client (tests/integration/api.py)
py_suite api tests/integration/api.py

# --- the GDB stub with Debian's gdb and a raw protocol client (tests/integration/gdb.py)
py_suite gdb tests/integration/gdb.py

# --- introspection and the intrusion-detection example (tests/integration/introspect.py)
py_suite introspect tests/integration/introspect.py

# --- snapshots of real domains (tests/integration/snapshot.py)
py_suite snapshot tests/integration/snapshot.py
# --- working-set prefetch of a restore (tests/integration/workingset.py)
py_suite workingset tests/integration/workingset.py

# --- the sampled write working set (tests/integration/wss.py)
py_suite wss tests/integration/wss.py

# --- diff snapshots and their merge (tests/integration/snapshot_diff.py)
py_suite snapshot-diff tests/integration/snapshot_diff.py

# --- snapshots and migrations of a domain that is ending (tests/integration/teardown.py)
py_suite teardown tests/integration/teardown.py

# --- live migration between two network namespaces (tests/integration/migrate.py)
py_suite migrate tests/integration/migrate.py

# --- every source file says its licence (LICENSE: Apache-2.0)
missing=$(git ls-files '*.c' '*.h' '*.S' '*.ld' '*.sh' '*.py' '*.js' '*.mjs' '*.css' '*.html' \
	Makefile 2>/dev/null |
	while read -r f; do head -n 3 "$f" | grep -q 'SPDX-License-Identifier: Apache-2.0' || echo "$f"; done)
[ -z "$missing" ] && [ -f LICENSE ] && report spdx-in-every-source-file 1 "" ||
	report spdx-in-every-source-file 0 "no SPDX line: $(echo $missing | head -c 300)"

# --- hostile guests, clients and faults
. tests/integration/hostile.sh

printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
