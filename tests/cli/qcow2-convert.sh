#!/bin/bash
# convert between raw and qcow2 with every option, judged by qemu-img compare/check/map.
. "$(dirname "$0")/lib.sh"
need_qemu_img
need_qcow2

mkdata data.raw 64
head -c 4194304 /dev/zero | dd of=data.raw bs=1M seek=20 conv=notrunc status=none # zeroes as data

same_data() {
    qemu-img compare -q "$1" "$2" || fail "$2 does not hold the same data as $1"
    ok
}
clean() {
    qemu-img check -q "$1" || fail "qemu-img check finds problems in $1"
    ok
}
same_map() {
    pi 0 map --output=json "$1"
    qemu-img map --output=json "$1" >q.map
    cmp out q.map || fail "map --output=json of $1 differs from qemu-img: $(diff out q.map | head)"
    pi 0 map "$1"
    qemu-img map "$1" >q.map
    cmp out q.map || fail "map of $1 differs from qemu-img"
}

pi 0 convert -f raw -O qcow2 data.raw a.qcow2
clean a.qcow2
same_data data.raw a.qcow2
same_map a.qcow2
qemu-img convert -f raw -O qcow2 data.raw q.qcow2
[ "$(stat -c %s a.qcow2)" -le $(($(stat -c %s q.qcow2) + 1048576)) ] || fail "a.qcow2 much larger than qemu-img's"
ok

pi 0 convert -p -f qcow2 -O raw a.qcow2 back.raw
cmp data.raw back.raw || fail "qcow2->raw differs"
expect_out "(100.00/100%)"

# compressed, in order and out of order, with a chosen thread count
for extra in "" "-W" "-m 1" "-m 4"; do
    rm -f c.qcow2
    pi 0 convert -c $extra -f raw -O qcow2 data.raw c.qcow2
    clean c.qcow2
    same_data data.raw c.qcow2
    qemu-img check c.qcow2 | grep -q "compressed clusters" || fail "no compressed clusters with -c $extra"
done
pi 0 convert -c -O qcow2 -o compression_type=zstd data.raw z.qcow2
clean z.qcow2
same_data data.raw z.qcow2
pi 0 convert -O raw c.qcow2 c.raw
cmp data.raw c.raw || fail "compressed qcow2 -> raw differs"
qemu-img convert -c -O qcow2 data.raw qc.qcow2
pi 0 convert -O raw qc.qcow2 qc.raw
cmp data.raw qc.raw || fail "qemu-img's compressed qcow2 read back differently"

# create options through convert
for opts in "compat=0.10" "cluster_size=4k" "cluster_size=2M" "preallocation=metadata" \
    "lazy_refcounts=on" "refcount_bits=1" "extended_l2=on"; do
    rm -f o.qcow2
    pi 0 convert -O qcow2 -o "$opts" data.raw o.qcow2
    clean o.qcow2
    same_data data.raw o.qcow2
done
pi 0 convert -S 0 -O qcow2 data.raw full.qcow2
same_data data.raw full.qcow2
# zeroes written as data in the source (20M..24M) are not allocated by default, are with -S 0
allocated_at() { # IMG OFFSET: is the cluster at OFFSET allocated as data in IMG's own layer?
    qemu-img map --output=json "$1" | python3 -c '
import json, sys
off = int(sys.argv[1])
for e in json.load(sys.stdin):
    if e["start"] <= off < e["start"] + e["length"]:
        sys.exit(0 if e["data"] and e["depth"] == 0 else 1)
sys.exit(1)' "$2"
}
allocated_at a.qcow2 $((21 * 1048576)) && fail "zero data was allocated with the default -S"
allocated_at full.qcow2 $((21 * 1048576)) || fail "-S 0 did not allocate zero data"
allocated_at full.qcow2 $((40 * 1048576 + 12345)) || fail "-S 0 did not allocate a hole"
ok
pi 0 convert -O qcow2 -S 64k data.raw s.qcow2
same_data data.raw s.qcow2

# qcow2 -> qcow2, -n into an existing image, --target-is-zero
pi 0 convert -O qcow2 a.qcow2 b.qcow2
same_data a.qcow2 b.qcow2
qemu-img create -q -f qcow2 exist.qcow2 64M
qemu-io -c 'write -P 7 0 64M' exist.qcow2 >/dev/null
pi 0 convert -n -O qcow2 data.raw exist.qcow2
same_data data.raw exist.qcow2
clean exist.qcow2
qemu-img create -q -f qcow2 ex2.qcow2 64M
pi 0 convert -n --target-is-zero data.raw ex2.qcow2
same_data data.raw ex2.qcow2

# -n into an overlay: every byte of the source lands, whatever the overlay's backing holds
qemu-img create -q -f raw junk.raw 64M
qemu-io -f raw -c 'write -P 9 0 64M' junk.raw >/dev/null
qemu-img create -q -f qcow2 -b junk.raw -F raw ov-target.qcow2
pi 0 convert -n -O qcow2 data.raw ov-target.qcow2
same_data data.raw ov-target.qcow2

# -B: a new overlay holding only what the source's top layer holds
qemu-img create -q -f raw base.raw 64M
qemu-io -f raw -c 'write -P 1 0 64M' base.raw >/dev/null
qemu-img create -q -f qcow2 -b base.raw -F raw src.qcow2
qemu-io -c 'write -P 2 1M 1M' -c 'write -z 8M 1M' src.qcow2 >/dev/null
pi 0 convert -O qcow2 -B base.raw -F raw src.qcow2 dst.qcow2
clean dst.qcow2
same_data src.qcow2 dst.qcow2
qemu-img info dst.qcow2 | grep -q "backing file: base.raw" || fail "-B not recorded"
[ "$(stat -c %s dst.qcow2)" -lt 8388608 ] || fail "-B copied the backing file's data"
# without -B the chain is flattened
pi 0 convert -O qcow2 src.qcow2 flat.qcow2
same_data src.qcow2 flat.qcow2
qemu-img info flat.qcow2 | grep -q "backing file" && fail "flattened image has a backing file"

# odd sizes: qcow2 rounds up to whole sectors, as qemu-img
head -c 1000 /dev/urandom >odd.raw
for c in "" "-c"; do
    rm -f odd.qcow2
    pi 0 convert $c -O qcow2 odd.raw odd.qcow2
    same_data odd.raw odd.qcow2
    clean odd.qcow2
done

# a source that fails mid-way (a compressed cluster that does not decompress): exit 1, a
# message naming the image, nothing left behind; also with parallel compression
base64 -w0 /dev/urandom | head -c 8388608 >text.raw
qemu-img convert -c -O qcow2 text.raw broken.qcow2
python3 - <<'PY' || skip "python3 missing"
import struct
f = open('broken.qcow2', 'r+b')
def u64(o):
    f.seek(o); return struct.unpack('>Q', f.read(8))[0]
l2 = u64(u64(40)) & 0x00fffffffffffe00
off = u64(l2 + 8 * 5) & ((1 << 54) - 1)
f.seek(off); f.write(b'\xff' * 200)
PY
for c in "" "-c" "-c -W"; do
    pi 1 convert $c -O qcow2 broken.qcow2 fromb.qcow2
    expect_err "broken.qcow2"
    expect_absent fromb.qcow2
done

# cancellation and failures leave nothing behind
head -c 268435456 /dev/urandom >big.raw
timeout -s INT 0.5 "$POOLIMG" convert -c -O qcow2 big.raw big.qcow2 >out 2>err
if [ $? != 0 ]; then
    expect_absent big.qcow2
    expect_err "cancelled"
else
    echo "note: convert finished before the signal; cancellation not exercised"
fi
done_ok
