#!/bin/bash
# commit into a middle image that has its own backing file (issue 14 item 1): where the top
# allocates less than a whole cluster of the middle image (smaller clusters, or subclusters),
# the rest of each newly allocated middle cluster must come from the middle image's backing
# file, as qemu-img's commit does, never zeroes. qemu-img commit of the same chain is the oracle.
. "$(dirname "$0")/lib.sh"
need_qemu_img
need_qcow2

mkchain() { # mkchain DIR TOP-OPTIONS
    mkdir -p "$1"
    (
        cd "$1" || exit 1
        qemu-img create -q -f raw b.raw 4M
        qemu-io -f raw -c 'write -P 0x8f 0 4M' b.raw >/dev/null
        qemu-img create -q -f qcow2 -b b.raw -F raw m.qcow2
        qemu-io -c 'write -P 0x33 1M 64k' m.qcow2 >/dev/null
        qemu-img create -q -f qcow2 -o "$2" -b m.qcow2 -F qcow2 t.qcow2
        qemu-io -c 'write -P 0x11 0 4k' -c 'write -P 0x12 200k 8k' -c 'write -z 1M 4k' \
            -c 'write -P 0x13 3M 4k' t.qcow2 >/dev/null
    )
}

for opts in cluster_size=4k extended_l2=on cluster_size=16k,extended_l2=on; do
    rm -rf p q
    mkchain p "$opts"
    mkchain q "$opts"
    qemu-img convert -O raw p/t.qcow2 expect.raw
    pi 0 commit p/t.qcow2
    qemu-img commit -q q/t.qcow2 || fail "qemu-img commit ($opts)"
    qemu-io -r -c 'read -P 0x8f 4k 60k' p/m.qcow2 >out 2>&1
    grep -q "Pattern verification failed" out && fail "commit ($opts) zero-filled the middle image"
    ok
    qemu-img compare -q p/m.qcow2 expect.raw || fail "commit ($opts): the middle image lacks data"
    qemu-img compare -q p/t.qcow2 expect.raw || fail "commit ($opts): the top reads differently"
    qemu-img compare -q p/m.qcow2 q/m.qcow2 || fail "commit ($opts) differs from qemu-img's"
    qemu-img check -q p/m.qcow2 || fail "check after commit ($opts)"
    qemu-img check -q p/t.qcow2 || fail "check of the top after commit ($opts)"
    ok
done
done_ok
