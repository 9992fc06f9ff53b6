#!/bin/bash
# commit and rebase (safe, unsafe, removing the backing file) along backing chains.
. "$(dirname "$0")/lib.sh"
need_qemu_img
need_qcow2

mkchain() {
    rm -f base.raw ov.qcow2
    qemu-img create -q -f raw base.raw 32M
    qemu-io -f raw -c 'write -P 1 0 32M' base.raw >/dev/null
    pi 0 create -q -f qcow2 -b base.raw -F raw ov.qcow2
    qemu-io -c 'write -P 2 1M 2M' -c 'write -z 8M 64k' -c 'write -P 4 30M 100k' ov.qcow2 >/dev/null
    qemu-img convert -O raw ov.qcow2 expect.raw
}

# commit: the base gets the data, the overlay is emptied (unless -d)
mkchain
pi 0 commit ov.qcow2
expect_out "Image committed."
cmp base.raw expect.raw || fail "commit: base does not hold the overlay's data"
qemu-img compare -q ov.qcow2 expect.raw || fail "commit: overlay reads differently"
qemu-img map --output=json ov.qcow2 | grep -q '"depth": 0, "present": true, "zero": false, "data": true' &&
    fail "commit did not empty the overlay"
qemu-img check -q ov.qcow2 || fail "check after commit"
ok
mkchain
pi 0 commit -d -p ov.qcow2
cmp base.raw expect.raw || fail "commit -d"
qemu-img map --output=json ov.qcow2 | grep -q '"depth": 0, "present": true' || fail "commit -d emptied the overlay"
pi 1 commit base.raw
expect_err "poolimg:"

# three layers, commit -b into the bottom
qemu-img create -q -f qcow2 l0.qcow2 16M
qemu-io -c 'write -P 1 0 16M' l0.qcow2 >/dev/null
pi 0 create -q -f qcow2 -b l0.qcow2 -F qcow2 l1.qcow2
qemu-io -c 'write -P 2 0 1M' l1.qcow2 >/dev/null
pi 0 create -q -f qcow2 -b l1.qcow2 -F qcow2 l2.qcow2
qemu-io -c 'write -P 3 4M 1M' l2.qcow2 >/dev/null
qemu-img convert -O raw l2.qcow2 l2.raw
pi 0 commit -b l0.qcow2 l2.qcow2
qemu-img compare -q -f qcow2 l0.qcow2 l2.raw || fail "commit -b: the bottom lacks data"
qemu-img check -q l0.qcow2 || fail "check after commit -b"
ok

# rebase, safe: contents stay the same over another backing file
mkchain
qemu-img create -q -f raw other.raw 32M
qemu-io -f raw -c 'write -P 9 0 16M' other.raw >/dev/null
pi 0 rebase -b other.raw -F raw ov.qcow2
qemu-img compare -q ov.qcow2 expect.raw || fail "safe rebase changed the contents"
qemu-img info ov.qcow2 | grep -q "backing file: other.raw" || fail "rebase did not switch"
qemu-img check -q ov.qcow2 || fail "check after rebase"
ok
# rebase -u: only the reference changes
pi 0 rebase -u -b base.raw -F raw ov.qcow2
qemu-img info --output=json ov.qcow2 | grep -q '"backing-filename": "base.raw"' || fail "rebase -u"
# rebase -b "": the image holds everything
mkchain
pi 0 rebase -b "" ov.qcow2
qemu-img info ov.qcow2 | grep -q "backing file" && fail "rebase -b \"\" kept a backing file"
qemu-img compare -q ov.qcow2 expect.raw || fail "rebase -b \"\" lost data"
qemu-img check -q ov.qcow2 || fail "check after rebase -b \"\""
ok
mkchain
pi 0 rebase -u -b "" ov.qcow2
qemu-img info ov.qcow2 | grep -q "backing file" && fail "rebase -u -b \"\""
pi 1 rebase -b nothere.raw -F raw ov.qcow2
expect_err "nothere.raw"

# map of an overlay, against qemu-img
mkchain
pi 0 map --output=json ov.qcow2
qemu-img map --output=json ov.qcow2 >q.map
cmp out q.map || fail "map of overlay differs: $(diff out q.map | head)"
pi 0 map ov.qcow2
qemu-img map ov.qcow2 >q.map
cmp out q.map || fail "human map of overlay differs: $(diff out q.map | head)"
done_ok
