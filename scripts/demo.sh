#!/bin/bash
# The main job: install what is missing, build, run a short poolimg session that creates,
# writes, snapshots, checks and converts an image, then a poold + poolctl session
# (scripts/poold-demo.sh), saying what each step does.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
if [ ! -f "$root/build/build.ninja" ]; then
    meson setup "$root/build" >/dev/null
fi
ninja -C "$root/build" >/dev/null
poolimg="$root/build/client/poolimg"

work=$(mktemp -d /var/tmp/poolimg-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
step() { printf '\n$ %s\n' "$*"; "$@"; }

echo "== poolimg demo in $work"
# Guest data to write: 4 MiB of text at the start, 1 MiB of random bytes at 64 MiB.
step "$poolimg" create -f raw data.raw 128M
seq 1 600000 | head -c 4M | dd of=data.raw conv=notrunc status=none
head -c 1M /dev/urandom | dd of=data.raw bs=1M seek=64 conv=notrunc status=none
echo "(wrote 4 MiB of text at 0 and 1 MiB of random data at 64 MiB into data.raw)"
step "$poolimg" convert -p -f raw -O qcow2 data.raw disk.qcow2
step "$poolimg" info disk.qcow2
step "$poolimg" snapshot -c backup1 disk.qcow2
step "$poolimg" resize disk.qcow2 +64M
step "$poolimg" snapshot -l disk.qcow2
step "$poolimg" create -f qcow2 -b disk.qcow2 -F qcow2 overlay.qcow2
step "$poolimg" map overlay.qcow2
step "$poolimg" check disk.qcow2
step "$poolimg" convert -c -f qcow2 -O qcow2 disk.qcow2 compressed.qcow2
step "$poolimg" convert -f qcow2 -O raw compressed.qcow2 back.raw
step "$poolimg" compare -f raw -F raw data.raw back.raw || true
step "$poolimg" snapshot -a backup1 disk.qcow2
step "$poolimg" info --output=json disk.qcow2
echo
ls -ls "$work"
echo "== done: every step above ran on poold's own image engine"
rm -rf "$work"
trap - EXIT
echo
exec "$root/scripts/poold-demo.sh"
