#!/bin/bash
# poold follows what happens to its volumes in libvirt behind its back: a disk detached with
# virsh, or gone with its domain, is dropped on libvirt's event; a disk attached or detached
# with virsh while poold is down is known (the volume is protected, domblklist shows it) or
# dropped after the restart; a poold killed right after, or during, attach-disk comes back
# agreeing with libvirt.
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

# events KIND VOL TARGET: how many KIND events (vol-attached, vol-detached) poold logged for
# VOL of pool p as TARGET of noos
events() {
    pc event --history | grep -c "event '$1' for storage pool p volume $2: domain 'noos' target $3 "
}

# wait_event NAME KIND VOL TARGET N: poold logs its Nth such event within 5 s
wait_event() {
    local name=$1 _
    shift
    for _ in $(seq 1 50); do
        [ "$(events "$1" "$2" "$3")" -ge "$4" ] && { ok "$name"; return 0; }
        sleep 0.1
    done
    not_ok "$name"
    pc event --history | tail -n 5 | sed 's/^/#   /'
}

# protected NAME VOL TARGET: poold refuses to wipe VOL, naming noos and TARGET
protected() {
    run_fails "$1" "noos.*$3|$3.*noos" pc vol-wipe "$2" --pool p
}

# unprotected NAME VOL: poold wipes VOL
unprotected() {
    run_ok "$1" pc vol-wipe "$2" --pool p
}

# blk_has TARGET SOURCE [--inactive]: domblklist shows it
blk_has() {
    lv_blk noos ${3:+"$3"} | grep -qx "$1 $2"
}

# --- on libvirt's events, poold running
run_ok "poolctl attach-disk q1 sda --live" pc attach-disk noos p/q1 sda --targetbus scsi --live
wait_event "vol-attached event for q1" vol-attached q1 sda 1
protected "q1 protected" q1 sda
run_ok "virsh detach-disk sda --live" vsh detach-disk noos sda --live
wait_event "event: vol-detached for q1 after virsh detach-disk" vol-detached q1 sda 1
unprotected "event: q1 no longer protected" q1
check "event: domblklist has no sda" "" "$(lv_blk noos | grep '^sda ')"
# a disk hot-plugged with virsh while poold runs: picked up on libvirt's device-added event
run_ok "virsh attach-disk q1 sdf --live" vsh attach-disk noos "$P/q1" sdf --targetbus scsi --subdriver qcow2 --live
wait_event "event: vol-attached for a virsh attach-disk" vol-attached q1 sdf 1
protected "event: q1 protected" q1 sdf
run_ok "virsh detach-disk sdf --live" vsh detach-disk noos sdf --live
wait_event "event: vol-detached after the virsh detach-disk" vol-detached q1 sdf 1

# a live attachment ends with its domain
run_ok "poolctl attach-disk q2 sdb --live" pc attach-disk noos p/q2 sdb --targetbus scsi --live
protected "q2 protected" q2 sdb
run_ok "virsh destroy noos" vsh destroy noos
wait_event "event: vol-detached for q2 when the domain stopped" vol-detached q2 sdb 1
unprotected "event: q2 no longer protected" q2
run_ok "guest starts again" vsh start noos

# --- on start, poold stopped meanwhile
stop_poold TERM
run_ok "virsh attach-disk r1 sdc --persistent while poold is down" vsh attach-disk noos "$P/r1" \
    sdc --targetbus scsi --subdriver raw --persistent
start_poold
# at once, before the start-up reconciliation may have ended: refused either way (still
# reading libvirt's domains, or attached), never wiped
run_fails "start: r1 refused at once after the start" "still reading which disks|noos.*sdc" \
    pc vol-wipe r1 --pool p
wait_event "start: vol-attached event for r1" vol-attached r1 sdc 1
protected "start: r1 protected" r1 sdc
blk_has sdc "$P/r1" && ok "start: domblklist shows sdc" || not_ok "start: domblklist shows sdc"
blk_has sdc "$P/r1" --inactive && ok "start: domblklist --inactive shows sdc" ||
    not_ok "start: domblklist --inactive shows sdc"
stop_poold TERM
run_ok "virsh detach-disk sdc --persistent while poold is down" vsh detach-disk noos sdc \
    --persistent
start_poold
wait_event "start: vol-detached event for r1" vol-detached r1 sdc 1
unprotected "start: r1 no longer protected" r1
check "start: domblklist has no sdc" "" "$(lv_blk noos | grep '^sdc ')"

# --- poold killed right after attach-disk answered: the attachment is there after restart
run_ok "poolctl attach-disk q1 sdd --live" pc attach-disk noos p/q1 sdd --targetbus scsi --live
stop_poold KILL
start_poold
check "kill after attach: live XML" "$P/q1 qcow2 scsi" "$(lv_disk noos sdd)"
protected "kill after attach: q1 still protected" q1 sdd
check "kill after attach: no second vol-attached event" 1 "$(events vol-attached q1 sdd)"
run_ok "detach sdd" pc detach-disk noos sdd --live

# --- poold killed while attach-disk runs: afterwards poold agrees with libvirt, either way
pc attach-disk noos p/q2 sde --targetbus scsi --live >/dev/null 2>&1 &
attach_pid=$!
sleep 0.05
stop_poold KILL
wait "$attach_pid" 2>/dev/null
start_poold
if [ "$(lv_disk noos sde)" = none ]; then
    ok "kill during attach: libvirt has no disk"
    check "kill during attach: no vol-attached event" 0 "$(events vol-attached q2 sde)"
    unprotected "kill during attach: q2 not protected" q2
else
    ok "kill during attach: libvirt has the disk"
    wait_event "kill during attach: vol-attached event for q2" vol-attached q2 sde 1
    protected "kill during attach: q2 protected" q2 sde
fi

lv_finish
