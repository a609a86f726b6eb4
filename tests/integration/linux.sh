#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The first minute of a real Linux boot (Debian's cloud kernel): boots it in an HVM domain
# with 2 vCPUs, 512 MiB and an initrd, and checks from the serial log that Linux echoed
# Capsule's command line, printed Capsule's E820 map, found the ACPI tables and both CPUs
# in the MADT, and found the initrd: for the vmlinux through its PVH note, the vmlinux at its
# 64-bit entry, and the bzImage at its 64-bit entry (which first decompresses itself); then
# the vmlinux with full ACPI (the PM timer and the FACS). Stops the domain at the "Memory:" line (on these hosts
# the emulated kernel cannot go much further; see docs/hosts.md).
# Usage: linux.sh BUILD ASSET_DIR   Prints PASS/FAIL lines and "N passed, N failed".
set -u
BUILD=$1
A=$2
CAPSULE=$BUILD/capsule
passed=0 failed=0
tests/integration/linux_assets.sh "$A" >/dev/null || { echo "FAIL linux-assets"; echo "0 passed, 1 failed"; exit 1; }
cmdline="console=ttyS0 earlyprintk=serial,ttyS0,115200 capsule.test=first-minute"

# What every boot must show about ACPI, unless a case says otherwise ($acpi_want).
acpi_reduced=(
	'ACPI: RSDP 0x00000000000E0000 000024 \(v02 CAPSUL\)'
	'ACPI: DSDT 0x[0-9A-F]+ [0-9A-F]+ \(v02 CAPSUL CAPSULE'
	'ACPI: APIC 0x[0-9A-F]+'
)
acpi_want=("${acpi_reduced[@]}")
extra_cmdline="" # more of the command line for a case
stop_re='\] Memory: ' # the line at which a case has seen enough
more_want=()        # lines a case wants beyond everyone's

boot() { # name, seconds allowed, extra capsule args..., kernel last
	local name=$1 limit=$2 log=/tmp/capsule-linux-$1.$$ start=$SECONDS
	local line="$cmdline${extra_cmdline:+ $extra_cmdline}"
	shift 2
	"$CAPSULE" run --mem 512 --vcpus 2 --initrd "$A/initrd" --cmdline "$line" "$@" \
		>"$log" 2>&1 &
	local pid=$!
	while kill -0 $pid 2>/dev/null && ! grep -q -- "$stop_re" "$log" &&
		[ $((SECONDS - start)) -lt "$limit" ]; do
		sleep 1
	done
	kill -TERM $pid 2>/dev/null
	wait $pid 2>/dev/null
	local want=(
		"Command line: $line"
		'BIOS-e820: \[mem 0x0000000000000000-0x000000000009fbff\] usable'
		'BIOS-e820: \[mem 0x0000000000100000-0x000000001fffffff\] usable'
		"${acpi_want[@]}"
		'smpboot: Allowing 2 CPUs'
		'RAMDISK: \[mem 0x[0-9a-f]+-0x[0-9a-f]+\]'
		'\] Memory: [0-9]+K/[0-9]+K available'
		"${more_want[@]}"
	)
	local missing=""
	for re in "${want[@]}"; do
		grep -Eq -- "$re" "$log" || missing="$missing [$re]"
	done
	if [ -z "$missing" ]; then
		passed=$((passed + 1))
		echo "PASS $name ($((SECONDS - start)) s to the line it waits for)"
	else
		failed=$((failed + 1))
		echo "FAIL $name: missing$missing"
		tail -n 20 "$log" | sed 's/^/  log| /'
	fi
	rm -f "$log"
}

boot linux-vmlinux-pvh 240 "$A/vmlinux"
boot linux-vmlinux-64bit 240 --no-pvh "$A/vmlinux"
# The bzImage decompresses itself first: minutes of emulated CPL 0 on these hosts.
boot linux-bzimage 600 "$A/vmlinuz"
# Full ACPI (docs/hvm.md): Linux takes the PM timer and the FACS from the FADT.
acpi_want=("${acpi_reduced[@]}" 'ACPI: FACS 0x[0-9A-F]+ 000040' 'ACPI: PM-Timer IO Port: 0xb008')
boot linux-vmlinux-pvh-acpi-full 240 --acpi full "$A/vmlinux"
acpi_want=("${acpi_reduced[@]}")
# A CPU model that hides cx16 (docs/hvm.md): Linux no longer stops after its Memory: line
# on lock cmpxchg16b; it brings up the console, ACPI, the APIC, and stops at XSAVE (which
# this host's KVM cannot hide: its hardware bit shows through).
stop_re="x86/fpu: Supporting XSAVE feature 0x001"
more_want=('SLUB: HWalign=' 'printk: console \[ttyS0\] enabled' 'ACPI: Core revision'
	'APIC: Switch to symmetric I/O mode setup' "x86/fpu: Supporting XSAVE feature 0x001")
boot linux-vmlinux-pvh-cpu-nocx16 240 --cpu host,-cx16 "$A/vmlinux"
stop_re='\] Memory: ' more_want=()
# Not with acpi=off: Debian's cloud kernel is built without CONFIG_X86_MPPARSE, so it never
# looks for the MP table (tests/hvm/mptable.c checks the table instead).
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
