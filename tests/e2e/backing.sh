#!/bin/bash
# A volume that another volume uses as its backing file cannot be deleted first: overlays made
# by poold (absolute backing path), by qemu-img behind poold's back (relative backing path,
# found by refresh), and in another pool; the check follows every catalog change (index).
. "$(dirname "$0")/lib.sh"
start_poold
D=$E2E_DIR
for p in bp bq; do
    pc -q pool-define-as $p dir - - - - "$D/$p" >/dev/null && pc -q pool-build $p >/dev/null &&
        pc -q pool-start $p >/dev/null || { echo "Bail out! pool $p"; exit 1; }
done
run_ok "base volume" pc vol-create-as bp base 4M
run_ok "overlay by poold" pc vol-create-as bp ov 4M --format qcow2 --backing-vol "$D/bp/base" --backing-vol-format raw
run_fails "base refused while the overlay exists" "backing file of volume 'ov' in pool 'bp'" \
    pc vol-delete base --pool bp
run_ok "overlay deleted" pc vol-delete ov --pool bp
# relative backing path, made outside poold, in the same directory
(cd "$D/bp" && qemu-img create -q -f qcow2 -b base -F raw rel.qcow2) ||
    { echo "Bail out! qemu-img"; exit 1; }
run_ok "refresh finds the relative overlay" pc pool-refresh bp
run_fails "base refused for a relative backing path" "backing file of volume 'rel.qcow2'" \
    pc vol-delete base --pool bp
run_ok "relative overlay deleted" pc vol-delete rel.qcow2 --pool bp
# an overlay in another pool
run_ok "overlay in another pool" pc vol-create-as bq ov2 4M --format qcow2 --backing-vol "$D/bp/base" --backing-vol-format raw
run_fails "base refused for another pool's overlay" "in pool 'bq'" pc vol-delete base --pool bp
run_ok "other pool's overlay deleted" pc vol-delete ov2 --pool bq
check "base deleted once unused" "Vol base deleted" "$(pc vol-delete base --pool bp)"
finish
