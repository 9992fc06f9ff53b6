#!/bin/bash
# vmdk, read-only, against qemu-img as the oracle: every subformat and create option qemu-img
# offers, written with qemu-io/qemu-img, then info (human and JSON), map (human and JSON) and
# convert (-O raw compared byte for byte with qemu-img's, -O qcow2 compared with qemu-img
# compare) must match qemu-img's. Also the tutorial's convert -f vmdk -O qcow2, a backing
# chain of vmdk deltas, probing without -f, and the refusal to write.
. "$(dirname "$0")/lib.sh"
need_qemu_img
command -v qemu-io >/dev/null 2>&1 || skip "qemu-io is not installed"

same_as_qemu() { # same_as_qemu IMAGE [-f vmdk]
    img=$1
    shift
    pi 0 info "$@" "$img"
    qemu-img info "$@" "$img" >q.out
    cmp -s out q.out || fail "info of $img differs: $(diff out q.out | head -8)"
    pi 0 info --output=json "$@" "$img"
    qemu-img info --output=json "$@" "$img" >q.out
    cmp -s out q.out || fail "info --output=json of $img differs: $(diff out q.out | head -8)"
    pi 0 map --output=json "$@" "$img"
    qemu-img map --output=json "$@" "$img" >q.out
    cmp -s out q.out || fail "map --output=json of $img differs: $(diff out q.out | head -8)"
    qemu-img map "$@" "$img" >q.out 2>q.err
    qrc=$?
    pi $qrc map "$@" "$img"
    cmp -s out q.out || fail "map of $img differs: $(diff out q.out | head -8)"
    rm -f p.raw q.raw p.qcow2
    pi 0 convert "$@" -O raw "$img" p.raw
    qemu-img convert "$@" -O raw "$img" q.raw
    cmp p.raw q.raw || fail "convert -O raw of $img differs from qemu-img's"
    pi 0 convert "$@" -O qcow2 "$img" p.qcow2
    qemu-img compare -q -f raw -F qcow2 q.raw p.qcow2 || fail "convert -O qcow2 of $img differs"
    ok
}

# Guest data: patterns at grain boundaries, inside grains, at the very end, zeroes written.
fill() { # fill IMAGE SIZE_BYTES
    qemu-io -f vmdk -c "write -P 0x11 0 64k" -c "write -P 0x22 100k 7k" \
        -c "write -P 0x33 1M 1M" -c "write -z 3M 128k" -c "write -P 0x44 $(($2 - 4096)) 4096" \
        "$1" >/dev/null || fail "qemu-io could not write $1"
}

size=$((8 * 1024 * 1024 + 3 * 512))
n=0
for sub in monolithicSparse monolithicFlat twoGbMaxExtentSparse twoGbMaxExtentFlat; do
    for opts in "" ",zeroed_grain=on" ",compat6=on" ",adapter_type=lsilogic" \
        ",adapter_type=buslogic" ",adapter_type=legacyESX" ",hwversion=6" \
        ",toolsversion=11" ",preallocation=full"; do
        n=$((n + 1))
        img=i$n-$sub.vmdk
        qemu-img create -q -f vmdk -o "subformat=$sub$opts" "$img" $size 2>/dev/null || continue
        fill "$img" $size
        same_as_qemu "$img"
        [ -z "$opts" ] && same_as_qemu "$img" -f vmdk
    done
done

# streamOptimized: what qemu-img convert writes (an OVA's disk), of data with holes; also
# empty, and grains written with qemu-io.
mkdata data.raw 9
for opts in "" ",compat6=on" ",adapter_type=lsilogic" ",hwversion=4"; do
    n=$((n + 1))
    qemu-img convert -f raw -O vmdk -o "subformat=streamOptimized$opts" data.raw s$n.vmdk
    same_as_qemu s$n.vmdk
done
qemu-img create -q -f vmdk -o subformat=streamOptimized empty.vmdk 5G
same_as_qemu empty.vmdk
qemu-img create -q -f vmdk -o subformat=streamOptimized w.vmdk 16M
qemu-io -f vmdk -c 'write -P 0x5a 0 1M' -c 'write -P 0x6b 4M 64k' w.vmdk >/dev/null
same_as_qemu w.vmdk

# The tutorial.
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized data.raw win.vmdk
pi 0 convert -f vmdk -O qcow2 win.vmdk win.qcow2
qemu-img compare -q -f raw -F qcow2 data.raw win.qcow2 || fail "the tutorial's convert differs"

# A delta on a vmdk parent (parentFileNameHint, CIDs).
qemu-img create -q -f vmdk base.vmdk 4M
qemu-io -f vmdk -c 'write -P 0x77 0 4M' base.vmdk >/dev/null
qemu-img create -q -f vmdk -b base.vmdk -F vmdk delta.vmdk 4M
qemu-io -f vmdk -c 'write -P 0x88 1M 64k' delta.vmdk >/dev/null
same_as_qemu delta.vmdk
# A parent changed after the delta was made: qemu-img refuses to read through it, so do we.
sed -i 's/^CID=.*/CID=12345678/' base.vmdk 2>/dev/null
if qemu-img convert -O raw delta.vmdk q2.raw 2>/dev/null; then :; else
    pi 1 convert -O raw delta.vmdk p2.raw
    expect_err "parentCID"
fi

# Extent names from a descriptor resolve beneath its directory; others are refused, and so is
# a sparse extent that holds a descriptor of its own (extents naming extents can loop).
mkdir -p d/sub
echo outside >outside.raw
truncate -s 1M outside.raw
desc() { # desc FILE EXTENT-LINE
    printf '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n%s\n' "$2" >"$1"
}
desc d/abs.vmdk 'RW 2048 FLAT "'"$T"'/outside.raw" 0'
pi 1 info d/abs.vmdk
expect_err "absolute"
desc d/up.vmdk 'RW 2048 FLAT "../outside.raw" 0'
pi 1 convert -O raw d/up.vmdk up.raw
expect_err "leads out of"
expect_absent up.raw
ln -s "$T/outside.raw" d/link.raw
desc d/link.vmdk 'RW 2048 FLAT "link.raw" 0'
pi 1 info d/link.vmdk
expect_err "leads out of"
mkfifo d/fifo.raw
desc d/fifo.vmdk 'RW 2048 FLAT "fifo.raw" 0'
timeout 10 "$POOLIMG" info d/fifo.vmdk >out 2>err
[ $? = 1 ] || fail "a FIFO extent was not refused (or hung)"
expect_err "not a regular file"
cp outside.raw d/sub/in.raw
desc d/ok.vmdk 'RW 2048 FLAT "sub/in.raw" 0'
same_as_qemu d/ok.vmdk
# A sparse extent whose header points at an embedded descriptor naming itself.
python3 - d/loop.vmdk <<'PY'
import struct, sys
hdr = bytearray(512)
hdr[0:4] = b"KDMV"
struct.pack_into("<IIQQQQIQQQ", hdr, 4, 1, 3, 0, 128, 1, 20, 512, 0, 21, 128)
text = b'# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType="twoGbMaxExtentSparse"\nRW 2048 SPARSE "loop.vmdk"\n'
open(sys.argv[1], "wb").write(bytes(hdr) + text.ljust(20 * 512, b"\0"))
PY
timeout 10 "$POOLIMG" info d/loop.vmdk >out 2>err
[ $? = 1 ] || fail "a self-naming extent was not refused (or hung)"
expect_err "descriptor of its own"

# Read-only: writes are refused with a clear error, the image unchanged.
cp win.vmdk keep.vmdk
pi 1 resize win.vmdk 20M
expect_err "read-only"
cmp win.vmdk keep.vmdk || fail "a refused resize changed the image"
pi 1 convert -O vmdk -o subformat=monolithicSparse data.raw new.vmdk
expect_absent new.vmdk

done_ok
