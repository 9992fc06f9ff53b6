#!/bin/bash
# The logical (LVM) pool end to end, inside the VM (tests/vm/run-in-vm.sh): a real poold and
# poolctl on real LVM over loop devices on the scratch disk. Every step is checked in lvm2's
# own JSON reports (jq), in the bytes of the LVs, and in poolctl's answers.
. "$(dirname "$0")/../e2e/lib.sh"
export LVM_SUPPRESS_FD_WARNINGS=1
# The test's own lvm2 commands; without udevd (run-in-vm.sh -n) they need what poold adds by
# itself then (pools/lvm.c): no udev synchronisation, device nodes made by lvm2.
lvm() {
    if [ -e /run/udev/control ]; then
        command lvm "$@"
    else
        command lvm "$1" --config 'activation { udev_sync = 0 udev_rules = 0 }' "${@:2}"
    fi
}
for tool in lvm jq blkid losetup mkfs.ext4 qemu-img; do
    type -P $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
modprobe -a dm_snapshot dm_thin_pool || { echo "SKIP: no dm_snapshot/dm_thin_pool"; exit 77; }
MiB=1048576
# each result line says when it came (seconds into the test): the log shows where time goes
ok() { TESTS=$((TESTS + 1)); echo "ok $TESTS - $1 [${SECONDS}s]"; }
not_ok() { TESTS=$((TESTS + 1)); FAILS=$((FAILS + 1)); echo "not ok $TESTS - $1 [${SECONDS}s]"; }

# ---- fixture: three loop devices over 124 MiB pieces of the scratch disk ----
# (none at offset 0: lvm2 would see the first one's PV label on /dev/vda too, a duplicate)
L1=$(losetup -f --show -o 4M --sizelimit 124M /dev/vda) &&
    L2=$(losetup -f --show -o 128M --sizelimit 124M /dev/vda) &&
    L3=$(losetup -f --show -o 256M --sizelimit 124M /dev/vda) || exit 1
mkfs.ext4 -q "$L3"
cleanup_vm() {
    vgchange -an vgp vgsig vgext >/dev/null 2>&1
    losetup -d "$L1" "$L2" "$L3" 2>/dev/null
    cleanup
}
trap cleanup_vm EXIT

# lvsnap: lvm2's JSON report of vgp's LVs, kept in $LVS (one lvm run for a group of checks)
lvsnap() {
    LVS=$(lvm lvs -a --reportformat json --units b --nosuffix \
        -o lv_name,lv_uuid,lv_size,segtype,pool_lv,origin,lv_tags,lv_attr,data_percent vgp 2>&1) ||
        { not_ok "lvs vgp"; printf '%s\n' "$LVS" | sed 's/^/#   /'; }
}
# lvf LV FIELD: one field of one LV in $LVS ("" when absent; the first row of a multi-segment LV)
lvf() {
    jq -r --arg lv "$1" --arg f "$2" '[.report[0].lv[] | select(.lv_name == $lv) | .[$f]][0] // empty' <<<"$LVS"
}
lv_names() {
    lvm lvs --reportformat json -o lv_name vgp 2>/dev/null | jq -r '.report[0].lv[].lv_name' | sort | tr '\n' ' '
}
pv_vg() { lvm pvs --reportformat json -o pv_name,vg_name 2>/dev/null | jq -r --arg d "$1" '.report[0].pv[] | select(.pv_name == $d) | .vg_name'; }
is_pv() { [ -n "$(lvm pvs --reportformat json -o pv_name 2>/dev/null | jq -r --arg d "$1" '.report[0].pv[] | select(.pv_name == $d) | .pv_name')" ]; }
vg_field() { lvm vgs --reportformat json --units b --nosuffix -o vg_name,vg_size,vg_free "$1" 2>/dev/null | jq -r ".report[0].vg[0].$2 // empty"; }
holds_zeroes() { cmp -s -n "$2" "$1" /dev/zero; }

start_poold

# ---- build: signatures, devices in use, names in use; nothing half-made ----
run_ok "pool-define-as logical" pc pool-define-as sig logical --source-dev "$L3" --source-name vgsig
run_fails "pool-build refuses a device holding a filesystem" "pool 'sig'.*'$L3' holds a ext4 signature.*--overwrite" \
    pc pool-build sig
check "the filesystem is still there" "ext4" "$(blkid -p -o value -s TYPE "$L3")"
run_fails "pool-build --no-overwrite refuses it too" "holds a ext4 signature" pc pool-build sig --no-overwrite
run_ok "pool-build --overwrite" pc pool-build sig --overwrite
check "vgsig is on $L3" "vgsig" "$(pv_vg "$L3")"
run_ok "pool-delete of an empty pool" pc pool-delete sig
is_pv "$L3" && not_ok "pool-delete removes the PV" || ok "pool-delete removes the VG and the PV"
run_ok "pool-undefine" pc pool-undefine sig

run_ok "pool-define-as lp" pc pool-define-as lp logical --source-dev "$L1" --source-name vgp
run_ok "pool-build lp" pc pool-build lp
check "vgp is on $L1" "vgp" "$(pv_vg "$L1")"
run_ok "pool-define-as a pool on a device of vgp" pc pool-define-as taken logical --source-dev "$L1" --source-name vgtaken
run_fails "pool-build refuses a PV of another VG, even with --overwrite" \
    "pool 'taken'.*device '$L1' is already in volume group 'vgp'" pc pool-build taken --overwrite
lvm pvcreate -q "$L3" >/dev/null 2>&1 && lvm vgcreate -q vgext "$L3" >/dev/null 2>&1 ||
    not_ok "vgcreate vgext behind poold's back"
run_ok "pool-define-as a pool with the name of an existing VG" pc pool-define-as twin logical --source-dev "$L2" --source-name vgext
run_fails "pool-build refuses an existing VG name" "pool 'twin'.*volume group 'vgext' already exists" pc pool-build twin
is_pv "$L2" && not_ok "no PV made on $L2" || ok "no PV made on $L2"
run_ok "pool-define-as a pool with a VG name of bad characters" pc pool-define-as badchars logical --source-dev "$L2" --source-name 'v%g'
run_fails "pool-build refuses it before touching the device" "pool 'badchars'.*'v%g' cannot be a volume group name" pc pool-build badchars
long=$(printf 'v%.0s' $(seq 1 130))
run_ok "pool-define-as a pool with a VG name too long for lvm2" pc pool-define-as badname logical --source-dev "$L2" --source-name "$long"
run_fails "pool-build fails in vgcreate" "pool 'badname'.*vgcreate failed" pc pool-build badname
is_pv "$L2" && not_ok "the PV made before vgcreate failed is removed" || ok "the PV made before vgcreate failed is removed"
for p in taken twin badchars badname; do pc pool-undefine $p >/dev/null; done
lvm vgremove -q vgext >/dev/null 2>&1 && lvm pvremove -q "$L3" >/dev/null 2>&1

sources=$(pc find-storage-pool-sources-as logical)
printf '%s' "$sources" | tr -d '\n' | grep -q "<source>.*<device path='$L1'/>.*<name>vgp</name>" &&
    ok "find-storage-pool-sources-as lists vgp on $L1" ||
    { not_ok "find-storage-pool-sources-as lists vgp on $L1"; printf '%s\n' "$sources" | sed 's/^/#   /'; }

# ---- start, volumes ----
run_ok "pool-start" pc pool-start lp
check "pool capacity is the VG's size" "$(vg_field vgp vg_size)" "$(pc --json pool-info lp | jq -r .capacity)"
run_ok "vol-create-as raw 20M" pc vol-create-as lp lin 20M --format raw
lvsnap
check "lin is a linear LV of 20 MiB" "linear $((20 * MiB))" "$(lvf lin segtype) $(lvf lin lv_size)"
check "vol-path" "/dev/vgp/lin" "$(pc vol-path lin --pool lp)"
check "vol-key is the LV's UUID" "$(lvf lin lv_uuid) 39" "$(pc vol-key lin --pool lp) $(lvf lin lv_uuid | wc -c)"
run_fails "an LV name lvm2 would refuse" "pool 'lp'.*'bad%name' cannot be a logical volume name" \
    pc vol-create-as lp 'bad%name' 8M
run_fails "vol-create-as qcow2 is refused" "format 'qcow2' is not available in a logical pool" \
    pc vol-create-as lp q 8M --format qcow2
run_fails "a volume larger than the free space" "pool 'lp'.*(huge|space)" pc vol-create-as lp huge 1G
lvsnap
check "nothing made for it" "" "$(lvf huge lv_name)"

lvm lvcreate --yes -q -T -L 32M vgp/tpool >/dev/null 2>&1 || not_ok "lvcreate of a thin pool"
run_ok "vol-create-as --allocation 0 (thin)" pc vol-create-as lp thin1 64M --allocation 0
lvsnap
check "thin1 is a thin LV in tpool" "thin tpool $((64 * MiB))" \
    "$(lvf thin1 segtype) $(lvf thin1 pool_lv) $(lvf thin1 lv_size)"

# ---- upload / download ----
head -c $((3 * MiB)) /dev/urandom >"$E2E_DIR/in.bin"
run_ok "vol-upload" pc vol-upload lin "$E2E_DIR/in.bin" --pool lp
cmp -s -n $((3 * MiB)) "$E2E_DIR/in.bin" /dev/vgp/lin && ok "the LV holds the upload" || not_ok "the LV holds the upload"
run_ok "vol-download" pc vol-download lin "$E2E_DIR/out.bin" --pool lp
check "download size" "$((20 * MiB))" "$(stat -c %s "$E2E_DIR/out.bin")"
cmp -s -n $((3 * MiB)) "$E2E_DIR/in.bin" "$E2E_DIR/out.bin" && ok "download equals upload" || not_ok "download equals upload"

# ---- clones ----
run_ok "vol-clone of a linear LV" pc vol-clone lin lin2 --pool lp
lvsnap
check "lin2 is linear, as large" "linear $((20 * MiB))" "$(lvf lin2 segtype) $(lvf lin2 lv_size)"
cmp -s /dev/vgp/lin /dev/vgp/lin2 && ok "clone content" || not_ok "clone content"
# a qcow2 volume of a dir pool: 2 MiB of data at 4 MiB in a 16 MiB image
mkdir -p "$E2E_DIR/dp"
run_ok "pool-create-as dir" pc pool-create-as dp dir --target "$E2E_DIR/dp"
head -c $((16 * MiB)) /dev/zero >"$E2E_DIR/q.raw"
dd if="$E2E_DIR/in.bin" of="$E2E_DIR/q.raw" bs=1M count=2 seek=4 conv=notrunc status=none
qemu-img convert -O qcow2 "$E2E_DIR/q.raw" "$E2E_DIR/dp/q.qcow2" && pc pool-refresh dp >/dev/null
# dirty extents: whatever the next linear LV gets must be overwritten, zeroes included
lvm lvcreate --yes -q -n junk -L 16M vgp >/dev/null 2>&1 &&
    dd if="$E2E_DIR/in.bin" of=/dev/vgp/junk bs=1M oflag=direct status=none
lvm lvremove --yes -q vgp/junk >/dev/null 2>&1
echo "<volume><name>fromq</name></volume>" >"$E2E_DIR/fromq.xml"
run_ok "vol-create-from a qcow2 of a dir pool (linear)" pc vol-create-from lp "$E2E_DIR/fromq.xml" q.qcow2 --inputpool dp
lvsnap
check "fromq is linear, the qcow2's virtual size" "linear $((16 * MiB))" "$(lvf fromq segtype) $(lvf fromq lv_size)"
cmp -s "$E2E_DIR/q.raw" /dev/vgp/fromq && ok "qcow2 converted to raw, zeroes written over old data" ||
    not_ok "qcow2 converted to raw, zeroes written over old data"
echo "<volume><name>fromq2</name><allocation>0</allocation></volume>" >"$E2E_DIR/fromq2.xml"
run_ok "vol-create-from with allocation 0 (thin)" pc vol-create-from lp "$E2E_DIR/fromq2.xml" q.qcow2 --inputpool dp
lvsnap
check "fromq2 is thin" "thin" "$(lvf fromq2 segtype)"
cmp -s "$E2E_DIR/q.raw" /dev/vgp/fromq2 && ok "thin clone content" || not_ok "thin clone content"
pct=$(lvf fromq2 data_percent)
awk -v p="$pct" 'BEGIN { exit !(p > 0 && p < 50) }' && ok "thin clone skipped the zeroes ($pct% used)" ||
    not_ok "thin clone skipped the zeroes ($pct% used)"

# ---- resize ----
run_ok "vol-resize grow" pc vol-resize lin 40M --pool lp
lvsnap
check "lin is 40 MiB" "$((40 * MiB))" "$(lvf lin lv_size)"
printf x | dd of=/dev/vgp/lin bs=1 seek=$((30 * MiB)) conv=notrunc status=none
run_fails "a shrink needs --shrink" "shrink.*volume 'lin'" pc vol-resize lin 24M --pool lp
run_fails "a shrink over data is refused" "pool 'lp'.*volume 'lin'.*data at offset $((30 * MiB))" \
    pc vol-resize lin 24M --pool lp --shrink
lvsnap
check "lin still 40 MiB" "$((40 * MiB))" "$(lvf lin lv_size)"
printf '\0' | dd of=/dev/vgp/lin bs=1 seek=$((30 * MiB)) conv=notrunc status=none
run_ok "a shrink over zeroes" pc vol-resize lin 24M --pool lp --shrink
lvsnap
check "lin is 24 MiB" "$((24 * MiB))" "$(lvf lin lv_size)"
cmp -s -n $((3 * MiB)) "$E2E_DIR/in.bin" /dev/vgp/lin && ok "data kept by resizes" || not_ok "data kept by resizes"

# ---- snapshots: COW on linear, thin on thin ----
run_ok "vol-snapshot-create (linear)" pc vol-snapshot-create lin s1 --pool lp
lvsnap
check "lin.s1 is a tagged snapshot of lin" "lin poold_snapshot" "$(lvf lin.s1 origin) $(lvf lin.s1 lv_tags)"
pc vol-snapshot-list lin --pool lp | grep -qw s1 && ok "vol-snapshot-list" || not_ok "vol-snapshot-list"
pc vol-list lp | grep -q 'lin\.s1' && not_ok "snapshots are not volumes" || ok "snapshots are not volumes"
dd if=/dev/zero of=/dev/vgp/lin bs=1M count=3 oflag=direct status=none
run_ok "vol-snapshot-revert (linear)" pc vol-snapshot-revert lin s1 --pool lp
cmp -s -n $((3 * MiB)) "$E2E_DIR/in.bin" /dev/vgp/lin && ok "reverted content" || not_ok "reverted content"
lvsnap
check "the snapshot is kept after revert" "lin" "$(lvf lin.s1 origin)"
run_ok "vol-snapshot-delete (linear)" pc vol-snapshot-delete lin s1 --pool lp
lvsnap
check "lin.s1 is gone" "" "$(lvf lin.s1 lv_name)"
run_fails "vol-snapshot-delete of a missing snapshot" "pool 'lp'.*volume 'lin'.*no snapshot 's1'" \
    pc vol-snapshot-delete lin s1 --pool lp

dd if="$E2E_DIR/in.bin" of=/dev/vgp/thin1 bs=1M oflag=direct status=none
run_ok "vol-snapshot-create (thin)" pc vol-snapshot-create thin1 t1 --pool lp
lvsnap
check "thin1.t1 is a thin snapshot" "thin thin1" "$(lvf thin1.t1 segtype) $(lvf thin1.t1 origin)"
dd if=/dev/zero of=/dev/vgp/thin1 bs=1M count=3 oflag=direct status=none
run_ok "vol-snapshot-revert (thin)" pc vol-snapshot-revert thin1 t1 --pool lp
cmp -s -n $((3 * MiB)) "$E2E_DIR/in.bin" /dev/vgp/thin1 && ok "thin reverted content" || not_ok "thin reverted content"

# ---- wipe ----
run_ok "vol-wipe (linear: zeroes written)" pc vol-wipe lin2 --pool lp
holds_zeroes /dev/vgp/lin2 $((20 * MiB)) && ok "lin2 reads zeroes" || not_ok "lin2 reads zeroes"
run_ok "vol-wipe (thin: discarded)" pc vol-wipe fromq2 --pool lp
holds_zeroes /dev/vgp/fromq2 $((16 * MiB)) && ok "fromq2 reads zeroes" || not_ok "fromq2 reads zeroes"
lvsnap
check "fromq2 gave its blocks back" "0.00" "$(lvf fromq2 data_percent)"

# ---- refresh, restart ----
lvm lvcreate --yes -q -n outside -L 8M vgp >/dev/null 2>&1
run_ok "pool-refresh" pc pool-refresh lp
lvsnap
check "an LV made behind poold's back is listed, key = UUID" "$(lvf outside lv_uuid) 39" \
    "$(pc vol-key outside --pool lp 2>&1) $(lvf outside lv_uuid | wc -c)"
# what a poold killed during a clone leaves: a hidden partial LV of another PID
lvm lvcreate --yes -q -n .lost.partial-999999-0 -L 4M vgp >/dev/null 2>&1
lvsnap
check "a partial LV made by hand" "$((4 * MiB))" "$(lvf .lost.partial-999999-0 lv_size)"
before=$(pc vol-list lp)
printf '%s' "$before" | grep -q partial && not_ok "a partial LV is no volume" || ok "a partial LV is no volume"
stop_poold
start_poold
check "poold restarted lists the same volumes" "$before" "$(pc vol-list lp)"
lvsnap
check "the partial LV was removed when the pool started" "" "$(lvf .lost.partial-999999-0 lv_name)"
check "the pool is running" "running" "$(pc --json pool-info lp | jq -r .state)"

# ---- delete volumes, stop, delete the pool ----
run_ok "vol-delete of a thin volume with a snapshot" pc vol-delete thin1 --pool lp
run_ok "vol-delete of a linear volume" pc vol-delete lin --pool lp
lvsnap
check "they are gone" " " "$(lvf thin1 lv_name) $(lvf lin lv_name)"
check "no hidden snapshot left behind" "" "$(lvf thin1.t1 lv_name)"
run_ok "pool-destroy" pc pool-destroy lp
lvsnap
check "the thin pool is inactive" "-" "$(lvf tpool lv_attr | cut -c5)"
run_fails "pool-delete refuses a VG with LVs" "pool 'lp'.*still holds 5 logical volumes" pc pool-delete lp
lvm lvremove --yes -q vgp >/dev/null 2>&1
run_ok "pool-delete" pc pool-delete lp
check "vgp is gone" "" "$(vg_field vgp vg_name)"
is_pv "$L1" && not_ok "$L1 is no PV anymore" || ok "$L1 is no PV anymore"
run_ok "pool-undefine" pc pool-undefine lp
echo "# logical: ${SECONDS}s"
finish
