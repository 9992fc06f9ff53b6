#!/bin/bash
# resize, compare, amend and map on qcow2, against qemu-img.
. "$(dirname "$0")/lib.sh"
need_qemu_img
need_python
need_qcow2

pi 0 create -q -f qcow2 r.qcow2 1G
pi 0 resize r.qcow2 +5G
expect_out "Image resized."
qemu-img info --output=json r.qcow2 | grep -q '"virtual-size": 6442450944' || fail "resize +5G"
pi 1 resize r.qcow2 -- -1G
expect_err "Use the --shrink option"
pi 0 resize --shrink r.qcow2 -- -1G
qemu-img info --output=json r.qcow2 | grep -q '"virtual-size": 5368709120' || fail "resize --shrink"
pi 0 resize --preallocation=falloc r.qcow2 6G
qemu-img check -q r.qcow2 || fail "check after resize"
ok
pi 0 resize -f qcow2 -q r.qcow2 7G
[ ! -s out ] || fail "resize -q printed"

mkdata data.raw 32
qemu-img convert -O qcow2 data.raw data.qcow2
pi 0 compare data.raw data.qcow2
expect_out "Images are identical."
pi 0 compare -f raw -F qcow2 data.raw data.qcow2
qemu-io -c 'write -P 5 5000000 1' data.qcow2 >/dev/null
pi 1 compare data.raw data.qcow2
qemu-img compare data.raw data.qcow2 >q.txt
diff out q.txt >/dev/null || fail "compare text differs: $(cat out q.txt)"
pi 0 resize data.qcow2 +1M
pi 1 compare -s data.raw data.qcow2
expect_out "Strict mode: "

pi 0 create -q -f qcow2 am.qcow2 64M
qemu-io -c 'write -P 1 0 1M' am.qcow2 >/dev/null
pi 0 amend -o compat=0.10 am.qcow2
qemu-img info am.qcow2 | grep -q "compat: 0.10" || fail "amend compat=0.10"
qemu-img check -q am.qcow2 || fail "check after amend"
ok
pi 1 amend -o lazy_refcounts=on am.qcow2
expect_err "Lazy refcounts only supported"
pi 0 amend -o compat=1.1,lazy_refcounts=on am.qcow2
qemu-img info am.qcow2 | grep -q "lazy refcounts: true" || fail "amend lazy_refcounts"
pi 1 amend -o cluster_size=4k am.qcow2
expect_err "Invalid parameter 'cluster_size'"
pi 0 amend -o help am.qcow2
expect_out "Amend options for 'qcow2':"

# map against qemu-img on images qemu-img wrote
qemu-img create -q -f qcow2 m.qcow2 64M
qemu-io -c 'write -P 1 0 1M' -c 'write -z 4M 1M' -c 'write -P 2 9M 64k' -c 'write -P 3 63M 1M' m.qcow2 >/dev/null
for o in "" "--output=json" "--output=json --start-offset=1M --max-length=9M"; do
    pi 0 map $o m.qcow2
    qemu-img map $o m.qcow2 >q.map
    cmp out q.map || fail "map $o differs: $(diff out q.map | head)"
done
# compressed clusters: JSON without offsets, human output refused, as qemu-img
base64 -w0 /dev/urandom | head -c 4194304 >text.raw
qemu-img convert -c -O qcow2 text.raw comp.qcow2
pi 0 map --output=json comp.qcow2
qemu-img map --output=json comp.qcow2 >q.map
cmp out q.map || fail "map of a compressed image differs"
pi 1 map comp.qcow2
expect_err "File contains external, encrypted or compressed clusters."
done_ok
