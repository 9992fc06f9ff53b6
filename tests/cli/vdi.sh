#!/bin/bash
# vdi, read-only, against qemu-img as the oracle: dynamic and static images (every create
# option qemu-img offers), odd sizes, written with qemu-io; info (human, JSON), map (human,
# JSON) and convert (-O raw byte for byte, -O qcow2 with qemu-img compare). Damaged headers
# and block maps give qemu-img's refusal (or a clear error), exit 1 and no target.
. "$(dirname "$0")/lib.sh"
need_qemu_img
need_python
command -v qemu-io >/dev/null 2>&1 || skip "qemu-io is not installed"

same_as_qemu() {
    img=$1
    for cmd in info "info --output=json" "map --output=json" map; do
        pi 0 $cmd "$img"
        qemu-img $cmd "$img" >q.out
        cmp -s out q.out || fail "$cmd of $img differs: $(diff out q.out | head -8)"
    done
    rm -f p.raw q.raw p.qcow2
    pi 0 convert -O raw "$img" p.raw
    qemu-img convert -O raw "$img" q.raw
    cmp p.raw q.raw || fail "convert -O raw of $img differs from qemu-img's"
    pi 0 convert -f vdi -O qcow2 "$img" p.qcow2
    qemu-img compare -q -f raw -F qcow2 q.raw p.qcow2 || fail "convert -O qcow2 of $img differs"
}

n=0
for size in $((20 * 1024 * 1024 + 1536)) $((3 * 1024 * 1024)); do
    for opts in "" "static=on" "preallocation=full" "preallocation=falloc"; do
        n=$((n + 1))
        qemu-img create -q -f vdi ${opts:+-o "$opts"} v$n.vdi $size || fail "create -o $opts"
        qemu-io -f vdi -c "write -P 0x11 0 64k" -c "write -P 0x22 1536k 1M" \
            -c "write -P 0x33 $((size - 4096)) 4096" v$n.vdi >/dev/null
        same_as_qemu v$n.vdi
    done
done
mkdata data.raw 9
qemu-img convert -f raw -O vdi data.raw conv.vdi
same_as_qemu conv.vdi

damage() { # damage NAME PYTHON (img: bytearray of v1.vdi)
    python3 - v1.vdi "$1" "$2" <<'PY'
import struct, sys
img = bytearray(open(sys.argv[1], "rb").read())
exec(sys.argv[3])
open(sys.argv[2], "wb").write(img)
PY
}
refused() { # refused IMAGE SUBSTRING
    rm -f p.raw
    pi 1 convert -f vdi -O raw "$1" p.raw
    expect_err "$2"
    expect_absent p.raw
}
damage sig.vdi 'img[0x40] ^= 1'
refused sig.vdi "Image not in VDI format"
damage version.vdi 'struct.pack_into("<I", img, 0x44, 0x00010000)'
refused version.vdi "version 1.0"
damage bmap-unaligned.vdi 'struct.pack_into("<I", img, 0x154, 0x201)'
refused bmap-unaligned.vdi "unaligned block map offset"
damage block-size.vdi 'struct.pack_into("<I", img, 0x178, 4096)'
refused block-size.vdi "block size 4096"
damage disk-size.vdi 'struct.pack_into("<Q", img, 0x170, 1 << 40)'
refused disk-size.vdi "image bitmap has room"
damage parent.vdi 'img[0x1b8] = 1'
refused parent.vdi "non-NULL parent UUID"
damage blocks.vdi 'struct.pack_into("<I", img, 0x180, 0x7fffffff); struct.pack_into("<Q", img, 0x170, 1 << 50)'
refused blocks.vdi "max"
damage bmap-eof.vdi 'struct.pack_into("<I", img, 0x154, 0x7ffffe00)'
refused bmap-eof.vdi "past the end"
damage entry-eof.vdi 'struct.pack_into("<I", img, 0x200, 0x00fffff0)'
refused entry-eof.vdi "past the end"
python3 -c "d=open('v1.vdi','rb').read(); open('tiny.vdi','wb').write(d[:300])"
refused tiny.vdi "too small"
done_ok
