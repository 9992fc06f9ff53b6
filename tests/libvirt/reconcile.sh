#!/bin/bash
# poold follows what happens to its volumes in libvirt behind its back: a disk attached with
# virsh is known as attached (the volume is protected, domblklist shows it) on libvirt's event
# and after a restart; a disk detached with virsh, or gone with its domain, is dropped; a
# poold killed during attach-disk comes back agreeing with libvirt.
. "$(dirname "$0")/libvirtd-fixture.sh"
. "$(dirname "$0")/guest.sh"
D=$E2E_DIR
P=$D/p
start_poold

run_ok "pool p" pc pool-define-as p dir --target "$P"
run_ok "pool p built" pc pool-build p
run_ok "pool p started" pc pool-start p
for v in q1 q2; do run_ok "$v qcow2" pc vol-create-as p "$v" 16M --format qcow2; done
run_ok "r1 raw" pc vol-create-as p r1 8M --format raw
guest_noos_define noos
run_ok "guest starts" vsh start noos

# protected VOL TARGET: poold refuses to wipe VOL naming noos and TARGET (5 s for an event)
protected() {
    local _ err
    for _ in $(seq 1 50); do
        err=$(pc vol-wipe "$1" --pool p 2>&1) && return 1 # wiped: not protected
        printf '%s' "$err" | grep -qE "noos.*$2|$2.*noos" && return 0
        sleep 0.1
    done
    return 1
}

# unprotected VOL: poold wipes VOL (5 s for an event)
unprotected() {
    local _
    for _ in $(seq 1 50); do
        pc vol-wipe "$1" --pool p >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# blk_has TARGET SOURCE [--inactive]: domblklist shows it (5 s for an event)
blk_has() {
    local _
    for _ in $(seq 1 50); do
        lv_blk noos ${3:+"$3"} | grep -qx "$1 $2" && return 0
        sleep 0.1
    done
    return 1
}

# --- on libvirt's events, poold running
run_ok "virsh attach-disk q1 sda --live" vsh attach-disk noos "$P/q1" sda --targetbus scsi \
    --subdriver qcow2 --live
protected q1 sda && ok "event: poold knows q1 is attached (refuses to wipe it)" ||
    not_ok "event: poold knows q1 is attached (refuses to wipe it)"
blk_has sda "$P/q1" && ok "event: domblklist shows sda" || not_ok "event: domblklist shows sda"
run_ok "virsh detach-disk sda --live" vsh detach-disk noos sda --live
unprotected q1 && ok "event: q1 dropped after virsh detach-disk" ||
    not_ok "event: q1 dropped after virsh detach-disk"

# a live attachment ends with its domain
run_ok "poolctl attach-disk q2 sdb --live" pc attach-disk noos p/q2 sdb --targetbus scsi --live
protected q2 sdb && ok "q2 attached" || not_ok "q2 attached"
run_ok "virsh destroy noos" vsh destroy noos
unprotected q2 && ok "event: q2 dropped when the domain stopped" ||
    not_ok "event: q2 dropped when the domain stopped"
run_ok "guest starts again" vsh start noos

# --- on start, poold stopped meanwhile
stop_poold TERM
run_ok "virsh attach-disk r1 sdc --persistent while poold is down" vsh attach-disk noos "$P/r1" \
    sdc --targetbus scsi --subdriver raw --persistent
start_poold
protected r1 sdc && ok "start: poold knows r1 is attached" || not_ok "start: poold knows r1 is attached"
blk_has sdc "$P/r1" && ok "start: domblklist shows sdc" || not_ok "start: domblklist shows sdc"
blk_has sdc "$P/r1" --inactive && ok "start: domblklist --inactive shows sdc" ||
    not_ok "start: domblklist --inactive shows sdc"
stop_poold TERM
run_ok "virsh detach-disk sdc --persistent while poold is down" vsh detach-disk noos sdc \
    --persistent
start_poold
unprotected r1 && ok "start: r1 dropped" || not_ok "start: r1 dropped"
check "start: domblklist has no sdc" "" "$(lv_blk noos | grep '^sdc ')"

# --- poold killed right after attach-disk answered: the attachment is there after restart
run_ok "poolctl attach-disk q1 sdd --live" pc attach-disk noos p/q1 sdd --targetbus scsi --live
stop_poold KILL
start_poold
check "kill after attach: live XML" "$P/q1 qcow2 scsi" "$(lv_disk noos sdd)"
protected q1 sdd && ok "kill after attach: q1 still known as attached" ||
    not_ok "kill after attach: q1 still known as attached"
run_ok "detach sdd" pc detach-disk noos sdd --live

# --- poold killed while attach-disk runs: afterwards poold agrees with libvirt, either way
pc attach-disk noos p/q2 sde --targetbus scsi --live >/dev/null 2>&1 &
attach_pid=$!
sleep 0.05
stop_poold KILL
wait "$attach_pid" 2>/dev/null
start_poold
if [ "$(lv_disk noos sde)" = none ]; then
    unprotected q2 && ok "kill during attach (not attached): no record left" ||
        not_ok "kill during attach (not attached): no record left"
else
    protected q2 sde && ok "kill during attach (attached): recorded after restart" ||
        not_ok "kill during attach (attached): recorded after restart"
fi

lv_finish
