#!/bin/bash
# qcow2 create with each option, judged by qemu-img check and compared with qemu-img info.
. "$(dirname "$0")/lib.sh"
need_qemu_img
need_python
need_qcow2

INFO_KEYS="virtual-size format cluster-size actual-size dirty-flag filename
format-specific.type format-specific.data.compat format-specific.data.compression-type
format-specific.data.lazy-refcounts format-specific.data.refcount-bits
format-specific.data.corrupt format-specific.data.extended-l2 backing-filename
backing-filename-format full-backing-filename"

# same_info IMG: poolimg info and qemu-img info agree (human text identical, JSON keys equal).
same_info() {
    pi 0 info "$1"
    qemu-img info -U "$1" >q.txt
    diff out q.txt >d.txt || fail "info of $1 differs from qemu-img: $(cat d.txt)"
    pi 0 info --output=json "$1"
    mv out p.json
    qemu-img info -U --output=json "$1" >q.json
    json_same p.json q.json $INFO_KEYS
    json_equal p.json q.json
    # The text too: scripts grep qemu-img's '"key": value' layout.
    diff p.json q.json >d.txt || fail "info --output=json text of $1 differs from qemu-img: $(cat d.txt)"
    ok
}

qemu_check_clean() {
    qemu-img check -q "$1" || fail "qemu-img check finds problems in $1"
    ok
}

i=0
for opts in "" "compat=0.10" "compat=1.1" "cluster_size=512" "cluster_size=4k" \
    "cluster_size=2M" "lazy_refcounts=on" "refcount_bits=1" "refcount_bits=8" \
    "refcount_bits=64" "compression_type=zstd" "extended_l2=on" "preallocation=metadata" \
    "preallocation=falloc" "preallocation=full" "compat=0.10,cluster_size=4k" \
    "compat=v3,lazy_refcounts=on,refcount_bits=32,cluster_size=128k"; do
    i=$((i + 1))
    img=img$i.qcow2
    if [ -n "$opts" ]; then
        pi 0 create -f qcow2 -o "$opts" $img 64M
        qemu-img create -f qcow2 -o "$opts" ref$i.qcow2 64M >q.txt
    else
        pi 0 create -f qcow2 $img 64M
        qemu-img create -f qcow2 ref$i.qcow2 64M >q.txt
    fi
    sed "s/ref$i.qcow2/$img/" q.txt | diff - out >d.txt || fail "create line for '$opts': $(cat d.txt)"
    qemu_check_clean $img
    same_info $img
    # and qemu-img's image, read by poolimg
    same_info ref$i.qcow2
done

# Sizes: suffixes and odd sizes
for size in 1 512 1000 1k 1.5M 3G 1T 256T; do
    pi 0 create -q -f qcow2 s.qcow2 $size
    qemu_check_clean s.qcow2
    same_info s.qcow2
done

# Backing files: size from the backing file, recorded format, relative names.
qemu-img create -q -f raw base.raw 32M
pi 0 create -f qcow2 -b base.raw -F raw ov.qcow2
expect_out "size=33554432 backing_file=base.raw backing_fmt=raw"
qemu_check_clean ov.qcow2
same_info ov.qcow2
mkdir sub
qemu-img create -q -f qcow2 sub/base.qcow2 16M
pi 0 create -f qcow2 -o backing_file=base.qcow2,backing_fmt=qcow2 sub/ov.qcow2
same_info sub/ov.qcow2
pi 0 info --backing-chain sub/ov.qcow2
qemu-img info --backing-chain sub/ov.qcow2 >q.txt
diff out q.txt >d.txt || fail "info --backing-chain differs: $(cat d.txt)"
pi 0 info --backing-chain --output=json sub/ov.qcow2
python3 -c 'import json,sys; a=json.load(open("out")); assert len(a)==2 and a[1]["filename"]=="sub/base.qcow2", a' ||
    fail "info --backing-chain --output=json"
# without -F the format is detected (with a warning) and recorded
pi 0 create -f qcow2 -b base.raw nof.qcow2
expect_err "warning"
qemu-img info --output=json nof.qcow2 | grep -q '"backing-filename-format": "raw"' || fail "detected backing format not recorded"
# -u: the backing file need not exist
pi 0 create -f qcow2 -u -b nothere.img -F raw u.qcow2 1G
qemu-img info u.qcow2 | grep -q "backing file: nothere.img" || fail "-u did not record the backing file"
pi 1 create -f qcow2 -u -b nothere.img -F raw u2.qcow2
expect_err "Image creation needs a size parameter"
expect_absent u2.qcow2
pi 1 create -f qcow2 -b nothere.img -F raw u3.qcow2 1G
expect_absent u3.qcow2

# -o help
pi 0 create -f qcow2 -o help
expect_out "Supported qcow2 options:"
expect_out "cluster_size=<size>"
pi 0 create -f raw -o help
expect_out "preallocation=<str>"
# an existing file is replaced
echo junk >x.qcow2
pi 0 create -q -f qcow2 x.qcow2 1M
qemu_check_clean x.qcow2
done_ok
