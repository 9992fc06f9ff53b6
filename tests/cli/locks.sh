#!/bin/bash
# QEMU's image locks (issue 14 item 3): while a real qemu-io holds an image read-write (it
# stands in for a running VM), poolimg refuses every write to it with qemu-img's 'Failed to
# get "write" lock', and read-only opens with 'Failed to get shared "write" lock' unless
# -U/--force-share; the image is left untouched; once qemu-io is gone everything works.
. "$(dirname "$0")/lib.sh"
need_qemu_img
need_qcow2
command -v qemu-io >/dev/null 2>&1 || skip "qemu-io is not installed (apt-get install qemu-utils)"

qemu-img create -q -f qcow2 vm.qcow2 64M
qemu-img create -q -f qcow2 other.qcow2 64M
qemu-img create -q -f raw base.raw 64M
qemu-img create -q -f qcow2 -b base.raw -F raw top.qcow2
qemu-io -c 'write -P 1 0 1M' -c 'sleep 600000' vm.qcow2 >/dev/null 2>&1 &
QPID=$!
qemu-io -c 'write -P 2 0 1M' -c 'sleep 600000' top.qcow2 >/dev/null 2>&1 &
QPID2=$!
trap 'kill $QPID $QPID2 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
# wait until both qemu-io hold their image (qemu-img info is then refused)
for f in vm.qcow2 top.qcow2; do
    for i in $(seq 100); do
        qemu-img info $f >/dev/null 2>&1 || break
        sleep 0.1
    done
done
qemu-img info vm.qcow2 >/dev/null 2>&1 && skip "qemu-io does not lock images here (no OFD locks?)"
qemu-img snapshot -l -U vm.qcow2 >before.txt

for cmd in "snapshot -c s vm.qcow2" "resize vm.qcow2 +1G" "amend -o lazy_refcounts=on vm.qcow2" \
    "check -r all vm.qcow2" "check -r leaks vm.qcow2" "rebase -u -b other.qcow2 -F qcow2 vm.qcow2" \
    "snapshot -d s vm.qcow2" "commit top.qcow2" "convert -O qcow2 other.qcow2 vm.qcow2" \
    "create -f qcow2 vm.qcow2 1M"; do
    # shellcheck disable=SC2086
    pi 1 $cmd
    expect_err 'Failed to get "write" lock'
    expect_err "Is another process using the image"
done
pi 2 compare vm.qcow2 other.qcow2 # compare's error status, as qemu-img's
expect_err 'Failed to get shared "write" lock'
for cmd in "info vm.qcow2" "check vm.qcow2" "map vm.qcow2" "convert -O raw vm.qcow2 out.raw" \
    "measure -O qcow2 vm.qcow2"; do
    # shellcheck disable=SC2086
    pi 1 $cmd
    expect_err 'Failed to get shared "write" lock'
done
expect_absent out.raw
pi 0 info -U vm.qcow2
expect_out "file format: qcow2"
pi 0 convert -U -O raw vm.qcow2 out.raw
qemu-io -U -r -c 'read -P 1 0 1M' out.raw >/dev/null 2>&1 || qemu-io -f raw -c 'read -P 1 0 1M' out.raw | grep -q "read 1048576" ||
    fail "convert -U did not read what qemu-io wrote"
ok
pi 0 map -U vm.qcow2
pi 1 snapshot -U -c s vm.qcow2
expect_err "force-share=on can only be used with read-only images"
qemu-img snapshot -l -U vm.qcow2 >after.txt
cmp -s before.txt after.txt || fail "the held image was changed"
qemu-img info -U vm.qcow2 | grep -q "virtual size: 64 MiB" || fail "the held image was resized"
ok

# qemu-io gone: everything works
kill $QPID $QPID2
wait $QPID $QPID2 2>/dev/null
pi 0 snapshot -c s vm.qcow2
pi 0 resize vm.qcow2 +1G
pi 0 info vm.qcow2
pi 0 commit top.qcow2
qemu-img check -q vm.qcow2 || fail "check after the writes"
ok
done_ok
