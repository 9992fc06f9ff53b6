#!/bin/bash
# Pools shared with libvirt: pool-import-libvirt copies libvirt's definitions into poold (by
# name, or all; through --connect or poold's default URI); pool-export-libvirt defines a poold
# pool in libvirt, where virsh vol-list shows poold's volumes and a domain with
# <disk type='volume'> on one of them starts.
. "$(dirname "$0")/libvirtd-fixture.sh"
. "$(dirname "$0")/guest.sh"
D=$E2E_DIR
start_poold

# --- import
run_ok "libvirt: pool lv-a" vsh pool-define-as lv-a dir --target "$D/lv-a"
run_ok "libvirt: pool lv-b" vsh pool-define-as lv-b dir --target "$D/lv-b"
run_ok "libvirt: lv-b built" vsh pool-build lv-b
run_ok "libvirt: lv-b started" vsh pool-start lv-b

run_ok "pool-import-libvirt --connect URI lv-a" pc pool-import-libvirt --connect "$LIBVIRT_URI" lv-a
check "lv-a: same uuid" "$(vsh pool-uuid lv-a)" "$(pc pool-uuid lv-a 2>&1)"
check "lv-a: same target" "$D/lv-a" \
    "$(pc pool-dumpxml lv-a 2>&1 | xmllint --xpath 'string(/pool/target/path)' - 2>&1)"
check "lv-b not imported by name lv-a" "" "$(pc pool-list --all | awk '$1 == "lv-b"')"
run_ok "pool-undefine lv-a in poold" pc pool-undefine lv-a

run_ok "pool-import-libvirt (all, poold's default URI)" pc pool-import-libvirt
check "both imported" "lv-a lv-b" \
    "$(pc pool-list --all | awk '$1 ~ /^lv-/ { print $1 }' | sort | xargs)"
check "lv-b: same uuid" "$(vsh pool-uuid lv-b)" "$(pc pool-uuid lv-b 2>&1)"
run_ok "an imported pool builds and starts in poold" sh -c \
    "$(printf '%q' "$POOLCTL") -c '$SOCK' pool-build lv-a && $(printf '%q' "$POOLCTL") -c '$SOCK' pool-start lv-a"
run_fails "pool-import-libvirt of an unknown pool names it" "nosuchpool" \
    pc pool-import-libvirt nosuchpool
check "nothing imported by the failed import" "" "$(pc pool-list --all | awk '$1 == "nosuchpool"')"
run_fails "pool-import-libvirt from a URI poold does not allow names it and the rule" \
    "/nonexistent/libvirt-sock' is not allowed.*allowed_uris" \
    pc pool-import-libvirt --connect "qemu+unix:///system?socket=/nonexistent/libvirt-sock" lv-a

# --- export
run_ok "poold: pool pe" pc pool-define-as pe dir --target "$D/pe"
run_ok "poold: pe built" pc pool-build pe
run_ok "poold: pe started" pc pool-start pe
run_ok "poold: e1 qcow2" pc vol-create-as pe e1 16M --format qcow2
run_ok "poold: e2 raw" pc vol-create-as pe e2 8M --format raw

run_ok "pool-export-libvirt pe --connect URI" pc pool-export-libvirt pe --connect "$LIBVIRT_URI"
check "libvirt: pe has poold's uuid" "$(pc pool-uuid pe)" "$(vsh pool-uuid pe 2>&1)"
[ "$(vsh pool-info pe 2>/dev/null | awk '$1 == "State:" { print $2 }')" = running ] ||
    vsh pool-start pe >/dev/null
check "virsh vol-list pe shows poold's volumes" "e1 $D/pe/e1
e2 $D/pe/e2" "$(vsh vol-list pe 2>&1 | awk 'NF { print $1, $2 }' | sort)"
check "libvirt sees e1 as qcow2" "qcow2" \
    "$(vsh vol-dumpxml e1 --pool pe 2>&1 | xmllint --xpath 'string(/volume/target/format/@type)' - 2>&1)"

guest_noos_define voldom
cat >"$D/vol-disk.xml" <<EOF
<disk type='volume' device='disk'>
  <driver name='qemu' type='qcow2'/>
  <source pool='pe' volume='e1'/>
  <target dev='sda' bus='scsi'/>
</disk>
EOF
run_ok "libvirt: <disk type='volume'> on e1 in voldom's config" \
    vsh attach-device voldom "$D/vol-disk.xml" --config
run_ok "voldom starts with it" vsh start voldom
check "voldom's live disk is volume e1 of pool pe" "pe/e1" \
    "$(lv_domxml voldom | xmllint --xpath "concat(//disk[target/@dev='sda']/source/@pool, '/', \
        //disk[target/@dev='sda']/source/@volume)" - 2>&1)"
run_ok "QEMU opened poold's file" grep -q "\"filename\":\"$D/pe/e1\"" "$LV_DIR/log/qemu/voldom.log"
run_ok "pool-export-libvirt with poold's default URI (again: redefines)" pc pool-export-libvirt pe

lv_finish
