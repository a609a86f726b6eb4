#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what Capsule needs from Debian's archive. As root it runs apt-get; otherwise it
# prints the exact command to run.
#   install-deps.sh        to build and run capsule (what `make demo` needs)
#   install-deps.sh test   also what the tests, the fuzzer and the benchmarks use (CI)
set -eu
packages=(gcc make libc6-dev binutils liburing-dev libseccomp-dev libjansson-dev libsqlite3-dev nettle-dev libgnutls28-dev zlib1g-dev)
if [ "${1:-}" = test ]; then
	packages+=(libcmocka-dev util-linux iproute2 iputils-ping python3 clang libclang-rt-14-dev
		lz4 cpio acpica-tools qemu-system-x86 curl pkg-config groff-base man-db chromium openssl gdb
		containerd umoci docker.io)
	# The web dashboard's build and test (make web, check-web): Node.js and npm, Debian's
	# unless a Node.js with npm is installed already.
	command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
fi
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "capsule: missing packages: ${missing[*]}" >&2
	echo "capsule: install them with: sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "capsule: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
