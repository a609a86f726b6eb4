#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make install` as a distribution would run it: into a scratch DESTDIR with PREFIX=/usr.
# Checks the files, builds PV guests out of tree with nothing but the installed kit and
# `pkg-config --cflags --libs capsule-guest`, runs them, renders the man pages without a
# warning, drives the bash completion, checks the systemd unit, and uninstalls to nothing.
# Ends with "N passed, N failed".
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
passed=0 failed=0

report() { # name ok why
	if [ "$2" = 1 ]; then
		passed=$((passed + 1))
		printf 'PASS %s\n' "$1"
	else
		failed=$((failed + 1))
		printf 'FAIL %s: %s\n' "$1" "$3"
	fi
}

if ! make --no-print-directory -s install DESTDIR="$root" PREFIX=/usr BUILD="$BUILD" \
	>"$tmp/install.log" 2>&1; then
	report make-install 0 "$(tail -n 5 "$tmp/install.log")"
	echo "$passed passed, $failed failed"
	exit 1
fi
report make-install 1 ""

# --- the files, where a distribution expects them
files=(usr/bin/capsule usr/bin/capsule-oci usr/share/man/man1/capsule-oci.1
	usr/share/bash-completion/completions/capsule-oci usr/include/capsule-guest/kit.h usr/include/capsule-guest/virtio.h
	usr/include/capsule-guest/capsule/pv_abi.h usr/include/capsule-guest/capsule/virtio_abi.h
	usr/lib/capsule-guest/libkit.a usr/lib/capsule-guest/link.ld
	usr/lib/pkgconfig/capsule-guest.pc usr/share/man/man1/capsule.1
	usr/share/man/man8/capsuled.8 usr/share/bash-completion/completions/capsule)
if [ -e "$BUILD/capsuled" ]; then
	files+=(usr/sbin/capsuled usr/lib/systemd/system/capsuled.service
		usr/lib/sysusers.d/capsule.conf)
fi
missing=""
for f in "${files[@]}"; do [ -f "$root/$f" ] || missing="$missing $f"; done
[ -z "$missing" ] && report installed-files 1 "" || report installed-files 0 "missing:$missing"
[ -x "$root/usr/bin/capsule" ] && "$root/usr/bin/capsule" --version | grep -q '^capsule ' &&
	report installed-capsule-runs 1 "" || report installed-capsule-runs 0 "usr/bin/capsule"
# The engines' snippets for capsule-oci (docs/oci.md), naming the installed binary: they
# parse, and containerd (from the test dependencies) loads its drop-in.
oci=$root/usr/share/capsule/oci ok=1 why=""
for f in containerd-capsule.toml runtimeclass.yaml docker-daemon.json swarm-daemon.json; do
	[ -f "$oci/$f" ] || { ok=0; why="$why missing $f"; }
done
for f in containerd-capsule.toml docker-daemon.json swarm-daemon.json; do
	grep -q '"/usr/bin/capsule-oci"' "$oci/$f" 2>/dev/null || { ok=0; why="$why $f: no /usr/bin/capsule-oci"; }
	grep -q '@BINDIR@' "$oci/$f" 2>/dev/null && { ok=0; why="$why $f: @BINDIR@ left"; }
done
python3 -c 'import json, sys; [json.load(open(f)) for f in sys.argv[1:]]' \
	"$oci/docker-daemon.json" "$oci/swarm-daemon.json" 2>"$tmp/oci.err" ||
	{ ok=0; why="$why json: $(cat "$tmp/oci.err")"; }
python3 -c 'import tomllib, sys; c = tomllib.load(open(sys.argv[1], "rb"));
r = c["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["capsule"]
assert r["runtime_type"] == "io.containerd.runc.v2" and r["options"]["BinaryName"] == "/usr/bin/capsule-oci"' \
	"$oci/containerd-capsule.toml" 2>"$tmp/oci.err" || { ok=0; why="$why toml: $(cat "$tmp/oci.err")"; }
report oci-engine-snippets $ok "$why"
if command -v containerd >/dev/null; then
	printf 'version = 2\nimports = ["%s"]\n' "$oci/containerd-capsule.toml" >"$tmp/containerd.toml"
	containerd --config "$tmp/containerd.toml" config dump 2>"$tmp/oci.err" |
		grep -q 'BinaryName = "/usr/bin/capsule-oci"' &&
		report oci-containerd-loads-snippet 1 "" ||
		report oci-containerd-loads-snippet 0 "$(tail -n 3 "$tmp/oci.err")"
else
	report oci-containerd-loads-snippet 0 "containerd is not installed (scripts/install-deps.sh test)"
fi
# Nothing points back into the source tree.
grep -rl "$PWD" "$root" --exclude=capsule --exclude=capsuled --exclude=capsule-oci --exclude=libkit.a \
	>"$tmp/leaks" 2>/dev/null
[ ! -s "$tmp/leaks" ] && report no-source-paths 1 "" ||
	report no-source-paths 0 "$(cat "$tmp/leaks")"

# --- pkg-config: the installed .pc, moved to the DESTDIR with --define-variable
pc() {
	PKG_CONFIG_PATH=$root/usr/lib/pkgconfig PKG_CONFIG_LIBDIR=$root/usr/lib/pkgconfig \
		pkg-config --define-variable=prefix="$root/usr" "$@" capsule-guest
}
flags=$(pc --cflags --libs)
[ "$(pc --modversion)" = "$(sed -n 's/^VERSION *:= *//p' Makefile)" ] &&
	[[ $flags == *-ffreestanding* && $flags == *"-T,$root/usr/lib/capsule-guest/link.ld"* &&
		$flags == *-lkit* && $flags == *-lgcc* ]] &&
	report pkg-config-flags 1 "" || report pkg-config-flags 0 "$(pc --modversion): $flags"

# --- out of tree: a copy of the example and a guest written here, nothing of the tree but
# what was installed (no -I or -L into it), built with the one pkg-config line.
mkdir -p "$tmp/guest"
cp guest/examples/hello.c "$tmp/guest/"
cat >"$tmp/guest/tiny.c" <<'GUEST'
/* SPDX-License-Identifier: Apache-2.0 */
#include <kit.h>
#include <virtio.h>

int main(void)
{
	printf("out of tree: %u vCPU(s), cmdline \"%s\", PV ABI %u\n", nr_cpus(),
	       start_info->cmdline, (unsigned)CAP_PV_ABI_VERSION);
	printf("Test result: SUCCESS\n");
	return 7;
}
GUEST
ok=1 why=""
for g in hello tiny; do
	# shellcheck disable=SC2086 # the flags are words
	if ! (cd "$tmp/guest" && ${CC:-cc} -O2 -Wall -Werror -o $g.elf $g.c $flags) \
		>"$tmp/cc.log" 2>&1; then
		ok=0 why="$g: $(head -c 600 "$tmp/cc.log")"
	fi
done
report out-of-tree-build $ok "$why"
out=$(timeout -k 5 30 "$BUILD/capsule" run "$tmp/guest/hello.elf" 2>"$tmp/err"); st=$?
[ $st = 0 ] && [[ $out == *"Hello from a Capsule PV domain: 64 MiB, 1 vCPU(s)"* ]] &&
	report out-of-tree-hello-runs 1 "" ||
	report out-of-tree-hello-runs 0 "status $st: $out $(head -c 300 "$tmp/err")"
out=$(timeout -k 5 30 "$BUILD/capsule" run --vcpus 2 --cmdline "via pkg-config" \
	"$tmp/guest/tiny.elf" 2>"$tmp/err"); st=$?
[ $st = 7 ] && [[ $out == *'out of tree: 2 vCPU(s), cmdline "via pkg-config"'* ]] &&
	[ "$(printf '%s\n' "$out" | tail -n 1)" = "Test result: SUCCESS" ] &&
	report out-of-tree-guest-runs 1 "" ||
	report out-of-tree-guest-runs 0 "status $st: $out $(head -c 300 "$tmp/err")"

# --- man pages: render without a warning, and man(1) reads the installed ones
ok=1 why=""
for p in "$root"/usr/share/man/man*/*; do
	if ! groff -man -Tutf8 -ww -z "$p" >"$tmp/groff" 2>&1 || [ -s "$tmp/groff" ]; then
		ok=0 why="$why $(basename "$p"): $(head -c 300 "$tmp/groff")"
	fi
	if ! MANWIDTH=80 man -l "$p" 2>"$tmp/man" | grep -q '^NAME' || [ -s "$tmp/man" ]; then
		ok=0 why="$why $(basename "$p"): man -l: $(head -c 300 "$tmp/man")"
	fi
done
report man-pages-render $ok "$why"
page=$(MANWIDTH=200 man -l "$root/usr/share/man/man1/capsule.1" 2>/dev/null)
ok=1 why=""
for c in run control create list info pause unpause shutdown reboot destroy console top \
	mem-set events log save restore snapshot clone snapshot-merge migrate migrate-abort; do
	grep -Eq "^ {7}$c( |$)" <<<"$page" || { ok=0; why="$why $c"; }
done
for o in $("$BUILD/capsule" run --help | grep -Eo -- '--[a-z][a-z-]+' | sort -u); do
	grep -q -- "$o" <<<"$page" || { ok=0; why="$why $o"; }
done
report man-capsule-covers-commands-and-options $ok "not in capsule(1):$why"
page=$(MANWIDTH=200 man -l "$root/usr/share/man/man1/capsule-oci.1" 2>/dev/null)
ok=1 why=""
for o in $("$BUILD/capsule-oci" --help | grep -Eo -- '--[a-z][a-z-]+' | sort -u); do
	grep -q -- "$o" <<<"$page" || { ok=0; why="$why $o"; }
done
report man-capsule-oci-covers-options $ok "not in capsule-oci(1):$why"
if [ -x "$BUILD/capsuled" ]; then
	page=$(MANWIDTH=200 man -l "$root/usr/share/man/man8/capsuled.8" 2>/dev/null)
	ok=1 why=""
	for o in $("$BUILD/capsuled" --help | grep -Eo -- '--[a-z][a-z-]+' | sort -u); do
		grep -q -- "$o" <<<"$page" || { ok=0; why="$why $o"; }
	done
	report man-capsuled-covers-options $ok "not in capsuled(8):$why"
fi

# --- bash completion: commands, options, and domain names from a fake `capsule list`
mkdir -p "$tmp/bin"
cat >"$tmp/bin/capsule" <<'FAKE'
#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
if [ "$1" = --socket ]; then sock=$2; shift 2; fi
[ "$1 $2" = "list --json" ] && [ -z "$CAPSULED_DOWN" ] && [ -n "$sock" ] &&
	printf '[\n  {\n    "name": "on-%s"\n  }\n]\n' "$(basename "$sock")" && exit 0
[ "$1 $2" = "list --json" ] && [ -z "$CAPSULED_DOWN" ] &&
	printf '[{"name": "web", "id": 1}, {"name":"db-2","id":2}]\n' && exit 0
echo "capsuled is not running" >&2
exit 1
FAKE
chmod +x "$tmp/bin/capsule"
complete_words() { # words... -> the completions of the last one
	PATH=$tmp/bin:$PATH bash -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _capsule
		[ ${#COMPREPLY[@]} = 0 ] || printf "%s\n" "${COMPREPLY[@]}" | LC_ALL=C sort | tr "\n" " "' \
		_ "$root/usr/share/bash-completion/completions/capsule" "$@"
}
ok=1 why=""
check_completion() { # want words...
	local want=$1 got
	shift
	got=$(complete_words "$@" 2>&1)
	[ "$got" = "$want" ] || { ok=0; why="$why [$*] gave '$got', not '$want';"; }
}
# capsule-oci's: its commands, options, and the ids under --root.
mkdir -p "$tmp/oci-root/c1" "$tmp/oci-root/c2"
oci_words() {
	bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _capsule_oci
		[ ${#COMPREPLY[@]} = 0 ] || printf "%s\n" "${COMPREPLY[@]}" | LC_ALL=C sort | tr "\n" " "' \
		_ "$root/usr/share/bash-completion/completions/capsule-oci" "$@"
}
for c in "delete |capsule-oci del" "--bundle |capsule-oci create --bu" \
	"c1 c2 |capsule-oci --root $tmp/oci-root kill c" "KILL |capsule-oci kill c1 KI" \
	"--force |capsule-oci delete --f"; do
	want=${c%%|*}
	read -ra words <<<"${c#*|}"
	got=$(oci_words "${words[@]}" 2>&1)
	[ "$got" = "$want" ] || { ok=0; why="$why [${c#*|}] gave '$got', not '$want';"; }
done
check_completion "pause " capsule pa
check_completion "mem-set " capsule mem
check_completion "--on-crash --on-poweroff --on-reboot " capsule run --on
check_completion "preserve " capsule run --on-crash pr
check_completion "db-2 web " capsule console ""
check_completion "web " capsule pause w
check_completion "--help --json --socket -S -g -w " capsule shutdown -
check_completion "web " capsule shutdown -w -g 10 w
check_completion "--json " capsule list --j
check_completion "db-2 web " capsule list web ""
check_completion "" capsule mem-set web ""
check_completion "sched-credit " capsule sched
check_completion "vcpu-list vcpu-pin " capsule vcpu
check_completion "web " capsule sched-credit -w 512 w
check_completion "all " capsule vcpu-pin web a
check_completion "" capsule top -d ""
check_completion "on-s1 " capsule info -S /tmp/s1 ""
check_completion "on-s2 " capsule destroy --socket /tmp/s2 o
check_completion "counters " capsule control /tmp/s co
check_completion "" capsule frobnicate ""
CAPSULED_DOWN=1 check_completion "" capsule info ""
report bash-completion $ok "$why"

# --- the systemd unit
if [ -e "$BUILD/capsuled" ]; then
	u=$root/usr/lib/systemd/system/capsuled.service
	ok=1 why=""
	for l in "Type=simple" "ExecStart=/usr/sbin/capsuled --foreground --vmm /usr/bin/capsule" \
		"RuntimeDirectory=capsule" "StateDirectory=capsule" "KillMode=process" \
		"RuntimeDirectoryPreserve=yes" "WantedBy=multi-user.target"; do
		grep -qx -- "$l" "$u" || { ok=0; why="$why '$l'"; }
	done
	grep -q @ "$u" && { ok=0; why="$why (a @...@ left)"; }
	# systemd's own check, on a copy that runs the programs from the DESTDIR
	if command -v systemd-analyze >/dev/null; then
		mkdir -p "$tmp/unit"
		sed "s|/usr/|$root/usr/|g" "$u" >"$tmp/unit/capsuled.service"
		systemd-analyze verify --man=no "$tmp/unit/capsuled.service" >"$tmp/verify" 2>&1 ||
			{ ok=0; why="$why $(head -c 300 "$tmp/verify")"; }
	fi
	report systemd-unit $ok "missing:$why"
fi

# --- uninstall leaves nothing but empty directories
make --no-print-directory -s uninstall DESTDIR="$root" PREFIX=/usr BUILD="$BUILD" \
	>"$tmp/uninstall.log" 2>&1
left=$(find "$root" ! -type d)
[ -z "$left" ] && report make-uninstall 1 "" || report make-uninstall 0 "left: $left"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
