#!/bin/bash
# snapshot -d deletes by name only, as qemu-img 7.2 (issue 14 item 8): with numeric names the
# snapshot named "2" goes, not the one with id 2; an id that is no snapshot's name is "not
# found". qemu-img on a twin image is the oracle.
. "$(dirname "$0")/lib.sh"
need_qemu_img
need_qcow2
for t in p q; do
    qemu-img create -q -f qcow2 $t.qcow2 16M
    qemu-img snapshot -c 2 $t.qcow2 # id 1, named "2"
    qemu-img snapshot -c 1 $t.qcow2 # id 2, named "1"
done
pi 0 snapshot -d 2 p.qcow2
qemu-img snapshot -d 2 q.qcow2 || fail "qemu-img snapshot -d 2"
[ "$(qemu-img snapshot -l p.qcow2 | awk 'NR>2 {print $1, $2}')" = "$(qemu-img snapshot -l q.qcow2 | awk 'NR>2 {print $1, $2}')" ] ||
    fail "snapshot -d 2 deleted another snapshot than qemu-img: $(qemu-img snapshot -l p.qcow2 | tail -1)"
qemu-img snapshot -l p.qcow2 | awk 'NR>2 {print $2}' | grep -qx 1 || fail "the snapshot named 1 went"
ok
pi 1 snapshot -d 3 p.qcow2
expect_err "Could not delete snapshot '3': snapshot not found"
pi 1 snapshot -d 2 p.qcow2 # id 2 exists, but no snapshot is named "2" any more
expect_err "snapshot not found"
qemu-img check -q p.qcow2 || fail "check after the deletes"
ok
done_ok
