#!/bin/bash
# convert -O vmdk -o subformat=streamOptimized: qemu-img must accept the result (check) and
# read it identically (convert -O raw, cmp with the source), for sources with holes, odd
# sizes, several grain tables, an empty disk, qcow2 and vmdk sources; options land in the
# descriptor; other subformats and unknown options are refused and leave nothing behind.
. "$(dirname "$0")/lib.sh"
need_qemu_img

check_stream() { # check_stream SOURCE-RAW VMDK
    qemu-img check -q "$2" || fail "qemu-img check rejects $2"
    rm -f back.raw
    qemu-img convert -f vmdk -O raw "$2" back.raw
    cmp back.raw "$1" || fail "qemu-img reads $2 differently from its source"
    qemu-img info "$2" | grep -q "create type: streamOptimized" || fail "$2 is not streamOptimized"
    pi 0 info "$2"
    qemu-img info "$2" >q.out
    cmp -s out q.out || fail "info of $2 differs: $(diff out q.out | head -5)"
    ok
}

mkdata data.raw 40 # holes and data over two grain tables (32 MiB each)
pi 0 convert -f raw -O vmdk -o subformat=streamOptimized data.raw s1.vmdk
check_stream data.raw s1.vmdk
truncate -s $((5 * 1024 * 1024 + 3 * 512)) odd.raw
printf 'tail' | dd of=odd.raw bs=1 seek=$((5 * 1024 * 1024 + 1000)) conv=notrunc status=none
pi 0 convert -O vmdk -o subformat=streamOptimized odd.raw s2.vmdk
check_stream odd.raw s2.vmdk
truncate -s 1G empty.raw
pi 0 convert -O vmdk -o subformat=streamOptimized empty.raw s3.vmdk
check_stream empty.raw s3.vmdk
[ "$(stat -c %s s3.vmdk)" -lt 65536 ] || fail "an empty disk took $(stat -c %s s3.vmdk) bytes"
qemu-img convert -f raw -O qcow2 data.raw src.qcow2
pi 0 convert -f qcow2 -O vmdk -o subformat=streamOptimized,adapter_type=lsilogic,hwversion=7,toolsversion=10 src.qcow2 s4.vmdk
check_stream data.raw s4.vmdk
grep -aq 'ddb.adapterType = "lsilogic"' s4.vmdk || fail "adapter_type not in the descriptor"
grep -aq 'ddb.virtualHWVersion = "7"' s4.vmdk || fail "hwversion not in the descriptor"
# vmdk to vmdk, and the tutorial's way back.
pi 0 convert -O vmdk -o subformat=streamOptimized s1.vmdk s5.vmdk
check_stream data.raw s5.vmdk
pi 0 convert -p -f vmdk -O qcow2 s5.vmdk back.qcow2
expect_out "(100.00/100%)"
qemu-img compare -q -f raw -F qcow2 data.raw back.qcow2 || fail "vmdk -> qcow2 differs"

# Refusals.
pi 1 convert -O vmdk data.raw r1.vmdk
expect_err "streamOptimized"
expect_absent r1.vmdk
pi 1 convert -O vmdk -o subformat=monolithicSparse data.raw r2.vmdk
expect_err "only as subformat=streamOptimized"
expect_absent r2.vmdk
pi 1 convert -O vmdk -o subformat=streamOptimized,zeroed_grain=on data.raw r3.vmdk
expect_err "Invalid option"
expect_absent r3.vmdk
pi 1 convert -O vmdk -o subformat=streamOptimized,adapter_type=scsi data.raw r4.vmdk
expect_err "adapter type"
expect_absent r4.vmdk
done_ok
