#!/bin/bash
# Internal snapshots: poolimg and qemu-img read each other's, same table text.
. "$(dirname "$0")/lib.sh"
need_qemu_img
need_qcow2

pi 0 create -q -f qcow2 d.qcow2 64M
qemu-io -c 'write -P 1 0 4M' -c 'write -P 2 10M 1M' d.qcow2 >/dev/null
qemu-img convert -O raw d.qcow2 v1.raw
pi 0 snapshot -c backup1 d.qcow2
[ ! -s out ] || fail "snapshot -c printed something"
qemu-img check -q d.qcow2 || fail "check after snapshot -c"
ok
qemu-io -c 'write -P 3 0 8M' d.qcow2 >/dev/null
pi 0 snapshot -c a_much_longer_snapshot_name d.qcow2
qemu-img snapshot -c from-qemu d.qcow2

pi 0 snapshot -l d.qcow2
qemu-img snapshot -l d.qcow2 >q.txt
diff out q.txt >d.txt || fail "snapshot -l differs from qemu-img: $(cat d.txt)"
expect_out "Snapshot list:"
expect_out "backup1"
expect_out "from-qemu"
pi 0 snapshot d.qcow2
diff out q.txt >/dev/null || fail "snapshot without action does not list"
pi 0 info d.qcow2
qemu-img info d.qcow2 >q.txt
diff out q.txt >d.txt || fail "info with snapshots differs: $(cat d.txt)"
pi 0 info --output=json d.qcow2
mv out p.json
qemu-img info --output=json d.qcow2 >q.json
json_equal p.json q.json
cp p.json out
python3 -c 'import json; a=json.load(open("out")); assert [s["name"] for s in a["snapshots"]]==["backup1","a_much_longer_snapshot_name","from-qemu"]' ||
    fail "info --output=json snapshots"

pi 0 snapshot -a backup1 d.qcow2
qemu-img compare -q v1.raw d.qcow2 || fail "snapshot -a did not bring back the data"
ok
pi 0 snapshot -a 3 d.qcow2 # by id
pi 0 snapshot -d backup1 d.qcow2
pi 0 snapshot -d from-qemu d.qcow2
qemu-img check d.qcow2 >out 2>err || fail "check after snapshot -d: $(cat out err)"
ok
qemu-img snapshot -l d.qcow2 | grep -q backup1 && fail "deleted snapshot still listed"
pi 1 snapshot -a nosuch d.qcow2
expect_err "Could not apply snapshot 'nosuch'"
pi 1 snapshot -d nosuch d.qcow2
expect_err "Could not delete snapshot 'nosuch'"
qemu-img snapshot -a a_much_longer_snapshot_name d.qcow2 || fail "qemu-img cannot apply our snapshot"
ok
pi 0 snapshot -d a_much_longer_snapshot_name d.qcow2
pi 0 snapshot -l d.qcow2
[ ! -s out ] || fail "empty snapshot list printed something"
qemu-img check -q d.qcow2 || fail "leaks after deleting every snapshot"
ok
done_ok
