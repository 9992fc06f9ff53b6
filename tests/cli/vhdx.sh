#!/bin/bash
# vhdx, read-only, against qemu-img as the oracle: dynamic and fixed images with every create
# option qemu-img offers, written with qemu-io; info (human, JSON), map JSON and convert
# (-O raw byte for byte, -O qcow2 with qemu-img compare) must match qemu-img's. Damaged
# images (headers, region table, metadata, BAT, truncation, a log that needs a replay) give
# a clear error, exit 1 and no target.
. "$(dirname "$0")/lib.sh"
need_qemu_img
need_python
command -v qemu-io >/dev/null 2>&1 || skip "qemu-io is not installed"

same_as_qemu() {
    img=$1
    for cmd in info "info --output=json" "map --output=json"; do
        pi 0 $cmd "$img"
        qemu-img $cmd "$img" >q.out
        cmp -s out q.out || fail "$cmd of $img differs: $(diff out q.out | head -8)"
    done
    rm -f p.raw q.raw p.qcow2
    pi 0 convert -O raw "$img" p.raw
    qemu-img convert -O raw "$img" q.raw
    cmp p.raw q.raw || fail "convert -O raw of $img differs from qemu-img's"
    pi 0 convert -f vhdx -O qcow2 "$img" p.qcow2
    qemu-img compare -q -f raw -F qcow2 q.raw p.qcow2 || fail "convert -O qcow2 of $img differs"
}

size=$((40 * 1024 * 1024 + 4096))
n=0
for opts in "" "subformat=fixed" "block_size=1M" "block_size=32M" "block_size=256M" \
    "block_state_zero=off" "log_size=4M" "subformat=fixed,block_size=2M" "preallocation=full"; do
    n=$((n + 1))
    qemu-img create -q -f vhdx ${opts:+-o "$opts"} v$n.vhdx $size || fail "qemu-img create -o $opts"
    qemu-io -f vhdx -c "write -P 0x11 0 64k" -c "write -P 0x22 1M 1M" -c "write -z 8M 64k" \
        -c "write -P 0x33 $((size - 4096)) 4096" v$n.vhdx >/dev/null
    same_as_qemu v$n.vhdx
done
qemu-img create -q -f vhdx empty.vhdx 1G
same_as_qemu empty.vhdx
# What qemu-img convert writes, from data with holes.
mkdata data.raw 9
qemu-img convert -f raw -O vhdx data.raw conv.vhdx
same_as_qemu conv.vhdx
pi 0 convert -O raw conv.vhdx back.raw
cmp back.raw data.raw || fail "vhdx round trip differs"

# Damage, one thing at a time, on copies of v1.vhdx.
damage() { # damage NAME PYTHON-STATEMENTS (img: bytearray; crc(b): CRC-32C)
    python3 - v1.vhdx "$1" "$2" <<'PY'
import struct, sys
def crc(b):
    c = 0xFFFFFFFF
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF
img = bytearray(open(sys.argv[1], "rb").read())
def fix(off, size):
    img[off + 4:off + 8] = b"\0\0\0\0"
    img[off + 4:off + 8] = struct.pack("<I", crc(img[off:off + size]))
def region(guid):
    n = struct.unpack_from("<I", img, 192 * 1024 + 8)[0]
    for i in range(n):
        e = 192 * 1024 + 16 + 32 * i
        if img[e:e + 16] == guid:
            return struct.unpack_from("<Q", img, e + 16)[0]
BAT = bytes.fromhex("6677c22d23f600429d64115e9bfd4a08")
META = bytes.fromhex("06a27c8b90479a4bb8fe575f050f886e")
PARAMS = bytes.fromhex("3767a1ca36fa434db3b633f0aa44e76b")
def item(guid):
    m = region(META)
    n = struct.unpack_from("<H", img, m + 10)[0]
    for i in range(n):
        e = m + 32 + 32 * i
        if img[e:e + 16] == guid:
            return m + struct.unpack_from("<I", img, e + 16)[0]
exec(sys.argv[3])
open(sys.argv[2], "wb").write(img)
PY
}
refused() { # refused IMAGE SUBSTRING: qemu-img refuses it too, poolimg exits 1 naming why
    rm -f p.raw
    qemu-img convert -O raw "$1" q2.raw 2>/dev/null && fail "qemu-img reads $1: not damaged"
    pi 1 convert -O raw "$1" p.raw
    expect_err "$2"
    expect_absent p.raw
}
damage bad-heads.vhdx 'img[64*1024] ^= 1; img[128*1024] ^= 1'
refused bad-heads.vhdx "No valid VHDX header"
damage one-head.vhdx 'img[64*1024 + 100] ^= 1'
pi 0 convert -O raw one-head.vhdx p.raw
qemu-img convert -O raw v1.vhdx v1.raw
cmp p.raw v1.raw || fail "an image with one good header read differently"
damage bad-region.vhdx 'img[192*1024 + 40] ^= 1; img[256*1024 + 40] ^= 1'
refused bad-region.vhdx "region table"
damage block-size.vhdx 'struct.pack_into("<I", img, item(PARAMS), 3 * 1024 * 1024)'
refused block-size.vhdx "block size"
damage parent.vhdx 'struct.pack_into("<I", img, item(PARAMS) + 4, 2)'
pi 1 info parent.vhdx
expect_err "differencing"
damage bat-eof.vhdx 'struct.pack_into("<Q", img, region(BAT), (1 << 40) | 6)'
refused bat-eof.vhdx "past the end"
python3 -c "import sys; d=open('v1.vhdx','rb').read(); open('trunc.vhdx','wb').write(d[:200*1024])"
refused trunc.vhdx "truncated"
# A log entry to replay: both headers name a log GUID, the log holds a valid entry.
damage dirty.vhdx '
guid = bytes(range(1, 17))
for h in (64 * 1024, 128 * 1024):
    img[h + 48:h + 64] = guid
    fix(h, 4096)
log = struct.unpack_from("<Q", img, 64 * 1024 + 72)[0]
e = bytearray(4096)
e[0:4] = b"loge"
struct.pack_into("<IIQII", e, 8, 4096, 0, 1, 0, 0)
e[32:48] = guid
struct.pack_into("<I", e, 4, crc(e))
img[log:log + 4096] = e
'
refused dirty.vhdx "log that needs to be replayed"
done_ok
