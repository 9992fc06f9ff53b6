#!/bin/bash
# Attached volumes are protected: vol-delete, vol-wipe, a shrinking vol-resize,
# vol-snapshot-revert and pool-delete refuse with an error naming the domain and the target,
# for a live and for a config-only attachment, and change nothing; after detach-disk each works.
. "$(dirname "$0")/libvirtd-fixture.sh"
. "$(dirname "$0")/guest.sh"
D=$E2E_DIR
P=$D/p
start_poold

run_ok "pool p" pc pool-define-as p dir --target "$P"
run_ok "pool p built" pc pool-build p
run_ok "pool p started" pc pool-start p
run_ok "q1 qcow2" pc vol-create-as p q1 16M --format qcow2
run_ok "q1 snapshot s1" pc vol-snapshot-create q1 s1 --pool p
# sparse: libvirt refuses to shrink a volume below its allocation, whatever the attachments
run_ok "r1 raw" pc vol-create-as p r1 8M --format raw --allocation 0
guest_noos_define noos
run_ok "guest starts" vsh start noos

run_ok "attach q1 live" pc attach-disk noos p/q1 sda --targetbus scsi --live
run_ok "attach r1 config only" pc attach-disk noos p/r1 sdb --targetbus scsi --config
sum_q1=$(md5sum <"$P/q1")

# refused NAME TARGET CMD...: fails naming the domain and the target
refused() {
    local name=$1 target=$2
    shift 2
    run_fails "$name: refused naming noos and $target" "noos.*$target|$target.*noos" "$@"
}

for v in q1:sda r1:sdb; do
    vol=${v%:*} target=${v#*:}
    refused "vol-delete $vol" "$target" pc vol-delete "$vol" --pool p
    refused "vol-wipe $vol" "$target" pc vol-wipe "$vol" --pool p
    refused "vol-resize --shrink $vol" "$target" pc vol-resize "$vol" 4M --pool p --shrink
done
refused "vol-snapshot-revert q1" sda pc vol-snapshot-revert q1 s1 --pool p
check "q1's bytes unchanged by the refusals" "$sum_q1" "$(md5sum <"$P/q1")"
check "q1 still listed" "q1" "$(pc vol-list p | awk '$1 == "q1" { print $1 }')"
check "q1's capacity unchanged" "Capacity:       16.00 MiB" \
    "$(pc vol-info q1 --pool p | grep Capacity)"
check "r1's capacity unchanged" "Capacity:       8.00 MiB" \
    "$(pc vol-info r1 --pool p | grep Capacity)"
check "q1 still attached (live XML)" "$P/q1 qcow2 scsi" "$(lv_disk noos sda)"

# pool-delete wants an inactive pool: whether poold lets the pool stop with attached volumes
# is its choice; deleting it is refused either way.
pc pool-destroy p >/dev/null 2>&1
refused "pool-delete p" "sd[ab]" pc pool-delete p
run_ok "the pool's directory is still there with q1" test -f "$P/q1"
pc pool-start p >/dev/null 2>&1
check "pool p active again" "active" \
    "$(pc pool-list --all | awk '$1 == "p" { print $2 }')"

# after detach, each works
run_ok "detach q1 (live)" pc detach-disk noos sda --live
run_ok "detach r1 (config)" pc detach-disk noos sdb --config
check "q1 gone from the live XML" none "$(lv_disk noos sda)"
check "r1 gone from the inactive XML" none "$(lv_disk noos sdb --inactive)"
run_ok "vol-snapshot-revert q1 after detach" pc vol-snapshot-revert q1 s1 --pool p
run_ok "vol-snapshot-delete q1 s1 (an image with snapshots cannot shrink)" \
    pc vol-snapshot-delete q1 s1 --pool p
run_ok "vol-resize --shrink q1 after detach" pc vol-resize q1 8M --pool p --shrink
check "q1 shrunk" "Capacity:       8.00 MiB" "$(pc vol-info q1 --pool p | grep Capacity)"
run_ok "vol-wipe r1 after detach" pc vol-wipe r1 --pool p
run_ok "vol-resize --shrink r1 after detach" pc vol-resize r1 4M --pool p --shrink
run_ok "vol-delete q1 after detach" pc vol-delete q1 --pool p
run_ok "vol-delete r1 after detach" pc vol-delete r1 --pool p
run_ok "pool-destroy p" pc pool-destroy p
run_ok "pool-delete p after detach" pc pool-delete p
run_ok "the pool's directory is gone" test ! -e "$P"

lv_finish
