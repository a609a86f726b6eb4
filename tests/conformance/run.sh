#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The PV ABI conformance suite (docs/pv-abi.md, section 14): boots each case and checks
# capsule's exit status and output. Every case names the rules it tests; the table in the
# document must list the same cases for the same rules (check-rules.py, the first case).
#
#   tests/conformance/run.sh [BUILD]   run every case; ends with "N passed, N failed"
#   tests/conformance/run.sh --list    print "CASE RULE..." for each case, run nothing
set -u
LIST=0
if [ "${1:-}" = --list ]; then
	LIST=1
	shift
fi
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
CAPSULE=$BUILD/capsule
C=$BUILD/tests/conformance
passed=0 failed=0 skipped=0
if [ $LIST = 0 ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
fi

listed() { # NAME RULES: in --list mode print the case and say "do not run it"
	if [ $LIST = 1 ]; then
		printf '%s %s\n' "$1" "$2"
		return 0
	fi
	return 1
}

pass() { passed=$((passed + 1)); printf 'PASS %s\n' "$1"; }
skip() { skipped=$((skipped + 1)); printf 'SKIP %s: %s\n' "$1" "$2"; }
fail() {
	failed=$((failed + 1))
	printf 'FAIL %s: %s\n' "$1" "$2"
	sed 's/^/  stdout| /' "$tmp/out" | tail -n 12
	sed 's/^/  stderr| /' "$tmp/err" | tail -n 12
}

# judge NAME WANT_STATUS STATUS OUT_RE ERR_RE: the common verdict on $tmp/out and $tmp/err.
# A domain that runs to its end must print "Test result: SUCCESS" (or SKIP) last; one
# that must crash, time out or otherwise end without returning to the guest (ENDS=1) must
# not print FAILURE. Each "expect-stderr: TEXT" line the guest printed must appear in
# stderr as it is.
ENDS=0
judge() {
	local name=$1 want=$2 status=$3 out_re=$4 err_re=$5 last line ends=$ENDS
	ENDS=0
	last=$(tail -n 1 "$tmp/out")
	if [ "$last" = "Test result: SKIP" ] && [ "$status" = 0 ]; then
		skip "$name" "$(grep '^skipped: ' "$tmp/out" | tail -n 1)"
		return
	fi
	if [ "$status" != "$want" ]; then
		fail "$name" "exit status $status, expected $want"
		return
	fi
	[ "$want" = 124 ] || [ "$want" = 125 ] || [ "$want" = 126 ] && ends=1
	case $ends in
	1)
		if grep -q '^Test result: FAILURE' "$tmp/out"; then
			fail "$name" "the guest reported FAILURE"
			return
		fi ;;
	*)
		if [ "$last" != "Test result: SUCCESS" ]; then
			fail "$name" "last line is '$last'"
			return
		fi ;;
	esac
	while IFS= read -r line; do
		if ! grep -qF -- "${line#expect-stderr: }" "$tmp/err"; then
			fail "$name" "stderr lacks '${line#expect-stderr: }'"
			return
		fi
	done < <(grep '^expect-stderr: ' "$tmp/out")
	if [ -n "$out_re" ] && ! grep -Eq -- "$out_re" "$tmp/out"; then
		fail "$name" "stdout does not match /$out_re/"
	elif [ -n "$err_re" ] && ! grep -Eq -- "$err_re" "$tmp/err"; then
		fail "$name" "stderr does not match /$err_re/"
	else
		pass "$name"
	fi
}

# domain NAME RULES WANT OUT_RE ERR_RE GUEST [capsule run options...]
domain() {
	local name=$1 rules=$2 want=$3 out_re=$4 err_re=$5 guest=$6
	shift 6
	listed "$name" "$rules" && return
	timeout 60 "$CAPSULE" run "$@" "$C/$guest.elf" >"$tmp/out" 2>"$tmp/err" </dev/null
	judge "$name" "$want" $? "$out_re" "$err_re"
}
guest() { domain "$1" "$2" 0 "" "" "${@:3}"; }   # runs to SUCCESS, exit 0
ends() { ENDS=1 domain "$@"; }                    # ends the domain, no result line
crashes() { domain "$1" "$2" 126 "" "" "${@:3}"; } # must end as crashed

# host NAME RULES WANT OUT_RE ERR_RE -- COMMAND...: a command and its exit status
host() {
	local name=$1 rules=$2 want=$3 out_re=$4 err_re=$5 status
	shift 6
	listed "$name" "$rules" && return
	timeout 60 "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	status=$?
	if [ "$status" != "$want" ]; then
		fail "$name" "exit status $status, expected $want"
	elif [ -n "$out_re" ] && ! grep -Eq -- "$out_re" "$tmp/out"; then
		fail "$name" "stdout does not match /$out_re/"
	elif [ -n "$err_re" ] && ! grep -Eq -- "$err_re" "$tmp/err"; then
		fail "$name" "stderr does not match /$err_re/"
	else
		pass "$name"
	fi
}

# image NAME RULES VARIANT MEM_MIB WANT ERR_RE: image.elf changed by images.py VARIANT,
# run with --mem MEM_MIB. A variant that boots must pass the image test in it.
image() {
	local name=$1 rules=$2 variant=$3 mem=$4 want=$5 err_re=$6 end
	listed "$name" "$rules" && return
	if ! end=$(python3 "$HERE/images.py" "$variant" "$C/image.elf" "$tmp/$variant.elf" \
		$((mem << 20)) 2>"$tmp/err"); then
		: >"$tmp/out"
		fail "$name" "images.py $variant failed"
		return
	fi
	timeout 60 "$CAPSULE" run --mem "$mem" ${end:+--cmdline "end=$end"} "$tmp/$variant.elf" \
		>"$tmp/out" 2>"$tmp/err" </dev/null
	status=$?
	if [ "$want" = 0 ]; then
		judge "$name" 0 $status "" "$err_re"
	else
		judge "$name" "$want" $status "" "capsule.*$err_re"
	fi
}

# ---- the document and the suite agree (docs/pv-abi.md section 14)
host rules-table "-" 0 '' '' -- python3 "$HERE/check-rules.py"
host rules-check-can-fail "-" 0 'self-test: 4 of 4' '' -- python3 "$HERE/check-rules.py" --self-test

# ---- 2. Image (host-side: images.py breaks one thing in a good image)
image img-note-ok "R-IMG-2 R-IMG-7 R-SI-4" none 64 0 ''
image img-not-elf "R-IMG-1" not-elf 64 125 'not an ELF file'
image img-elf32 "R-IMG-1" elf32 64 125 'not a 64-bit little-endian ELF file'
image img-big-endian "R-IMG-1" big-endian 64 125 'not a 64-bit little-endian ELF file'
image img-machine "R-IMG-1" machine 64 125 'ELF machine is 183, not x86-64'
image img-et-dyn "R-IMG-1" et-dyn 64 125 'ELF type is 3, not a static executable \(ET_EXEC\)'
image img-note-section-only "R-IMG-2" note-section-only 4 125 'is a kernel for an HVM domain'
image img-note-bad-name "R-IMG-2" note-bad-name 4 125 'is a kernel for an HVM domain'
image img-note-bad-type "R-IMG-2" note-bad-type 4 125 'is a kernel for an HVM domain'
image img-note-bad-namesz "R-IMG-2" note-bad-namesz 4 125 'is a kernel for an HVM domain'
image img-note-v0 "R-IMG-2" note-v0 4 125 'is a kernel for an HVM domain'
image img-note-v2 "R-IMG-3" note-v2 64 125 'built for PV ABI v2, this capsule runs v1'
image img-phentsize "R-IMG-4" phentsize 64 125 'ELF program header size is 32, expected 56'
image img-phnum-0 "R-IMG-4" phnum-0 64 125 'ELF has 0 program headers \(1 to 64 allowed\)'
image img-phnum-65 "R-IMG-4" phnum-65 64 125 'ELF has 65 program headers \(1 to 64 allowed\)'
image img-phoff-beyond "R-IMG-4" phoff-beyond 64 125 'program headers lie beyond the end of the file'
image img-phoff-misaligned "R-IMG-4" phoff-misaligned 64 125 'ELF program headers are misaligned'
image img-vaddr-ignored "R-IMG-5" vaddr-garbage 64 0 ''
image img-memsz-zero-ignored "R-IMG-5" memsz-zero-ignored 64 0 ''
image img-entry-not-exec "R-IMG-5" entry-not-exec 64 125 'entry point 0x[0-9a-f]+ is not inside an executable segment'
image img-seg-below-1m "R-IMG-6" seg-below-1m 64 125 'segment 0 \(0xff000, .*lies outside guest memory \[0x100000, 0x4000000\)'
image img-seg-beyond-ram "R-IMG-6" seg-beyond-ram 64 125 'segment 1 .* lies outside guest memory'
image img-filesz-gt-memsz "R-IMG-6" filesz-gt-memsz 64 125 'segment 0: file size 0x[0-9a-f]+ exceeds memory size'
image img-data-beyond-file "R-IMG-6" data-beyond-file 64 125 'segment 1: its data lies beyond the end of the file'
image img-overlap "R-IMG-6" overlap 64 125 'segment 1 overlaps another loadable segment'
image img-no-load "R-IMG-6" no-load 64 125 'ELF has no loadable segment'
image img-stack-room-exact "R-IMG-7 R-IMG-8 R-SI-4" stack-room-exact 4 0 ''
image img-stack-room-short "R-IMG-8" stack-room-short 4 125 'the image leaves no room for the initial stack'
domain img-linked-high "R-IMG-9 R-SI-4" 0 'at 0x40000000\.\.' '' image_high --mem 1100

# ---- 3. Memory
crashes mem-null "R-MEM-1" memory --cmdline part=null
guest mem-guest-low "R-MEM-2" memory --cmdline part=guestlow
guest mem-rwx "R-MEM-3" memory --cmdline part=rwx
guest mem-round-up "R-MEM-4" memory --mem 5 --cmdline "part=size mem=0x600000"
guest mem-min "R-MEM-4" memory --mem 4 --cmdline "part=size mem=0x400000"
host mem-too-small "R-MEM-4" 125 '' '--mem expects a number from 4 to 65534' \
	-- "$CAPSULE" run --mem 3 "$C/memory.elf"
crashes mem-window-empty "R-MEM-5" memory --cmdline part=window
crashes mem-beyond-window "R-MEM-5" memory --cmdline part=beyond

# ---- 4. Start state
guest start-cpl "R-START-1" start --cmdline part=cpl
guest start-gprs "R-START-2" start --cmdline part=gprs
guest start-rflags "R-START-3" start --cmdline part=rflags
guest start-fsgs "R-START-4" start --cmdline part=fsgs
guest start-cr0 "R-START-5" start --cmdline part=cr0
guest start-cr4 "R-START-6" start --cmdline part=cr4
crashes start-xm "R-START-6" start --cmdline part=xm
crashes start-rdpmc "R-START-6" start --cmdline part=rdpmc
crashes start-nx "R-START-7" start --cmdline part=nx
crashes start-syscall "R-START-7" start --cmdline part=syscall
guest start-stack "R-START-8" start --cmdline part=stack
# More than 4 GiB of RAM if the host has it (the guest says SKIP otherwise).
big=64
[ $LIST = 0 ] && [ "$(awk '/^MemTotal/ {print int($2 / 1024)}' /proc/meminfo)" -gt 4400 ] && big=4200
guest start-above-4g "R-START-9" start --mem "$big" --cmdline part=above4g

# ---- 5. start_info
guest si-header "R-SI-1" startinfo --cmdline part=header
guest si-sizes "R-SI-2" startinfo --mem 9 --vcpus 3 --cmdline "part=sizes mem=0xa00000 vcpus=3"
guest si-addresses "R-SI-3" startinfo --cmdline part=addresses
long=$(printf 'x%.0s' $(seq 1010)) # "part=cmdline " and 1010 x: 1023 bytes
guest si-cmdline "R-SI-5" startinfo --cmdline "part=cmdline $long"
host si-cmdline-too-long "R-SI-5" 125 '' '--cmdline is longer than 1023 bytes' \
	-- "$CAPSULE" run --cmdline "part=cmdline ${long}x" "$C/startinfo.elf"
guest si-no-devices "R-SI-6" startinfo --cmdline part=nodev
guest si-devices "R-SI-6 R-EV-13" startinfo --rng --virtio-console --cmdline part=devices
guest si-clocks "R-SI-7" startinfo --cmdline part=clocks
# R-SI-9: the guest prints start_info's measurement; tools/measure.py recomputes it from
# the image, the command line and the configuration, as a verifier would.
si_measurement() {
	local got want status
	listed si-measurement "R-SI-9" && return
	timeout 60 "$CAPSULE" run --vcpus 2 --rng --cmdline part=measure "$C/startinfo.elf" \
		>"$tmp/out" 2>"$tmp/err" </dev/null
	status=$?
	got=$(sed -n 's/^si: launch_measurement \([0-9a-f]*\)$/\1/p' "$tmp/out")
	want=$(python3 "$HERE/../../tools/measure.py" "$C/startinfo.elf" --cmdline part=measure \
		--vcpus 2 --device rng)
	if [ -z "$got" ] || [ "$got" != "$want" ]; then
		fail si-measurement "start_info has '$got', tools/measure.py computes '$want'"
	else
		judge si-measurement 0 $status "" ""
	fi
}
si_measurement

# ---- host requests (section 11.1): the runner asks through --control and watches
guest req-port "R-REQ-1 R-SI-8" request --rng --cmdline part=port
# request NAME RULES WANT ERR_RE PART COMMAND: wait until the guest waits, then ask
request() {
	local name=$1 rules=$2 want=$3 err_re=$4 part=$5 cmd=$6 pid status
	listed "$name" "$rules" && return
	rm -f "$tmp/req.sock"
	"$CAPSULE" run --control "$tmp/req.sock" --timeout 20 --cmdline "part=$part" \
		"$C/request.elf" >"$tmp/out" 2>"$tmp/err" </dev/null &
	pid=$!
	for _ in $(seq 200); do grep -q '^request: waiting' "$tmp/out" && break; sleep 0.05; done
	timeout 10 "$CAPSULE" control "$tmp/req.sock" $cmd >>"$tmp/err" 2>&1
	wait $pid
	status=$?
	ENDS=$([ "$want" = 9 ] || [ "$want" = 0 ] && echo 0 || echo 1)
	judge "$name" "$want" $status "" "$err_re"
}
request req-poweroff "R-REQ-2" 9 'asked the guest to power off' poweroff shutdown
request req-reboot "R-REQ-2" 124 'domain rebooted; restarting it' reboot reboot
request req-ignored "R-REQ-3" 124 'did not shut down within 1 s of the request; destroying it' \
	ignore "shutdown 1"

# ---- restores (section 11.2): the runner saves the domain and restores it
guest gen-fresh "R-GEN-1" generation --cmdline part=fresh
gen_restore() {
	local name=gen-restore rules="R-GEN-2 R-GEN-3 R-GEN-4" pid status
	listed "$name" "$rules" && return
	rm -rf "$tmp/gen.sock" "$tmp/gen.snap"
	"$CAPSULE" run --control "$tmp/gen.sock" --timeout 20 --rng --cmdline part=restore \
		"$C/generation.elf" >"$tmp/out0" 2>"$tmp/err" </dev/null &
	pid=$!
	for _ in $(seq 200); do grep -q '^generation: waiting' "$tmp/out0" && break; sleep 0.05; done
	timeout 20 "$CAPSULE" control "$tmp/gen.sock" save "$tmp/gen.snap" >>"$tmp/err" 2>&1
	wait $pid
	timeout -k 5 30 "$CAPSULE" run --restore "$tmp/gen.snap" >"$tmp/out" 2>>"$tmp/err" </dev/null
	status=$?
	judge "$name" 0 $status '^generation: restored' ''
}
gen_restore

# ---- 6. Hypercalls
guest hc-eax-only "R-HC-1" hcall --cmdline part=eax
guest hc-bad-address "R-HC-2 R-DEV-2" hcall --cmdline part=badaddr
guest hc-block-written-back "R-HC-3" hcall --cmdline part=result
guest hc-registers "R-HC-4" hcall --cmdline part=regs
guest hc-width "R-HC-5" hcall --cmdline part=width
guest hc-enosys "R-HC-6" hcall --cmdline part=enosys
crashes hc-port-510 "R-HC-6" hcall --cmdline part=port510
crashes hc-port-closed "R-HC-6 R-FLT-2" hcall --cmdline part=closed
guest hc-concurrent "R-HC-7" hcall --vcpus 4 --cmdline part=concurrent
guest hc-errors "R-HC-8" hcall --cmdline part=errors
guest hc-yield "R-HC-9" hcall --cmdline part=yield

# ---- 7. Console
guest con-initial "R-CON-1" console --cmdline part=initial
domain con-write "R-CON-2" 0 '^con-write: exactly this line, once$' '' console --cmdline part=write
domain con-full "R-CON-3" 0 '^con-full 127 \.+$' '' console --cmdline part=full
domain con-overrun "R-CON-3" 0 '^con-overrun: the ring works again$' \
	'guest console ring is inconsistent' console --cmdline part=overrun
domain con-cons-mirror "R-CON-4" 0 '^con-mirror: next$' '' console --cmdline part=mirror
domain con-wrap "R-CON-2" 0 '^con-wrap: w{500}' '' console --cmdline part=wrap
domain con-drain-poweroff "R-CON-5" 0 '^con-drain: written out at power-off$' '' \
	console --cmdline part=drain
domain con-drain-crash "R-CON-5" 126 '^con-drain: written out after a crash$' '' \
	console --cmdline part=drain-crash
domain con-other-vcpu "R-CON-6" 0 '^con-other-vcpu: appended on vCPU 1$' '' \
	console --vcpus 2 --cmdline part=other

# ---- 7.1 Console input (revision 4)
# fed NAME RULES WANT OUT_RE FEED GUEST [options...]: the guest with FEED's output as its
# standard input, through a pipe (a file or /dev/null cannot be waited on: R-CIN-5)
fed() {
	local name=$1 rules=$2 want=$3 out_re=$4 feed=$5 guest=$6
	shift 6
	listed "$name" "$rules" && return
	bash -c "$feed" 2>/dev/null | timeout 60 "$CAPSULE" run "$@" "$C/$guest.elf" >"$tmp/out" 2>"$tmp/err"
	judge "$name" "$want" "${PIPESTATUS[1]}" "$out_re" ""
}
cin_bytes() { # N: the pattern of consin.c, N bytes
	echo "python3 -c 'import sys; sys.stdout.buffer.write(bytes((i * 7 + 3) % 256 for i in range($1)))'"
}
fed cin-layout "R-CIN-1 R-CIN-3" 0 '' "printf 'cin-layout\\n'" consin --rng --cmdline part=layout
fed cin-read "R-CIN-2 R-CIN-3" 0 "^cin-read: got 'cin-read: hello, capsule'$" \
	"printf 'cin-read: hello, capsule\\n'" consin --cmdline part=read
fed cin-full "R-CIN-2" 0 '' "$(cin_bytes 5000)" consin --cmdline part=full
fed cin-hostile-cons "R-CIN-4" 0 '^cin-hostile: the domain kept running$' "$(cin_bytes 3000)" \
	consin --cmdline part=hostile
guest cin-no-input "R-CIN-5" consin --cmdline part=noflag
fed cin-virtio-console "R-CIN-5" 0 '' "printf 'for virtio-console\\n'" consin --virtio-console \
	--cmdline part=noflag

# ---- 8. Event channels and block
ev() { guest "$1" "$2" events --vcpus 2 "${@:3}"; }
ev ev-no-upcall "R-EV-1" --cmdline part=noupcall
ev ev-alloc-fresh "R-EV-2" --cmdline part=fresh
ev ev-alloc-einval "R-EV-3" --cmdline part=einval
ev ev-enospc "R-EV-4" --rng --cmdline part=enospc
ev ev-send "R-EV-5" --cmdline part=send
ev ev-mask "R-EV-6" --cmdline part=mask
ev ev-unmask "R-EV-7" --cmdline part=unmask
ev ev-bad-port "R-EV-8" --cmdline part=badport
ev ev-close "R-EV-9" --cmdline part=close
ev ev-guest-clears "R-EV-10" --cmdline part=guestclears
ev ev-timer-port "R-EV-11" --cmdline part=timerport
ev ev-timer-port-close "R-EV-11" --cmdline part=timerclose
ev ev-table "R-EV-12" --cmdline part=table
guest blk-pending "R-BLK-1" block --vcpus 2 --cmdline part=pending
guest blk-wakes "R-BLK-2" block --vcpus 2 --cmdline part=wakes
guest blk-deadline "R-BLK-3" block --vcpus 2 --cmdline part=deadline
guest blk-ignores "R-BLK-4" block --vcpus 2 --cmdline part=ignores

# ---- 9. Timers and time
tm() { guest "$1" "$2" timer --vcpus 2 "${@:3}"; }
tm tm-fires "R-TM-1" --cmdline part=fires
tm tm-cancel "R-TM-2" --cmdline part=cancel
tm tm-past "R-TM-3" --cmdline part=past
tm tm-unbound "R-TM-4" --cmdline part=unbound
tm tm-einval "R-TM-5" --cmdline part=einval
tm tm-per-vcpu "R-TM-6" --cmdline part=pervcpu
tm time-values "R-TIME-1" --cmdline part=time
tm time-vcpus "R-TIME-2" --cmdline part=timevcpus

# ---- 10. vCPUs
vc() { guest "$1" "$2" vcpu --vcpus 4 "${@:3}"; }
vc vcpu-up "R-VCPU-1" --cmdline part=up
vc vcpu-state "R-VCPU-2" --cmdline part=state
vc vcpu-up-einval "R-VCPU-3 R-DEV-2" --cmdline part=einval
vc vcpu-up-ebusy "R-VCPU-4" --cmdline part=ebusy
vc vcpu-down "R-VCPU-5" --cmdline part=down
vc vcpu-down-0 "R-VCPU-6" --cmdline part=down0

# ---- 11. Shutdown: capsule run's exit status is the code
domain sd-code-0 "R-SD-1" 0 '' '' shutdown --cmdline "mode=code code=0"
domain sd-code-1 "R-SD-1" 1 '' '' shutdown --cmdline "mode=code code=1"
domain sd-code-123 "R-SD-1" 123 '' '' shutdown --cmdline "mode=code code=123"
domain sd-code-refused "R-SD-2" 5 '^sd: still running after 12 refused codes$' '' \
	shutdown --cmdline mode=refused
if ! listed sd-reboot "R-SD-3"; then # restarted from the image until --timeout
	timeout 60 "$CAPSULE" run --timeout 1 --cmdline mode=reboot "$C/shutdown.elf" \
		>"$tmp/out" 2>"$tmp/err" </dev/null
	status=$? boots=$(grep -c '^sd: boot$' "$tmp/out")
	if [ $status = 124 ] && [ "$boots" -ge 2 ] && grep -q 'domain rebooted; restarting it' "$tmp/err"; then
		pass sd-reboot
	else
		fail sd-reboot "exit status $status, $boots boots"
	fi
fi
ends sd-reboot-no-reboot "R-SD-3" 0 '' 'domain rebooted; on_reboot=destroy, exiting' \
	shutdown --no-reboot --cmdline mode=reboot
crashes sd-crash "R-SD-4" shutdown --cmdline mode=crash
guest sd-bad-reason "R-SD-5" shutdown --cmdline mode=badreason
domain sd-other-vcpu "R-SD-6" 9 '' '' shutdown --vcpus 2 --cmdline mode=othercpu

# ---- 12. Faults
crashes flt-ud2 "R-FLT-1" faults --cmdline part=ud2
crashes flt-pf "R-FLT-1" faults --cmdline part=pf
crashes flt-hlt "R-FLT-2" faults --cmdline part=hlt
crashes flt-int "R-FLT-2" faults --cmdline part=int

# ---- 13. Guest-physical ranges devices may touch
for a in gdt:0x1000 stacks:0x4fff8 55000:0x55000 tables:0x60000 fffff:0xff000; do
	crashes "dev-vmm-${a%%:*}" "R-DEV-1" memory --cmdline "part=vmm addr=${a#*:}"
done
domain dev-ring-vmm "R-DEV-3" 0 '' 'needs a reset' devices --rng --cmdline part=ring
domain dev-buffer-vmm "R-DEV-3" 0 '' 'needs a reset' devices --rng --cmdline part=buffer
guest dev-balloon-low "R-DEV-4" devices --balloon 0 --cmdline part=balloon
guest dev-guest-low "R-DEV-5 R-EV-13" devices --rng --cmdline part=guestlow

if [ $LIST = 0 ]; then
	[ $skipped = 0 ] || printf '%d skipped\n' "$skipped"
	printf '%d passed, %d failed\n' "$passed" "$failed"
	[ "$failed" = 0 ]
fi
