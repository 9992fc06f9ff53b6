#!/bin/bash
# XML both ways against a real libvirtd: what `virsh pool-dumpxml` prints, poold defines;
# what `poolctl pool-dumpxml` prints, libvirt defines — and libvirt, given poold's XML back,
# prints exactly what it printed of its own definition. The same for volumes
# (`virsh vol-dumpxml` -> `poolctl vol-create`, `poolctl vol-dumpxml` -> `virsh vol-create`),
# with qemu-img as the judge of what was created.
. "$(dirname "$0")/libvirtd-fixture.sh"
start_poold
D=$E2E_DIR
command -v qemu-img >/dev/null || lv_skip "qemu-img is not installed (qemu-utils)"

# Pool types checked (XML_POOL_TYPES narrows them when debugging).
XML_POOL_TYPES=${XML_POOL_TYPES:-dir fs netfs logical iscsi iscsi-direct}
IQN=iqn.2024-01.io.poold:xml

# define_in_libvirt TYPE NAME: virsh pool-define-as, without building or starting
define_in_libvirt() {
    case $1 in
    dir) vsh pool-define-as "$2" dir --target "$D/$2" ;;
    fs) vsh pool-define-as "$2" fs --source-dev /dev/vdb --source-format ext4 --target "$D/$2" ;;
    netfs)
        vsh pool-define-as "$2" netfs --source-host 127.0.0.1 --source-path /export \
            --source-format nfs --target "$D/$2"
        ;;
    logical) vsh pool-define-as "$2" logical --source-name vg0 --source-dev /dev/vdc \
        --target /dev/vg0 ;;
    iscsi) vsh pool-define-as "$2" iscsi --source-host 127.0.0.1 --source-dev "$IQN" \
        --target /dev/disk/by-path ;;
    iscsi-direct) vsh pool-define-as "$2" iscsi-direct --source-host 127.0.0.1 \
        --source-dev "$IQN" --source-initiator iqn.2024-01.io.poold:initiator ;;
    esac >/dev/null
}

for type in $XML_POOL_TYPES; do
    name=lv-$type
    if ! define_in_libvirt "$type" "$name"; then
        not_ok "$type: virsh pool-define-as"
        continue
    fi
    vsh pool-dumpxml "$name" >"$D/$name.virsh.xml"
    uuid=$(vsh pool-uuid "$name")
    run_ok "$type: poolctl pool-define accepts virsh pool-dumpxml" pc pool-define "$D/$name.virsh.xml"
    check "$type: same uuid in poold" "$uuid" "$(pc pool-uuid "$name" 2>&1)"
    pc pool-dumpxml "$name" >"$D/$name.poold.xml" 2>&1
    # libvirt forgets its own definition and takes poold's: it must come out the same
    vsh pool-undefine "$name" >/dev/null
    run_ok "$type: virsh pool-define accepts poolctl pool-dumpxml" \
        virsh -q -c "$LIBVIRT_URI" pool-define "$D/$name.poold.xml"
    check "$type: libvirt's dumpxml of poold's XML equals its own" \
        "$(cat "$D/$name.virsh.xml")" "$(vsh pool-dumpxml "$name" 2>&1)"
    run_ok "$type: poolctl pool-undefine" pc pool-undefine "$name"
    vsh pool-undefine "$name" >/dev/null # (libvirt refuses two pools on one source)
done

# A running dir pool on each side over two directories.
run_ok "libvirt: dir pool lvp defined" vsh pool-define-as lvp dir --target "$D/lvp"
run_ok "libvirt: lvp built" vsh pool-build lvp
run_ok "libvirt: lvp started" vsh pool-start lvp
run_ok "poold: dir pool pdp defined" pc pool-define-as pdp dir --target "$D/pdp"
run_ok "poold: pdp built" pc pool-build pdp
run_ok "poold: pdp started" pc pool-start pdp

# qemu_img_field FILE FIELD: a field of qemu-img info --output=json ("no image FILE" if none)
qemu_img_field() {
    qemu-img info -U --output=json "$1" 2>/dev/null |
        python3 -c "import json,sys; print(json.load(sys.stdin).get('$2'))" 2>/dev/null ||
        echo "no image $1"
}

# libvirt -> poold: qcow2 and raw
vsh vol-create-as lvp v-qcow2 12M --format qcow2 >/dev/null
vsh vol-create-as lvp v-raw 3M --format raw >/dev/null
for vol in v-qcow2 v-raw; do
    vsh vol-dumpxml "$vol" --pool lvp >"$D/$vol.virsh.xml"
    run_ok "$vol: poolctl vol-create accepts virsh vol-dumpxml" pc vol-create pdp "$D/$vol.virsh.xml"
    check "$vol: same format as libvirt's" "$(qemu_img_field "$D/lvp/$vol" format)" \
        "$(qemu_img_field "$D/pdp/$vol" format 2>&1)"
    check "$vol: same capacity as libvirt's" "$(qemu_img_field "$D/lvp/$vol" virtual-size)" \
        "$(qemu_img_field "$D/pdp/$vol" virtual-size 2>&1)"
done

# A qcow2 overlay made by libvirt: its backing store must be a volume poold manages. One in
# libvirt's pool is refused by name, and nothing is left; one in poold's pool is taken.
vsh vol-create-as lvp v-over 12M --format qcow2 --backing-vol "$D/lvp/v-qcow2" \
    --backing-vol-format qcow2 >/dev/null
vsh vol-dumpxml v-over --pool lvp >"$D/v-over.virsh.xml"
run_fails "v-over: a backing store outside poold's pools is refused" \
    "backing file '$D/lvp/v-qcow2' of volume 'v-over' is outside the pools poold manages" \
    pc vol-create pdp "$D/v-over.virsh.xml"
run_ok "v-over: nothing left after the refusal" test ! -e "$D/pdp/v-over"
# (libvirt makes overlays of its own volumes only: qemu-img makes it, libvirt describes it)
qemu-img create -q -f qcow2 -b "$D/pdp/v-qcow2" -F qcow2 "$D/lvp/v-over2" 12M
vsh pool-refresh lvp >/dev/null
vsh vol-dumpxml v-over2 --pool lvp >"$D/v-over2.virsh.xml"
run_ok "v-over2: poolctl vol-create accepts a virsh vol-dumpxml with a backing store" \
    pc vol-create pdp "$D/v-over2.virsh.xml"
check "v-over2: the backing file" "$D/pdp/v-qcow2" \
    "$(qemu_img_field "$D/pdp/v-over2" backing-filename 2>&1)"
check "v-over2: the backing format" "qcow2" \
    "$(qemu_img_field "$D/pdp/v-over2" backing-filename-format 2>&1)"

# poold -> libvirt: poold's volume XML under a new name in libvirt's pool
pc vol-create-as pdp p-qcow2 20M --format qcow2 >/dev/null
pc vol-create-as pdp p-raw 5M --format raw >/dev/null
for vol in p-qcow2 p-raw; do
    pc vol-dumpxml "$vol" --pool pdp | sed "s|<name>$vol</name>|<name>$vol-lv</name>|" \
        >"$D/$vol.poold.xml"
    run_ok "$vol: virsh vol-create accepts poolctl vol-dumpxml" \
        virsh -q -c "$LIBVIRT_URI" vol-create lvp "$D/$vol.poold.xml"
    check "$vol: libvirt made the same format" "$(qemu_img_field "$D/pdp/$vol" format)" \
        "$(qemu_img_field "$D/lvp/$vol-lv" format 2>&1)"
    check "$vol: libvirt made the same capacity" "$(qemu_img_field "$D/pdp/$vol" virtual-size)" \
        "$(qemu_img_field "$D/lvp/$vol-lv" virtual-size 2>&1)"
done

# poold's running pool, defined in libvirt from poolctl pool-dumpxml, lists poold's volumes
pc pool-dumpxml pdp | sed 's|<name>pdp</name>|<name>pdp-lv</name>|; /<uuid>/d' >"$D/pdp.poold.xml"
run_ok "virsh pool-define of a running poold pool's XML" \
    virsh -q -c "$LIBVIRT_URI" pool-define "$D/pdp.poold.xml"
run_ok "virsh pool-start of it" virsh -q -c "$LIBVIRT_URI" pool-start pdp-lv
check "virsh vol-list shows poold's volumes" "$(pc vol-list pdp | awk 'NR > 2 && NF { print $1 }' | sort)" \
    "$(vsh vol-list pdp-lv 2>&1 | awk 'NF { print $1 }' | sort)"
vsh pool-destroy pdp-lv >/dev/null

lv_finish
