#!/bin/bash
# attach-disk / detach-disk through poold against a real libvirtd and QEMU (TCG): qcow2 and raw
# volumes of a dir pool, on bus scsi of a guest without an OS and on bus virtio of a guest
# that boots Linux; --live, --config, --persistent, --current; every form of SOURCE. After
# each step the live and the inactive domain XML and poolctl domblklist are checked, and the
# Linux guest's console shows the disk come and go.
. "$(dirname "$0")/libvirtd-fixture.sh"
. "$(dirname "$0")/guest.sh"
D=$E2E_DIR
P=$D/p
start_poold

pc pool-define-as p dir --target "$P" >/dev/null && pc pool-build p >/dev/null &&
    pc pool-start p >/dev/null || {
    not_ok "dir pool p started"
    lv_finish
}
for v in q1 q2; do pc vol-create-as p "$v" 16M --format qcow2 >/dev/null; done
for v in r1 r2; do pc vol-create-as p "$v" 8M --format raw >/dev/null; done

guest_noos_define noos
guest_linux_define lin
run_ok "no-OS guest starts" vsh start noos
run_ok "Linux guest starts" vsh start lin

# expect NAME DOM TARGET LIVE CONFIG: the live and inactive XML show LIVE and CONFIG at TARGET
# ("none" or "SOURCE TYPE BUS"), and domblklist (plain and --inactive) agrees with them.
expect() {
    local name=$1 dom=$2 target=$3 live=$4 config=$5 blk
    check "$name: live XML" "$live" "$(lv_disk "$dom" "$target")"
    check "$name: inactive XML" "$config" "$(lv_disk "$dom" "$target" --inactive)"
    blk=$(lv_blk "$dom" | awk -v t="$target" '$1 == t { print $2 }')
    check "$name: domblklist" "${live%% *}" "${blk:-none}"
    blk=$(lv_blk "$dom" --inactive | awk -v t="$target" '$1 == t { print $2 }')
    check "$name: domblklist --inactive" "${config%% *}" "${blk:-none}"
}

# --- bus scsi, guest without an OS: every SOURCE form and every flag
run_ok "scsi --live (pool/volume)" pc attach-disk noos p/q1 sda --targetbus scsi --live
expect "scsi --live" noos sda "$P/q1 qcow2 scsi" none
run_ok "scsi detach --live" pc detach-disk noos sda --live
expect "scsi detach --live" noos sda none none

run_ok "scsi --config (--pool P VOLUME)" pc attach-disk noos --pool p r1 sdb --targetbus scsi \
    --config
expect "scsi --config" noos sdb none "$P/r1 raw scsi"
run_ok "scsi detach --config" pc detach-disk noos sdb --config
expect "scsi detach --config" noos sdb none none

run_ok "scsi --persistent (volume key)" pc attach-disk noos "$(pc vol-key q1 --pool p)" sdc \
    --targetbus scsi --persistent
expect "scsi --persistent" noos sdc "$P/q1 qcow2 scsi" "$P/q1 qcow2 scsi"
run_ok "scsi detach --persistent" pc detach-disk noos sdc --persistent
expect "scsi detach --persistent" noos sdc none none

run_ok "scsi --live --config (path)" pc attach-disk noos "$P/r1" sdd --targetbus scsi --live \
    --config
expect "scsi --live --config" noos sdd "$P/r1 raw scsi" "$P/r1 raw scsi"
run_ok "scsi detach --live only" pc detach-disk noos sdd --live
expect "scsi detach --live of a live+config disk" noos sdd none "$P/r1 raw scsi"
run_ok "scsi detach --config" pc detach-disk noos sdd --config
expect "scsi detach --config after --live" noos sdd none none

run_ok "scsi --current on a running guest" pc attach-disk noos p/q1 sde --targetbus scsi \
    --current
expect "scsi --current (running: live)" noos sde "$P/q1 qcow2 scsi" none
run_ok "scsi detach with no flag (running: live)" pc detach-disk noos sde
expect "scsi detach with no flag" noos sde none none

# --print-xml: the <disk> XML, nothing attached
xml=$(pc attach-disk noos p/q1 sdf --targetbus scsi --cache none --mode readonly --print-xml 2>&1)
check "--print-xml: the source" "$P/q1" \
    "$(printf '%s' "$xml" | xmllint --xpath 'string(/disk/source/@file)' - 2>&1)"
check "--print-xml: driver qcow2, cache none" "qcow2 none" \
    "$(printf '%s' "$xml" | xmllint --xpath 'concat(/disk/driver/@type, " ", /disk/driver/@cache)' - 2>&1)"
check "--print-xml: read-only" "1" \
    "$(printf '%s' "$xml" | xmllint --xpath 'count(/disk/readonly)' - 2>&1)"
expect "--print-xml attaches nothing" noos sdf none none

# --cache, --mode readonly, --subdriver reach libvirt
run_ok "scsi --cache none --mode readonly" pc attach-disk noos p/q1 sdg --targetbus scsi \
    --cache none --mode readonly --live
check "--cache none in the live XML" "none" \
    "$(lv_domxml noos | xmllint --xpath "string(//disk[target/@dev='sdg']/driver/@cache)" -)"
check "--mode readonly in the live XML" "1" \
    "$(lv_domxml noos | xmllint --xpath "count(//disk[target/@dev='sdg']/readonly)" -)"
run_ok "detach sdg" pc detach-disk noos sdg --live
run_ok "--subdriver raw on a raw volume" pc attach-disk noos p/r1 sdh --targetbus scsi \
    --driver qemu --subdriver raw --live
expect "--subdriver raw" noos sdh "$P/r1 raw scsi" none
run_ok "detach sdh" pc detach-disk noos sdh --live

# --type cdrom: a read-only CD-ROM on the SCSI bus
run_ok "scsi --type cdrom" pc attach-disk noos p/r1 sdi --targetbus scsi --type cdrom \
    --mode readonly --live
check "--type cdrom in the live XML" "cdrom $P/r1" \
    "$(lv_domxml noos | xmllint --xpath "concat(//disk[target/@dev='sdi']/@device, ' ', \
        //disk[target/@dev='sdi']/source/@file)" -)"
run_ok "detach the cdrom" pc detach-disk noos sdi --live
expect "cdrom detached" noos sdi none none

# --config on a guest that is shut off, then started: the disk is live
vsh destroy noos >/dev/null
run_ok "scsi --config on a shut-off guest" pc attach-disk noos p/q2 sda --targetbus scsi --config
run_ok "guest starts with it" vsh start noos
expect "after start" noos sda "$P/q2 qcow2 scsi" "$P/q2 qcow2 scsi"
run_ok "detach --persistent" pc detach-disk noos sda --persistent
expect "after detach --persistent" noos sda none none

# --- bus virtio, guest that boots Linux: the guest sees the disk and answers the unplug
if guest_wait_console lin POOLD-GUEST-READY 90 && guest_wait_blocks lin ""; then
    ok "Linux guest booted, no disk"
else
    not_ok "Linux guest booted, no disk"
    sed 's/^/#   /' "$D/lin-console.log" 2>/dev/null | tail -5
fi
run_ok "virtio --live --config qcow2" pc attach-disk lin p/q2 vdb --targetbus virtio --live \
    --config
expect "virtio --live --config" lin vdb "$P/q2 qcow2 virtio" "$P/q2 qcow2 virtio"
guest_wait_blocks lin vda:32768 && ok "the guest sees the qcow2 disk (16 MiB)" ||
    not_ok "the guest sees the qcow2 disk (16 MiB)"
run_ok "virtio detach --live" pc detach-disk lin vdb --live
expect "virtio detach --live" lin vdb none "$P/q2 qcow2 virtio"
guest_wait_blocks lin "" && ok "the guest saw the qcow2 disk go" ||
    not_ok "the guest saw the qcow2 disk go"
run_ok "virtio detach --config" pc detach-disk lin vdb --config
expect "virtio detach --config" lin vdb none none

run_ok "virtio --persistent raw" pc attach-disk lin --pool p r2 vdc --targetbus virtio \
    --persistent
expect "virtio --persistent raw" lin vdc "$P/r2 raw virtio" "$P/r2 raw virtio"
guest_wait_blocks lin vda:16384 && ok "the guest sees the raw disk (8 MiB)" ||
    not_ok "the guest sees the raw disk (8 MiB)"
run_ok "virtio detach --persistent" pc detach-disk lin vdc --persistent
expect "virtio detach --persistent" lin vdc none none
guest_wait_blocks lin "" && ok "the guest saw the raw disk go" ||
    not_ok "the guest saw the raw disk go"

lv_finish
