#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fetches Debian's cloud kernel and prepares what the first-minute Linux test boots:
#   DIR/vmlinuz   the bzImage from linux-image-cloud-amd64
#   DIR/vmlinux   the uncompressed ELF inside it (payload decompressed with lz4)
#   DIR/initrd    a small newc cpio archive
# Usage: linux_assets.sh DIR   (idempotent: reuses what is already there)
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
if [ ! -s vmlinuz ]; then
	pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends:/ {print $2; exit}')
	if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then # a fresh machine: no package lists yet
		apt-get update -qq
		pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends:/ {print $2; exit}')
	fi
	[ -n "$pkg" ] || { echo "linux_assets: no linux-image-cloud-amd64 in apt (run apt-get update)" >&2; exit 1; }
	rm -f ./*.deb
	apt-get download "$pkg" >/dev/null 2>&1
	rm -rf root
	dpkg-deb -x ./"$pkg"_*.deb root
	cp root/boot/vmlinuz-* vmlinuz
	rm -rf root ./*.deb
fi
if [ ! -s vmlinux ]; then
	python3 - vmlinuz payload.lz4 <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
setup_sects = d[0x1f1] or 4
off, length = struct.unpack_from("<II", d, 0x248)  # payload_offset, payload_length
start = (setup_sects + 1) * 512 + off
open(sys.argv[2], "wb").write(d[start:start + length])
PY
	lz4 -dc payload.lz4 >vmlinux 2>/dev/null || true
	rm -f payload.lz4
	head -c 4 vmlinux | grep -q ELF || { echo "linux_assets: could not extract vmlinux" >&2; exit 1; }
fi
if [ ! -s initrd ]; then
	python3 - initrd <<'PY'
import sys
def entry(name, data, mode):
    name = name.encode() + b"\0"
    hdr = b"070701" + b"".join(b"%08X" % v for v in (
        1, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name), 0))
    pad = lambda n: b"\0" * ((4 - n % 4) % 4)
    return hdr + name + pad(len(hdr) + len(name)) + data + pad(len(data))
out = entry("hello.txt", b"hello from the capsule initrd\n", 0o100644) + entry("TRAILER!!!", b"", 0)
open(sys.argv[1], "wb").write(out + b"\0" * ((512 - len(out) % 512) % 512))
PY
fi
ls -l vmlinuz vmlinux initrd
