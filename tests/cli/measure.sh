#!/bin/bash
# measure: required and fully allocated sizes, the same as qemu-img's, for a size or an image.
. "$(dirname "$0")/lib.sh"
need_qemu_img
need_python
need_qcow2

for args in "--size 10G -O qcow2" "--size 1G -O qcow2 -o cluster_size=4k" \
    "--size 100G -O qcow2 -o preallocation=metadata" "--size 1G -O raw"; do
    pi 0 measure --output=json $args
    mv out p.json
    qemu-img measure --output=json $args >q.json
    json_same p.json q.json required fully-allocated
    pi 0 measure $args
    qemu-img measure $args >q.txt
    diff out q.txt >/dev/null || fail "measure $args text differs"
done
mkdata data.raw 32
qemu-img convert -O qcow2 data.raw data.qcow2
for src in data.raw data.qcow2; do
    for fmt in qcow2 raw; do
        pi 0 measure --output=json -O $fmt $src
        mv out p.json
        qemu-img measure --output=json -O $fmt $src >q.json
        json_equal p.json q.json
        pi 0 measure -O $fmt $src
        qemu-img measure -O $fmt $src >q.txt
        diff out q.txt >/dev/null || fail "measure -O $fmt $src text differs: $(cat out q.txt)"
    done
done

done_ok
