#!/bin/bash
# poolimg's default backing opener (qemu-img's rules, but non-blocking and data only): a
# backing file that is a FIFO, a character device or a socket is refused at once with the
# reason, by every command that opens the chain; a loop a -> b -> a is called a loop (not a
# chain too deep), also through a hard link. qemu-img info without the chain still works.
. "$(dirname "$0")/lib.sh"
need_qemu_img
need_qcow2

mkfifo fifo
qemu-img create -q -f qcow2 -u -b fifo -F raw fifo.qcow2 1M
qemu-img create -q -f qcow2 -u -b /dev/zero -F raw chr.qcow2 1M
qemu-img create -q -f qcow2 -u -b la.qcow2 -F qcow2 lb.qcow2 1M
qemu-img create -q -f qcow2 -u -b lb.qcow2 -F qcow2 la.qcow2 1M
qemu-img create -q -f qcow2 -u -b hl2.qcow2 -F qcow2 hl.qcow2 1M
ln hl.qcow2 hl2.qcow2
# compare's "could not open" status is 2 (as qemu-img's)
for cmd in "1 convert -O raw fifo.qcow2 out.raw" "1 map fifo.qcow2" "2 compare fifo.qcow2 fifo.qcow2" \
    "1 info --backing-chain fifo.qcow2"; do
    # shellcheck disable=SC2086
    set -- $cmd
    want=$1
    shift
    run "$want" timeout 10 "$POOLIMG" "$@"
    expect_err "it is a FIFO; only a regular file or a block device can hold an image"
done
expect_absent out.raw
pi 1 convert -O raw chr.qcow2 out.raw
expect_err "it is a character device"
expect_absent out.raw
pi 1 map la.qcow2
expect_err "the backing chain loops"
pi 1 map hl.qcow2
expect_err "the backing chain loops"
# check opens the chain, as qemu-img check does (which hangs on the FIFO): refused, not hung
pi 1 check fifo.qcow2
expect_err "FIFO"
pi 0 info fifo.qcow2
expect_out "backing file: fifo"
echo "backing-special: $CHECKS checks"
