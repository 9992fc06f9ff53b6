#!/bin/bash
# attach-disk's bad input: unknown domain, --live on a domain that does not run, a target in
# use, a volume of an inactive pool, a volume attached read-write elsewhere (unless both are
# --mode shareable), an unreachable libvirt URI. Each is a clear error naming the object, and
# leaves nothing behind: the domains' live and inactive XML and poolctl domblklist are as
# before, and the volume is not recorded as attached (poold still wipes it).
. "$(dirname "$0")/libvirtd-fixture.sh"
. "$(dirname "$0")/guest.sh"
D=$E2E_DIR
P=$D/p
echo "detach_timeout=2" >>"$E2E_DIR/poold.conf"
start_poold

run_ok "pool p" pc pool-define-as p dir --target "$P"
run_ok "pool p built" pc pool-build p
run_ok "pool p started" pc pool-start p
run_ok "q1 qcow2" pc vol-create-as p q1 16M --format qcow2
for v in r1 r2 r3; do run_ok "$v raw" pc vol-create-as p "$v" 8M --format raw; done
run_ok "pool p2" pc pool-define-as p2 dir --target "$D/p2"
run_ok "pool p2 built" pc pool-build p2
run_ok "pool p2 started" pc pool-start p2
run_ok "v2 in p2" pc vol-create-as p2 v2 8M --format raw
run_ok "pool p2 stopped" pc pool-destroy p2
guest_noos_define noos
guest_noos_define other
guest_noos_define off
run_ok "noos starts" vsh start noos
run_ok "other starts" vsh start other
run_ok "q1 attached read-write to noos" pc attach-disk noos p/q1 sda --targetbus scsi --live
run_ok "r3 attached shareable to noos" pc attach-disk noos p/r3 sdb --targetbus scsi --live \
    --mode shareable

# snapshot: everything a failed attach must leave as it was (domains, domblklist, the number
# of vol-attached events poold logged)
snapshot() {
    local dom
    for dom in noos other off; do
        echo "== $dom"
        vsh dumpxml "$dom"
        vsh dumpxml "$dom" --inactive
        lv_blk "$dom"
        lv_blk "$dom" --inactive
    done
    echo "== vol-attached events: $(pc event --history | grep -c "event 'vol-attached'")"
}

# refused NAME PATTERN VOLUME CMD...: the command fails with an error matching PATTERN; the
# domains, domblklist and poold's event log are unchanged; VOLUME (pool/volume, or "-") is not
# recorded as attached: poold still wipes it.
refused() {
    local name=$1 pattern=$2 vol=$3 before
    shift 3
    before=$(snapshot)
    run_fails "$name: clear error" "$pattern" "$@"
    check "$name: domains, domblklist, events unchanged" "$before" "$(snapshot)"
    if [ "$vol" != - ]; then
        run_ok "$name: nothing recorded for $vol" pc vol-wipe "${vol#*/}" --pool "${vol%/*}"
    fi
}

refused "unknown domain" "nosuch" p/r1 pc attach-disk nosuch p/r1 sdc --targetbus scsi --live
refused "--live on a domain that does not run" "off.*(not running|inactive)|(not running|inactive).*off" \
    p/r1 pc attach-disk off p/r1 sdc --targetbus scsi --live
refused "target in use" "sda" p/r1 pc attach-disk noos p/r1 sda --targetbus scsi --live
vsh attach-disk off "$P/r2" sdd --targetbus scsi --subdriver raw --config >/dev/null
refused "target in use in the config only" "sdd" p/r1 pc attach-disk off p/r1 sdd \
    --targetbus scsi --config
vsh detach-disk off sdd --config >/dev/null
refused "volume of an inactive pool" "p2.*(not active|inactive)|(not active|inactive).*p2" - \
    pc attach-disk noos p2/v2 sdc --targetbus scsi --live
refused "unknown volume" "nosuchvol" - pc attach-disk noos p/nosuchvol sdc --targetbus scsi --live
refused "unknown pool" "nosuchpool" - pc attach-disk noos nosuchpool/r1 sdc --targetbus scsi \
    --live
refused "a path outside every pool" "/etc/hostname" - pc attach-disk noos /etc/hostname sdc \
    --targetbus scsi --live
refused "bad target name" "sd1" p/r1 pc attach-disk noos p/r1 sd1 --targetbus scsi --live
refused "bad --mode" "mode" p/r1 pc attach-disk noos p/r1 sdc --targetbus scsi --live \
    --mode nope

# read-write elsewhere: refused naming the domain that has it; shareable on both sides works
before=$(snapshot)
run_fails "q1 read-write elsewhere: refused naming noos" "noos" \
    pc attach-disk other p/q1 sda --targetbus scsi --live
check "q1 read-write elsewhere: nothing changed" "$before" "$(snapshot)"
run_fails "shareable r3 to other without --mode shareable: refused naming noos" "noos" \
    pc attach-disk other p/r3 sda --targetbus scsi --live
run_ok "shareable r3 to other with --mode shareable" pc attach-disk other p/r3 sda \
    --targetbus scsi --live --mode shareable
check "r3 in other's live XML" "$P/r3 raw scsi" "$(lv_disk other sda)"

# a guest that does not answer the unplug (no OS, virtio): detach-disk --live gives up after
# [libvirt] detach_timeout with an error naming the domain and the target; the disk stays, and
# so does poold's record of it
run_ok "virtio r2 on the no-OS guest" pc attach-disk noos p/r2 vdb --targetbus virtio --live
run_fails "detach of a disk the guest keeps: clear error" "noos.*vdb|vdb.*noos" \
    pc detach-disk noos vdb --live
check "the disk is still in the live XML" "$P/r2 raw virtio" "$(lv_disk noos vdb)"
run_fails "r2 is still protected" "noos.*vdb|vdb.*noos" pc vol-wipe r2 --pool p

# a URI poold's configuration does not name is refused before libvirt is asked
refused "a URI not in the configuration (-C)" \
    "libvirt URI 'qemu\\+unix:///system\\?socket=/tmp/x' is not allowed.*allowed_uris" p/r1 \
    pc -C "qemu+unix:///system?socket=/tmp/x" attach-disk noos p/r1 sdc --targetbus scsi --live
# unreachable libvirt URI, per call (-C, by its configured name) and as poold's default
stop_poold TERM
cat >"$E2E_DIR/poold.conf" <<EOF
[libvirt]
uri=$LIBVIRT_URI
allowed_uris=gone=qemu+unix:///system?socket=/nonexistent/libvirt-sock
EOF
start_poold
refused "unreachable URI (-C NAME)" "/nonexistent/libvirt-sock" p/r1 \
    pc -C gone attach-disk noos p/r1 sdc --targetbus scsi --live
stop_poold TERM
cat >"$E2E_DIR/poold.conf" <<EOF
[libvirt]
uri=qemu+unix:///system?socket=/nonexistent/libvirt-sock
allowed_uris=$LIBVIRT_URI
EOF
start_poold
refused "unreachable URI (poold's default)" "/nonexistent/libvirt-sock" p/r1 \
    pc attach-disk noos p/r1 sdc --targetbus scsi --live
run_ok "poold still answers" pc pool-list
run_ok "-C with the right URI overrides poold's unreachable default" \
    pc -C "$LIBVIRT_URI" attach-disk noos p/r1 sdc --targetbus scsi --live
check "-C: the disk is in the live XML" "$P/r1 raw scsi" "$(lv_disk noos sdc)"
run_ok "-C: detach-disk" pc -C "$LIBVIRT_URI" detach-disk noos sdc --live
check "-C: the disk is gone" none "$(lv_disk noos sdc)"

lv_finish
