#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The jailer (docs/jailer.md) on real domains: what a jailed VMM is (namespaces, root,
# uid/gid, capabilities, no_new_privs, limits, cgroup), that it cannot reach the host's
# files or see its processes, that signals and deaths cross the jail's wall, bad options
# refused by name, and a representative part of the integration suite run jailed (PV
# guests, SMP, timers, events, disks, rng, the API, TAP in a network namespace, a
# snapshot saved and restored). Ends with "N passed, N failed".
#
#     tests/integration/jail.sh BUILD
set -u
BUILD=${1:-build}
CAPSULE=$BUILD/capsule
G=$BUILD/tests/guests
E=$BUILD/guest
tmp=$(mktemp -d /tmp/capsule-jail-test.XXXXXX)
chmod 0755 "$tmp"
JUID=64123 JGID=64124
# A sanitizer build: the leak checker cannot stop a jailed VMM's threads at its exit (it
# reads /proc/1/task and ptraces them from a helper, which the uid change and the jail's
# /proc refuse), so it is off here; the address and undefined-behaviour checks stay on.
"$CAPSULE" --version | grep -q 'sanitizer build' && export ASAN_OPTIONS=detect_leaks=0
cg=/sys/fs/cgroup/unified/capsule-jail-test-$$
ns=capsule-jail-test-$$
cleanup() {
	for p in $(jobs -p); do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rmdir "$cg" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
passed=0 failed=0

report() { # name ok why
	if [ "$2" = 1 ]; then
		passed=$((passed + 1))
		printf 'PASS jail-%s\n' "$1"
	else
		failed=$((failed + 1))
		printf 'FAIL jail-%s: %s\n' "$1" "$3"
		[ -f "$tmp/out" ] && sed 's/^/  out| /' "$tmp/out" | tail -n 10
	fi
}

# The jailed VMM among PID's descendants (a subshell, timeout, capsule, then it).
jailed_below() {
	local p=$1
	for _ in 1 2 3 4 5; do
		p=$(pgrep -P "$p" | head -n 1)
		[ -n "$p" ] || return
		grep -q '^NSpid:.*[[:space:]]1$' "/proc/$p/status" 2>/dev/null && { echo "$p"; return; }
	done
}
# A fresh jail directory each time, as a manager makes one per domain.
newjail() { mktemp -d "$tmp/jail.XXXXXX"; }
jrun() { timeout -k 5 120 "$CAPSULE" run --jail "$(newjail)" --uid $JUID --gid $JGID "$@"; }

# expect NAME STATUS OUT_RE -- ARGS...: stdout and stderr together must match OUT_RE.
expect() {
	local name=$1 want=$2 re=$3 status
	shift 4
	"$@" >"$tmp/out" 2>&1 </dev/null
	status=$?
	if [ "$status" != "$want" ]; then
		report "$name" 0 "exit status $status, expected $want"
	elif ! grep -Eq -- "$re" "$tmp/out"; then
		report "$name" 0 "output does not match /$re/"
	else
		report "$name" 1 ""
	fi
}
guest() { # NAME ARGS...: a jailed test guest ends with SUCCESS and status 0
	local name=$1 status last
	shift
	jrun "$@" >"$tmp/out" 2>&1 </dev/null
	status=$?
	last=$(grep -a 'Test result' "$tmp/out" | tail -n 1)
	[ "$status" = 0 ] && [ "$last" = "Test result: SUCCESS" ] && report "$name" 1 "" ||
		report "$name" 0 "status $status, '$last'"
}

# --- a jailed VMM as the host sees it
mkdir "$cg" 2>/dev/null || cg=""
j=$(newjail)
"$CAPSULE" run --jail "$j" --uid $JUID --gid $JGID ${cg:+--jail-cgroup "$cg"} --name jailed \
	--api-sock "$tmp/api.sock" "$G/ticker.elf" >"$tmp/ticker.out" 2>&1 &
outer=$!
inner=""
for _ in $(seq 200); do
	inner=$(pgrep -P $outer | head -n 1)
	[ -n "$inner" ] && grep -q '^NoNewPrivs:.1' "/proc/$inner/status" 2>/dev/null && break
	sleep 0.05
done
st() { awk -v k="$1:" '$1 == k {$1 = ""; print substr($0, 2)}' "/proc/$inner/status"; }
if [ -z "$inner" ] || [ ! -d "/proc/$inner" ]; then
	report jailed-process 0 "no jailed child of pid $outer"
	cat "$tmp/ticker.out"
else
	[ "$(st CapEff)" = 0000000000000000 ] && [ "$(st CapPrm)" = 0000000000000000 ] &&
		[ "$(st CapBnd)" = 0000000000000000 ] && [ "$(st CapAmb)" = 0000000000000000 ] &&
		report capabilities-none 1 "" ||
		report capabilities-none 0 "CapEff $(st CapEff) CapPrm $(st CapPrm) CapBnd $(st CapBnd)"
	ost() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$outer/status"; }
	[ "$(ost CapEff)" = 0000000000000020 ] && [ "$(ost CapBnd)" = 0000000000000020 ] &&
		[ "$(ost NoNewPrivs)" = 1 ] && report parent-keeps-only-cap-kill 1 "" ||
		report parent-keeps-only-cap-kill 0 "outside: CapEff $(ost CapEff) CapBnd $(ost CapBnd)"
	[ "$(st NoNewPrivs)" = 1 ] && report no-new-privs 1 "" ||
		report no-new-privs 0 "NoNewPrivs $(st NoNewPrivs)"
	read -r -a uids <<<"$(st Uid)"
	read -r -a gids <<<"$(st Gid)"
	[ "${uids[*]}" = "$JUID $JUID $JUID $JUID" ] && [ "${gids[*]}" = "$JGID $JGID $JGID $JGID" ] &&
		[ -z "$(st Groups)" ] && report uid-gid 1 "" ||
		report uid-gid 0 "Uid ${uids[*]}, Gid ${gids[*]}, Groups '$(st Groups)'"
	# Its own PID namespace, where it is process 1 and alone.
	read -r -a nspid <<<"$(st NSpid)"
	seen=$(ls "/proc/$inner/root/proc" | grep -E '^[0-9]+$' | tr '\n' ' ')
	[ "${nspid[1]:-}" = 1 ] && [ "$seen" = "1 " ] && report pid-namespace-alone 1 "" ||
		report pid-namespace-alone 0 "NSpid ${nspid[*]}, its /proc lists '$seen'"
	for n in mnt pid ipc uts; do
		[ "$(readlink "/proc/$inner/ns/$n")" != "$(readlink /proc/self/ns/$n)" ] ||
			{ report namespaces 0 "shares the host's $n namespace"; n=fail; break; }
	done
	[ "$n" != fail ] && report namespaces 1 ""
	[ "$(nsenter -t "$inner" -u hostname)" = jailed ] && report uts-hostname 1 "" ||
		report uts-hostname 0 "hostname '$(nsenter -t "$inner" -u hostname)'"
	# Its root is the jail: the image bound at its path, /dev with the nodes, /proc; no
	# host file (passwd, the build tree's other files, the test's own files) is there.
	r=/proc/$inner/root
	img=$(realpath "$G/ticker.elf")
	top=$(ls -A "$r" | tr '\n' ' ')
	devs=$(cd "$r/dev" && find . -mindepth 1 | sort | tr '\n' ' ')
	if [ ! -e "$r/etc/passwd" ] && [ ! -e "$r$tmp/api.sock" ] && [ -f "$r$img" ] &&
		[ ! -e "$r$(realpath "$G")/timer.elf" ] && [ ! -e "$r/bin" ] &&
		[ "$devs" = "./kvm ./net ./net/tun ./null ./urandom ./userfaultfd " ]; then
		report root-holds-only-its-files 1 ""
	else
		report root-holds-only-its-files 0 "top: $top; dev: $devs"
	fi
	[ "$(stat -c %u:%g "$r/dev/kvm")" = "$JUID:$JGID" ] && [ "$(stat -c %a "$r/dev/kvm")" = 600 ] &&
		report dev-kvm-owned 1 "" || report dev-kvm-owned 0 "$(stat -c '%u:%g %a' "$r/dev/kvm")"
	lim=$(awk '/^Max open files/ {print "nofile", $4} /^Max locked memory/ {print "memlock", $4}
		/^Max core file size/ {print "core", $5}' "/proc/$inner/limits" | tr '\n' ' ')
	[ "$lim" = "core 0 nofile 1024 memlock 65536 " ] && report rlimits 1 "" || report rlimits 0 "core, memlock, nofile: $lim"
	if [ -n "$cg" ]; then
		grep -qx "0::/${cg#/sys/fs/cgroup/unified/}" "/proc/$inner/cgroup" &&
			grep -qx "$inner" "$cg/cgroup.procs" && report cgroup 1 "" ||
			report cgroup 0 "$(grep '^0::' "/proc/$inner/cgroup")"
	else
		report cgroup 0 "cannot make a cgroup under /sys/fs/cgroup/unified"
	fi
	# The API socket was bound on the host's side: a client outside reaches the VMM.
	"$CAPSULE" control "$tmp/api.sock" info >"$tmp/out" 2>&1 &&
		grep -q '"state": *"running"' "$tmp/out" && report api-from-outside 1 "" ||
		report api-from-outside 0 "$(head -c 300 "$tmp/out")"
	# SIGTERM to the pid a manager knows reaches the jailed VMM; it ends cleanly.
	kill -TERM $outer
	wait $outer
	status=$?
	[ $status = 143 ] && grep -q 'Terminated received, domain destroyed' "$tmp/ticker.out" &&
		report signal-forwarded 1 "" || report signal-forwarded 0 "status $status"
	# Its API socket, bound on the host's side, goes when it ends.
	[ ! -e "$tmp/api.sock" ] && report api-socket-removed 1 "" ||
		report api-socket-removed 0 "$(ls -l "$tmp/api.sock"*)"
fi
# A kill -9 of the outer process takes the jailed VMM with it.
"$CAPSULE" run --jail "$(newjail)" --uid $JUID --gid $JGID "$G/ticker.elf" >/dev/null 2>&1 &
outer=$!
for _ in $(seq 200); do inner=$(pgrep -P $outer | head -n 1); [ -n "$inner" ] && break; sleep 0.05; done
sleep 0.2
{ kill -KILL $outer; wait $outer; } 2>/dev/null
for _ in $(seq 100); do [ -d "/proc/$inner" ] || break; sleep 0.05; done
[ -n "$inner" ] && [ ! -d "/proc/$inner" ] && report dies-with-its-parent 1 "" ||
	report dies-with-its-parent 0 "jailed pid '$inner' outlived its parent"

# The host's side of the jail directory is left as it was: the jail's root is a tmpfs over
# it in the VMM's namespace.
j=$(newjail)
touch "$j/mine"
"$CAPSULE" run --jail "$j" --uid $JUID --gid $JGID "$E/hello.elf" >"$tmp/out" 2>&1
[ "$(ls -A "$j")" = mine ] && report jail-dir-untouched 1 "" ||
	report jail-dir-untouched 0 "left: $(ls -A "$j" | tr '\n' ' ')"

# --- bad options, each refused by name (exit 125, before anything runs)
expect no-uid 125 'jail: --jail needs --uid and --gid' -- "$CAPSULE" run --jail "$(newjail)" "$E/hello.elf"
expect uid-0 125 'jail: --uid 0 or --gid 0' -- "$CAPSULE" run --jail "$(newjail)" --uid 0 --gid 0 "$E/hello.elf"
expect missing-dir 125 'jail: --jail /nonexistent-capsule-jail: No such file or directory' \
	-- "$CAPSULE" run --jail /nonexistent-capsule-jail --uid $JUID --gid $JGID "$E/hello.elf"
expect not-a-directory 125 'jail: --jail .*hello.elf: not a directory' \
	-- "$CAPSULE" run --jail "$(realpath "$E/hello.elf")" --uid $JUID --gid $JGID "$E/hello.elf"
ln -s "$(newjail)" "$tmp/link"
expect symlink-dir 125 'not a directory \(a symbolic link\)' \
	-- "$CAPSULE" run --jail "$tmp/link" --uid $JUID --gid $JGID "$E/hello.elf"
expect relative-dir 125 'jail: --jail x: give an absolute path' \
	-- "$CAPSULE" run --jail x --uid $JUID --gid $JGID "$E/hello.elf"
expect root-dir 125 'the host.s root is no jail' -- "$CAPSULE" run --jail / --uid $JUID --gid $JGID "$E/hello.elf"
expect uid-without-jail 125 'need --jail DIR' -- "$CAPSULE" run --uid $JUID "$E/hello.elf"
expect bad-uid 125 '--uid expects a number' -- "$CAPSULE" run --jail "$(newjail)" --uid x --gid 1 "$E/hello.elf"
# A file that is not there is not bound: the jailed VMM says what an unjailed one says.
expect missing-disk 125 '--disk: cannot open /nonexistent-capsule-disk.img: No such file or directory' \
	-- jrun --disk /nonexistent-capsule-disk.img "$E/hello.elf"
expect dotdot-disk 125 "jail: file .*/\.\./.*: a path with '\.\.' cannot be bound" \
	-- jrun --disk "$tmp/../$(basename "$tmp")/x.img" "$E/hello.elf"
expect missing-netns 125 'jail: --jail-netns /run/netns/capsule-none-jail: No such file' \
	-- jrun --jail-netns /run/netns/capsule-none-jail "$E/hello.elf"
expect missing-cgroup 125 'jail: --jail-cgroup /nonexistent-cg: No such file' \
	-- jrun --jail-cgroup /nonexistent-cg "$E/hello.elf"
# --- the integration suite's domains, jailed
expect hello 0 '^Hello from a Capsule PV domain: 128 MiB, 2 vCPU\(s\), cmdline "a b=c"$' \
	-- jrun --mem 128 --vcpus 2 --cmdline "a b=c" "$E/hello.elf"
guest abi --mem 96 --vcpus 2 --cmdline "abi test cmdline" "$G/abi.elf"
guest smp-8 --vcpus 8 "$G/smp.elf"
guest timer "$G/timer.elf"
guest events --vcpus 2 "$G/events.elf"
guest hostile-hypercalls "$G/hostile.elf"
expect exit-code 42 'cmdline "42"' -- jrun --cmdline 42 "$G/exitcode.elf"
expect reboot-restarts 124 'domain rebooted; restarting it' -- jrun --timeout 1 --cmdline reboot "$G/exitcode.elf"
guest vrng --rng "$G/vrng.elf"
D=tests/integration
"$D/disk.py" make "$tmp/disk.img"
guest vblk-rw --disk "$tmp/disk.img,serial=capsule-test" "$G/vblk.elf"
expect vblk-rw-file 0 '0 sectors differ' -- "$D/disk.py" check "$tmp/disk.img" rw
"$D/disk.py" make "$tmp/disk.img"
expect vblk-readonly 0 'read-only disk refused a write' \
	-- jrun --disk "$tmp/disk.img,readonly,serial=capsule-test" --cmdline ro "$G/vblk.elf"
expect vblk-readonly-file 0 '0 sectors differ' -- "$D/disk.py" check "$tmp/disk.img" ro
# A block device as a disk: bound into the jail's /dev (a loop device over the image).
"$D/disk.py" make "$tmp/disk.img"
if loop=$(losetup -f --show "$tmp/disk.img" 2>/dev/null); then
	guest vblk-block-device --disk "$loop,serial=capsule-test" "$G/vblk.elf"
	losetup -d "$loop"
	expect vblk-block-device-file 0 '0 sectors differ' -- "$D/disk.py" check "$tmp/disk.img" rw
else
	report vblk-block-device 0 "cannot make a loop device"
fi
expect consin 0 'HELLO CAPSULE' -- sh -c "printf 'hello capsule\nquit\n' | timeout -k 5 60 $CAPSULE run --jail $(newjail) --uid $JUID --gid $JGID $G/consin.elf"
# virtio-net: the TAP made inside the network namespace the jail joins.
if ip netns add "$ns" 2>/dev/null; then
	ip -n "$ns" link set lo up
	jrun --jail-netns "/run/netns/$ns" --net tap=cap0,mac=52:54:00:12:34:56 \
		--cmdline "192.0.2.2 192.0.2.1" "$G/vnet.elf" >"$tmp/net.out" 2>&1 &
	pid=$!
	expect vnet-peer 0 'udp: 200/200 echoed intact' \
		-- ip netns exec "$ns" python3 "$D/net_peer.py" cap0 192.0.2.1 192.0.2.2
	wait $pid
	status=$?
	[ $status = 0 ] && grep -q 'echoed 200 datagrams' "$tmp/net.out" && report vnet-guest 1 "" ||
		report vnet-guest 0 "status $status: $(tail -n 3 "$tmp/net.out")"
else
	report vnet 0 "cannot create a network namespace"
fi
# A snapshot of a jailed VMM, restored by a second jailed VMM: the client makes the files
# outside and hands the VMM their descriptors, so no path of them is in the jail.
mkdir -m 0700 "$tmp/snaps"
"$D/disk.py" make "$tmp/snap.img"
jrun --api-sock "$tmp/s.sock" --vcpus 2 --disk "$tmp/snap.img" \
	"$G/vsnap.elf" >"$tmp/vsnap.out" 2>&1 &
pid=$!
for _ in $(seq 200); do grep -q 'vsnap: tick' "$tmp/vsnap.out" && break; sleep 0.05; done
inner=$(jailed_below $pid)
[ -n "$inner" ] && [ -d "/proc/$inner/root/dev" ] && [ ! -e "/proc/$inner/root$tmp/snaps" ] &&
	hidden=1 || hidden=0
"$CAPSULE" control "$tmp/s.sock" save "$tmp/snaps/s1" >"$tmp/out" 2>&1
rc=$?
wait $pid
[ $rc = 0 ] && [ -s "$tmp/snaps/s1/memory" ] && [ -s "$tmp/snaps/s1/state" ] &&
	[ $hidden = 1 ] && report snapshot-save 1 "" ||
	report snapshot-save 0 "rc $rc: $(ls -ln "$tmp/snaps/s1")"
timeout -k 5 30 "$CAPSULE" run --jail "$(newjail)" --uid $JUID --gid $JGID --timeout 2 \
	--restore "$tmp/snaps/s1" >"$tmp/out" 2>&1 </dev/null
status=$?
grep -q 'vsnap: tick' "$tmp/out" && [ $status = 124 ] && report snapshot-restore 1 "" ||
	report snapshot-restore 0 "status $status"

# --- capsuled --jail-uid: every VMM jailed in its domain's directory, each with a uid of
# its own from a block capsuled reserves in its state directory
ds=$tmp/daemon
mkdir "$ds"
startd() {
	timeout -s KILL 120 "$BUILD/capsuled" --foreground --socket "$ds/s" --state-dir "$ds/st" \
		--jail-uid 73000 >>"$ds/log" 2>&1 &
	dpid=$!
	for _ in $(seq 200); do [ -S "$ds/s" ] && break; sleep 0.05; done
}
jailed_of() { # NAME: "uid pid-of-the-jailed-VMM uuid"
	local info outer uuid
	info=$(CAPSULE_SOCKET=$ds/s "$CAPSULE" info --json "$1")
	read -r outer uuid <<<"$(python3 -c 'import json, sys; d = json.load(sys.stdin)
print(d["pid"], d["uuid"])' <<<"$info")"
	inner=$(pgrep -P "$outer" | head -n 1)
	echo "$(awk '$1 == "Uid:" {print $2}' "/proc/$inner/status" 2>/dev/null) $inner $uuid"
}
startd
"$D/disk.py" make "$tmp/disk.img"
printf '{"name": "j1", "kernel": "%s", "memory": 16, "disk": [{"path": "%s"}]}\n' \
	"$(realpath "$G/ticker.elf")" "$tmp/disk.img" >"$ds/j1.json"
printf '{"name": "j2", "kernel": "%s", "memory": 16}\n' "$(realpath "$G/ticker.elf")" >"$ds/j2.json"
if CAPSULE_SOCKET=$ds/s "$CAPSULE" create "$ds/j1.json" >"$tmp/out" 2>&1 &&
	CAPSULE_SOCKET=$ds/s "$CAPSULE" create "$ds/j2.json" >>"$tmp/out" 2>&1; then
	read -r u1 inner uuid <<<"$(jailed_of j1)"
	read -r u2 i2 _ <<<"$(jailed_of j2)"
	sts() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$inner/status"; }
	[ -n "$inner" ] && [ "$(sts Gid)" = "$u1" ] && [ "$u1" -ge 73000 ] && [ "$u1" -lt 138536 ] &&
		[ -n "$u2" ] && [ "$u2" != "$u1" ] && [ "$(sts CapEff)" = 0000000000000000 ] &&
		[ "$(sts NoNewPrivs)" = 1 ] && [ -e "/proc/$inner/root$tmp/disk.img" ] &&
		[ ! -e "/proc/$inner/root$ds/st" ] && [ "$(cat "$ds/st/jail-next")" = 65536 ] &&
		report capsuled-jails-its-vmms 1 "" ||
		report capsuled-jails-its-vmms 0 "j1 uid '$u1' pid '$inner', j2 uid '$u2'"
	sleep 0.3
	CAPSULE_SOCKET=$ds/s timeout 5 "$CAPSULE" console j1 </dev/null >"$tmp/out" 2>&1
	grep -q '^tick [0-9]' "$tmp/out" && report capsuled-jailed-console 1 "" ||
		report capsuled-jailed-console 0 "$(head -c 200 "$tmp/out")"
	CAPSULE_SOCKET=$ds/s "$CAPSULE" destroy j1 >/dev/null 2>&1
	for _ in $(seq 100); do [ -d "/proc/$inner" ] || break; sleep 0.05; done
	[ ! -d "/proc/$inner" ] && [ ! -e "$ds/st/domains/$uuid" ] &&
		report capsuled-jailed-destroy 1 "" ||
		report capsuled-jailed-destroy 0 "$(ls -R "$ds/st/domains" | head -n 5)"
	# A new capsuled on the same state takes the next block: j2 (running on) keeps its
	# uid, and a new domain's differs from every earlier one.
	kill $dpid 2>/dev/null
	wait $dpid 2>/dev/null
	rm -f "$ds/s"
	startd
	CAPSULE_SOCKET=$ds/s "$CAPSULE" create "$ds/j1.json" >"$tmp/out" 2>&1
	read -r u3 _ _ <<<"$(jailed_of j1)"
	[ "$(cat "$ds/st/jail-next")" = 131072 ] && [ "$u3" -ge 138536 ] && [ "$u3" != "$u2" ] &&
		report capsuled-jail-uids-not-reused 1 "" ||
		report capsuled-jail-uids-not-reused 0 "after a restart: uid '$u3' (j2 has $u2)"
	CAPSULE_SOCKET=$ds/s "$CAPSULE" destroy j1 >/dev/null 2>&1
	CAPSULE_SOCKET=$ds/s "$CAPSULE" destroy j2 >/dev/null 2>&1
else
	report capsuled-jails-its-vmms 0 "create: $(cat "$tmp/out") $(tail -n 3 "$ds/log")"
fi
kill $dpid 2>/dev/null
wait $dpid 2>/dev/null
expect capsuled-bad-jail-uid 2 'jail-uid expects a uid from 1' -- "$BUILD/capsuled" --jail-uid 0

printf 'jail: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
