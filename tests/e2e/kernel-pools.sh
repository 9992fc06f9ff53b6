#!/bin/bash
# fs, netfs (mount mode) and iscsi pools through a real poold on the host, whose kernel has
# neither NFS nor an iSCSI initiator: capabilities, definitions, the duplicate rules of their
# sources (iscsi pools share /dev/disk/by-path), and the clear errors of what cannot work here.
# The real mounts and logins are tested in the VM (tests/vm/).
. "$(dirname "$0")/lib.sh"
start_poold
D=$E2E_DIR

caps=$(pc pool-capabilities)
for t in fs iscsi; do
    printf '%s' "$caps" | grep -q "<pool type='$t' supported='yes'>" &&
        ok "pool-capabilities: $t supported" || not_ok "pool-capabilities: $t supported"
done

# iscsi: one target directory for every pool, the source decides
run_ok "iscsi pool t1" pc pool-define-as i1 iscsi --source-host 127.0.0.1 \
    --source-dev iqn.2024-01.io.poold:t1 --target /dev/disk/by-path
run_ok "iscsi pool t2 in the same target directory" pc pool-define-as i2 iscsi \
    --source-host 127.0.0.1 --source-dev iqn.2024-01.io.poold:t2 --target /dev/disk/by-path
run_ok "the same target for another initiator" pc pool-define-as i3 iscsi \
    --source-host 127.0.0.1 --source-dev iqn.2024-01.io.poold:t1 \
    --source-initiator iqn.2024-01.io.poold:other --target /dev/disk/by-path
run_fails "the same target twice is refused" \
    "Storage source conflict with pool: 'i1' already uses target iqn.2024-01.io.poold:t1 at 127.0.0.1" \
    pc pool-define-as i4 iscsi --source-host 127.0.0.1 --source-dev iqn.2024-01.io.poold:t1 \
    --target /dev/disk/by-path
run_fails "vol-create-as on an inactive iscsi pool" "i1" pc vol-create-as i1 v 1M
run_fails "pool-build of an iscsi pool with both flags" "mutually exclusive" \
    pc pool-build i1 --overwrite --no-overwrite

# fs: one device per pool
run_ok "fs pool" pc pool-define-as f1 fs --source-dev /dev/poold-nope --source-format ext4 \
    --target "$D/f1"
run_fails "the same device twice is refused" \
    "Storage source conflict with pool: 'f1' already uses source device /dev/poold-nope" \
    pc pool-define-as f2 fs --source-dev /dev/poold-nope --source-format ext4 --target "$D/f2"
run_fails "pool-build on a missing device" \
    "pool 'f1': source device '/dev/poold-nope': .*No such file" pc pool-build f1
[ ! -e "$D/f1" ] && ok "nothing made by the refused build" || not_ok "nothing made by the refused build"
mkdir "$D/f1"
run_fails "pool-start on a missing device" "pool 'f1': source device '/dev/poold-nope'" \
    pc pool-start f1
check "the pool stays inactive" "inactive" "$(pc pool-list --all | awk '$1 == "f1" {print $2}')"
finish
