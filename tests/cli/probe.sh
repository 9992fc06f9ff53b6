#!/bin/bash
# Probing like qemu-img: the best-scoring format wins, raw only when nothing matches (with
# qemu-img's warning when a guessed raw image is opened for writing), and an image of a
# format poolimg does not read is never taken as raw.
. "$(dirname "$0")/lib.sh"
need_qemu_img

truncate -s 1M r.img
mkdir q && cp r.img q/r.img
pi 0 resize r.img 2M
(cd q && qemu-img resize r.img 2M >/dev/null 2>../q.err)
cmp err q.err || fail "the probed-raw warning differs from qemu-img's: $(diff err q.err)"
expect_err "probing guessed raw"
pi 0 resize -f raw r.img 3M
[ ! -s err ] || fail "an explicit -f raw still warned"
# Read-only opens do not warn (qemu-img info does not either).
pi 0 info r.img
[ ! -s err ] || fail "info of a guessed raw image warned"

# A qcow2 image is probed as qcow2, not raw.
qemu-img create -q -f qcow2 a.qcow2 1M
pi 0 info a.qcow2
expect_out "file format: qcow2"

# An image of a format that poolimg cannot read is refused, never converted as raw bytes.
qemu-img create -q -f qed a.qed 1M
pi 1 convert -O raw a.qed out.raw
expect_err "qed"
expect_absent out.raw

done_ok
