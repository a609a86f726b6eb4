# SPDX-License-Identifier: Apache-2.0
# Hostile guests, clients and faults (sourced by run.sh: uses its helpers and counters).
# One block per finding of the hostile-findings issue; each fails on the code before the fix.

# --- 1. A PV guest asks its devices to write its VMM-owned pages (IDT, TSS, page tables)
# and then traps: Capsule's own exception stub must report the trap (had the attack worked,
# the guest's handler would power off with 99).
D=tests/integration
for attack in blk-idt rng-pt ring-idt balloon-idt; do
	"$D/disk.py" make "$tmp/attack.img"
	expect "vmm-pages-$attack" 126 "$attack: (refused|frames handed over)" \
		'domain crashed: #UD \(invalid opcode\)' \
		-- "$CAPSULE" run --disk "$tmp/attack.img" --rng --balloon 0 --cmdline "$attack" \
		"$G/vattack.elf"
done
"$D/disk.py" make "$tmp/attack.img"
expect vmm-pages-blk-tss 126 'blk-tss: refused' 'domain crashed: #GP \(general protection\)' \
	-- "$CAPSULE" run --disk "$tmp/attack.img" --cmdline blk-tss "$G/vattack.elf"

# --- 2. Guest-sized work never holds up the end of a domain.
expect rng-flood-poweroff 0 'powering off' '' \
	-- timeout -k 5 30 "$CAPSULE" run --mem 256 --rng --cmdline rng-flood "$G/vbig.elf"
expect rng-flood-timeout 124 'spinning' 'timed out after 2 s' \
	-- timeout -k 5 30 "$CAPSULE" run --mem 256 --rng --timeout 2 --cmdline rng-flood-spin \
	"$G/vbig.elf"
"$CAPSULE" run --mem 256 --rng --cmdline rng-flood-spin "$G/vbig.elf" >"$tmp/flood.out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q spinning "$tmp/flood.out" && break; sleep 0.05; done
kill -TERM $pid
status=124
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || { wait $pid; status=$?; break; }; sleep 0.05; done
kill -KILL $pid 2>/dev/null
[ "$status" = 143 ] && report rng-flood-sigterm 1 "" ||
	report rng-flood-sigterm 0 "still running 5 s after SIGTERM (status $status)"
result 0 rng-partial-fill --rng --cmdline rng-partial "$G/vbig.elf"
# Whoever reads the console stops reading: --timeout still ends the domain on time.
bash -c "( s=\$(date +%s%N); $CAPSULE run --virtio-console --timeout 2 --cmdline cons-flood \
	$G/vbig.elf </dev/null >/dev/stdout; echo \"rc=\$? ms=\$(( (\$(date +%s%N) - s) / 1000000 ))\" >&2 ) |
	sleep 8" 2>"$tmp/err"
ms=$(sed -n 's/^rc=124 ms=\([0-9]*\)$/\1/p' "$tmp/err")
[ -n "$ms" ] && [ "$ms" -lt 6000 ] && report console-stalled-reader-timeout 1 "" ||
	report console-stalled-reader-timeout 0 "$(tail -n 2 "$tmp/err")"

# --- 3. virtio-blk: requests over seg_max/size_max fail, the largest allowed one lands
# whole, and a write the host cuts short is an error, not a success.
# A sparse 8 GiB image: the 6 GiB write of 246 overlapping segments fits the disk, so only
# the request limits can refuse it.
rm -f "$tmp/big.img"
truncate -s 8G "$tmp/big.img"
result 0 blk-limits --mem 128 --disk "$tmp/big.img" --cmdline blk-limits "$G/vbig.elf"
python3 - "$tmp/big.img" >"$tmp/out" 2>&1 <<'EOF'
import sys
chunk = bytes(((i * 7 + i // 4096) & 0xFF) for i in range(128 << 10))
d = open(sys.argv[1], "rb").read(17 << 20)
seg = [d[4096 + k * len(chunk):4096 + (k + 1) * len(chunk)] == chunk for k in range(126)]
print("blk-limits: %d of 126 segments on the image" % sum(seg))
sys.exit(0 if all(seg) and d[:4096] == bytes(4096) else 1)
EOF
[ $? = 0 ] && report blk-largest-request-whole 1 "" ||
	report blk-largest-request-whole 0 "$(cat "$tmp/out")"
# A host file system with 1100 KiB for a 4 MiB sparse image (its own mount namespace):
# the ninth 128 KiB write is cut short after 76 KiB.
mkdir -p "$tmp/small"
timeout -k 5 60 unshare -m sh -c "mount -t tmpfs -o size=1100k none $tmp/small &&
	truncate -s 4M $tmp/small/disk.img &&
	$CAPSULE run --disk $tmp/small/disk.img --cmdline blk-enospc $G/vbig.elf &&
	cp --sparse=always $tmp/small/disk.img $tmp/enospc.img" >"$tmp/out" 2>"$tmp/err" </dev/null
status=$?
n=$(sed -n 's/^blk-enospc: \([0-9]*\) chunks.*/\1/p' "$tmp/out")
python3 - "$tmp/enospc.img" "${n:-0}" >>"$tmp/out" 2>&1 <<'EOF'
import sys
chunk = bytes(((i * 7 + i // 4096) & 0xFF) for i in range(128 << 10))
d, n = open(sys.argv[1], "rb").read(), int(sys.argv[2])
good = sum(d[k * len(chunk):(k + 1) * len(chunk)] == chunk for k in range(n))
print("blk-enospc: %d of %d acknowledged chunks on the image" % (good, n))
sys.exit(0 if n > 0 and good == n else 1)
EOF
[ $? = 0 ] && [ $status = 0 ] && grep -q 'Test result: SUCCESS' "$tmp/out" &&
	report blk-short-write-is-error 1 "" ||
	report blk-short-write-is-error 0 "exit status $status: $(cat "$tmp/out" "$tmp/err")"

# --- 4. Pause and resume in a loop while 63 vCPUs go down: every pause answers.
"$CAPSULE" run --vcpus 64 --control "$tmp/ctl-down" "$G/downer.elf" >"$tmp/down.out" 2>&1 &
pid=$!
ok=1 why="" rounds=0
for _ in $(seq 100); do [ -S "$tmp/ctl-down" ] && break; sleep 0.02; done
while kill -0 $pid 2>/dev/null && [ $rounds -lt 1000 ]; do
	out=$(timeout -k 2 10 "$CAPSULE" control "$tmp/ctl-down" pause 2>&1)
	s=$?
	if [ $s = 124 ] || [ $s = 137 ]; then ok=0 why="pause hung (round $rounds)"; break; fi
	case "$out" in "ok: paused"*) timeout -k 2 10 "$CAPSULE" control "$tmp/ctl-down" resume \
		>/dev/null 2>&1 || { kill -0 $pid 2>/dev/null && { ok=0 why="resume failed"; break; }; } ;; esac
	rounds=$((rounds + 1))
done
kill -KILL $pid 2>/dev/null
wait $pid
status=$?
[ $ok = 1 ] && [ $status = 0 ] && grep -q 'all 63 secondary vCPUs went down' "$tmp/down.out" ||
	{ ok=0 why="${why:-exit status $status}"; }
echo "pause-while-vcpus-go-down: $rounds pause/resume rounds"
report pause-while-vcpus-go-down "$ok" "$why"

# --- 5. The seccomp filter holds under load: restart_syscall after SIGSTOP/SIGCONT, and
# the data-safety test (write, flush, SIGKILL at a random moment, every acknowledged
# block intact) DATASAFETY_RUNS times with a CPU hog on every core.
# storm PID ROUNDS PAUSE: stop and continue PID until it ends or ROUNDS pass; it runs after.
storm() {
	for _ in $(seq "$2"); do
		kill -STOP "$1" 2>/dev/null || break
		sleep "$3"
		kill -CONT "$1" 2>/dev/null || break
		sleep "$3"
	done
	kill -CONT "$1" 2>/dev/null
}
"$D/disk.py" make "$tmp/stop.img"
"$CAPSULE" run --disk "$tmp/stop.img,serial=capsule-test" "$G/vblk.elf" >"$tmp/out" 2>"$tmp/err" &
pid=$!
storm $pid 3000 0.01 # 60 s at most
kill -KILL $pid 2>/dev/null
wait $pid
status=$?
[ $status = 0 ] && ! grep -q seccomp "$tmp/err" && report seccomp-stop-cont-storm 1 "" ||
	report seccomp-stop-cont-storm 0 "exit status $status: $(grep seccomp "$tmp/err")"
# Reads from an image kept out of the page cache while the VMM is stopped and continued:
# io_uring's waits end with EINTR, and no read may be acknowledged before its data is in.
python3 - "$tmp/pattern.img" <<'EOF'
import array, sys
with open(sys.argv[1], "wb") as f:
    for mib in range(256):
        f.write(array.array("Q", range(mib << 17, (mib + 1) << 17)).tobytes())
EOF
python3 - "$tmp/pattern.img" 7 <<'EOF' &
import os, sys, time
fd, end = os.open(sys.argv[1], os.O_RDONLY), time.time() + float(sys.argv[2])
while time.time() < end:  # keep the image out of the page cache
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    time.sleep(0.002)
EOF
fadv=$!
"$CAPSULE" run --mem 128 --disk "$tmp/pattern.img,readonly" --cmdline 4 "$G/vrace.elf" \
	>"$tmp/out" 2>"$tmp/err" </dev/null &
pid=$!
sleep 0.3
storm $pid 300 0.005
wait $pid
status=$?
kill $fadv 2>/dev/null
wait $fadv 2>/dev/null
rm -f "$tmp/pattern.img"
grep vrace: "$tmp/out" | tail -n 1
[ $status = 0 ] && tail -n 1 "$tmp/out" | grep -q SUCCESS && report blk-no-early-ack-under-stop-cont 1 "" ||
	report blk-no-early-ack-under-stop-cont 0 "exit status $status"
hogs=()
for _ in $(seq "$(nproc)"); do (while :; do :; done) & hogs+=($!); done
lost=0 died=0
for i in $(seq "${DATASAFETY_RUNS:-20}"); do
	rm -f "$tmp/seq.img"
	truncate -s 4M "$tmp/seq.img"
	"$CAPSULE" run --disk "$tmp/seq.img" "$G/vseq.elf" >"$tmp/seq.out" 2>&1 &
	pid=$!
	sleep "0.$((RANDOM % 9 + 1))$((RANDOM % 10))"
	early=0
	kill -0 $pid 2>/dev/null || early=1
	kill -KILL $pid 2>/dev/null
	wait $pid 2>/dev/null
	status=$?
	grep -q seccomp "$tmp/seq.out" && early=1
	if [ $early = 1 ]; then
		died=$((died + 1))
		echo "data-safety: run $i: the VMM ended before the kill (status $status):"
		tail -n 5 "$tmp/seq.out"
	fi
	"$D/vseq.py" "$tmp/seq.img" "$tmp/seq.out" >"$tmp/out" 2>&1 || { lost=$((lost + 1)); cat "$tmp/out"; }
done
kill "${hogs[@]}" 2>/dev/null
wait "${hogs[@]}" 2>/dev/null
echo "data-safety: ${DATASAFETY_RUNS:-20} kills under load; last: $(cat "$tmp/out")"
[ $lost = 0 ] && [ $died = 0 ] && report data-safety-kill-under-load 1 "" ||
	report data-safety-kill-under-load 0 "$lost runs lost acknowledged blocks, $died VMMs died early"

# --- 6. The API socket (--control is its old name): silent and slow clients do not starve
# a real one.
"$CAPSULE" run --control "$tmp/ctl6" "$G/ticker.elf" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$tmp/ctl6" ] && break; sleep 0.02; done
sleep 0.2
python3 - "$tmp/ctl6" "$CAPSULE" >"$tmp/out" 2>&1 <<'EOF'
import socket, subprocess, sys, time
path, capsule = sys.argv[1], sys.argv[2]
def conn():
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.settimeout(10)
    return s
def control(*args):
    return subprocess.run([capsule, "control", path] + list(args), capture_output=True,
                          text=True, timeout=20).stdout.strip()
silent = [conn() for _ in range(10)]          # say nothing
t = time.monotonic()
r = control("pause")
took = time.monotonic() - t
print("pause with 10 silent clients: %r in %.2f s" % (r, took))
assert r.startswith("ok: paused") and took < 1.5, "starved"
s = conn()                                    # a request in two writes
s.sendall(b"PUT /api/v1/vm.res"); time.sleep(0.3)
s.sendall(b"ume HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
reply = s.recv(200).decode()
print("two writes: %r" % reply.split("\r\n")[0])
assert reply.startswith("HTTP/1.1 204"), reply
flood = [conn() for _ in range(200)]          # more clients than slots
r = control("pause")
print("pause with 210 silent clients: %r" % r)
assert r.startswith("ok: paused"), r
assert control("resume").startswith("ok: resumed")
s = conn(); s.sendall(b"GET /" + b"x" * 9000 + b" HTTP/1.1\r\n")  # too long
print("too long: %r" % s.recv(200).decode().split("\r\n")[0])
s = conn(); s.sendall(b"PUT /api/v1/vm.balloon HTTP/1.1\r\nHost: x\r\nContent-Length: 18\r\n\r\n"
                      b'{"target_mib": -5}')
print("balloon -5: %r" % s.recv(300).decode().split("\r\n")[0])
EOF
status=$?
cat "$tmp/out"
kill -TERM $pid
wait $pid
[ $status = 0 ] && grep -Eq "too long: 'HTTP/1.1 (414|431)" "$tmp/out" &&
	grep -q "balloon -5: 'HTTP/1.1 40[04]" "$tmp/out" &&
	report control-not-starved 1 "" || report control-not-starved 0 "see above"

# --- 7. Privileges: no capabilities, every thread confined, the socket 0600 whatever
# the umask. (A sanitizer build runs without the filter and says so.)
want_seccomp=2
"$CAPSULE" --version | grep -q 'sandbox: off' && want_seccomp=0
(umask 000; exec "$CAPSULE" run --rng --control "$tmp/ctl7" "$G/ticker.elf" >/dev/null 2>&1) &
pid=$!
for _ in $(seq 100); do [ -S "$tmp/ctl7" ] && break; sleep 0.02; done
sleep 0.3
vmm=$(vmm_of $pid)
caps=$(awk '/^CapEff|^CapPrm|^CapBnd/ {print $2}' /proc/$vmm/status | sort -u | tr '\n' ' ')
modes=$(for t in /proc/$vmm/task/*; do printf '%s=%s ' "$(cat $t/comm)" "$(awk '/^Seccomp:/ {print $2}' $t/status)"; done)
mode=$(stat -c %a "$tmp/ctl7")
kill -TERM $pid
wait $pid
echo "privileges: caps $caps; threads $modes; socket mode $mode"
bad=$(echo "$modes" | tr ' ' '\n' | grep -v "=$want_seccomp\$" | grep -v '^$')
[ "$caps" = "0000000000000000 " ] && [ -z "$bad" ] && [ "$mode" = 600 ] &&
	echo "$modes" | grep -q 'api=' && echo "$modes" | grep -q 'signals=' &&
	echo "$modes" | grep -q 'pv-service=' && report privileges-dropped 1 "" ||
	report privileges-dropped 0 "caps '$caps', unconfined: '$bad', mode $mode"

# --- 8. --control never deletes a file that is not its socket, nor steals a live one.
echo "precious" >"$tmp/precious"
expect control-path-not-a-socket 125 '' 'exists and is not a socket; not removing it' \
	-- "$CAPSULE" run --control "$tmp/precious" "$G/spin.elf"
grep -q precious "$tmp/precious" && report control-file-kept 1 "" ||
	report control-file-kept 0 "the file was changed"
"$CAPSULE" run --control "$tmp/ctl8" "$G/ticker.elf" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$tmp/ctl8" ] && break; sleep 0.02; done
expect control-path-in-use 125 '' 'is in use by another capsule' \
	-- "$CAPSULE" run --control "$tmp/ctl8" "$G/spin.elf"
expect control-first-still-works 0 'ok: paused' '' -- "$CAPSULE" control "$tmp/ctl8" pause
vmm=$(vmm_of $pid)
kill -KILL $pid
wait $pid 2>/dev/null
# Jailed, the VMM is the killed process's child, which dies with it a moment later.
for _ in $(seq 200); do kill -0 "$vmm" 2>/dev/null || break; sleep 0.01; done
# The killed VMM left a stale socket: the next one replaces it.
"$CAPSULE" run --control "$tmp/ctl8" "$G/ticker.elf" >/dev/null 2>&1 &
pid=$!
sleep 0.3
expect control-stale-socket-replaced 0 'ok: paused' '' -- "$CAPSULE" control "$tmp/ctl8" pause

# --- 9. Signals with a control socket: clean exit, socket removed; SIGINT works even when
# a script's `&` ignored it; SIGUSR1 prints statistics and the domain goes on.
kill -TERM $pid
wait $pid
status=$?
[ $status = 143 ] && [ ! -e "$tmp/ctl8" ] && report control-sigterm-cleanup 1 "" ||
	report control-sigterm-cleanup 0 "status $status, socket $(ls "$tmp/ctl8" 2>&1)"
bash -c "$CAPSULE run --control $tmp/ctl9 $G/ticker.elf >$tmp/t9.out 2>$tmp/t9.err & p=\$!
	sleep 0.4; kill -USR1 \$p; sleep 0.3; kill -INT \$p; wait \$p" </dev/null
status=$?
[ $status = 130 ] && [ ! -e "$tmp/ctl9" ] && grep -q 'stats: [0-9]* exits' "$tmp/t9.err" &&
	grep -q 'Interrupt received, domain destroyed' "$tmp/t9.err" &&
	report signals-from-background-script 1 "" ||
	report signals-from-background-script 0 "status $status; $(cat "$tmp/t9.err")"
