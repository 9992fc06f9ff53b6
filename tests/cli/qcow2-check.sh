#!/bin/bash
# check: same findings, text and exit codes as qemu-img on clean, leaking and corrupt images.
. "$(dirname "$0")/lib.sh"
need_qemu_img
need_python
need_qcow2

# patch IMG leak|corrupt: drops the L2 entry of the first data cluster (a leak) or sets
# its refcount to 0 (a corruption). Cluster size 64k, refcount_bits 16.
patch() {
    python3 - "$1" "$2" <<'PY'
import struct, sys
path, what = sys.argv[1], sys.argv[2]
f = open(path, 'r+b')
def u64(off):
    f.seek(off); return struct.unpack('>Q', f.read(8))[0]
l1 = u64(40)
l2 = u64(l1) & 0x00fffffffffffe00
data = u64(l2) & 0x00fffffffffffe00
if what == 'leak':
    f.seek(l2); f.write(b'\0' * 8)
else:
    rt = u64(48)
    rb = u64(rt) & 0xfffffffffffffe00
    f.seek(rb + (data // 65536) * 2); f.write(b'\0\0')
f.close()
PY
}

same_check() {
    want=$1
    pi "$want" check "$2"
    qemu-img check "$2" >q.txt 2>/dev/null
    qrc=$?
    [ "$qrc" = "$want" ] || fail "qemu-img check exits $qrc, poolimg $want"
    diff out q.txt >d.txt || fail "check text differs from qemu-img: $(cat d.txt)"
    pi "$want" check --output=json "$2"
    mv out p.json
    qemu-img check --output=json "$2" >q.json 2>/dev/null
    json_same p.json q.json image-end-offset total-clusters check-errors allocated-clusters \
        leaks corruptions filename format
    diff p.json q.json >d.txt || fail "check --output=json text differs from qemu-img: $(cat d.txt)"
    ok
}

pi 0 create -q -f qcow2 clean.qcow2 64M
qemu-io -c 'write -P 1 0 3M' -c 'write -P 2 20M 64k' clean.qcow2 >/dev/null
same_check 0 clean.qcow2
qemu-img convert -c -O qcow2 clean.qcow2 comp.qcow2
same_check 0 comp.qcow2

cp clean.qcow2 leak.qcow2
patch leak.qcow2 leak
same_check 3 leak.qcow2
pi 0 check -r leaks leak.qcow2
expect_out "The following inconsistencies were found and repaired:"
qemu-img check -q leak.qcow2 || fail "leak still there after check -r leaks"
ok

cp clean.qcow2 bad.qcow2
patch bad.qcow2 corrupt
same_check 2 bad.qcow2
pi 0 check -r all bad.qcow2
qemu-img check -q bad.qcow2 || fail "corruption still there after check -r all"
ok
pi 63 check -f raw clean.qcow2
pi 1 check -r leaks nothere.qcow2
done_ok
