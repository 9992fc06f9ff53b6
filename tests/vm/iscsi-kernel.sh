#!/bin/bash
# iscsi pools through the kernel's initiator (suite vm, runs inside the guest): tgtd serves
# targets on 127.0.0.1, iscsid and iscsiadm log in, a real poold drives the pool. Start logs in
# (the kernel's session checked), the LUNs are volumes with their capacities and WWN keys at
# their /dev/disk/by-path links, upload/download/wipe on the devices, create/delete refused,
# poold restarted after kill -9 keeps the session and the volumes, stop logs out and leaves no
# node record; bad input: a target the portal does not offer, an initiator the target's ACL
# refuses, a portal nobody listens on; CHAP (right and wrong secret, through the backend and
# through poold's secret store); nothing stays logged in.
. "$POOL_SOURCE_DIR/tests/e2e/lib.sh"
. "$POOL_SOURCE_DIR/tests/vm/pool-scenario.sh"

IQN1=iqn.2024-01.io.poold:vm.lun2
IQN2=iqn.2024-01.io.poold:vm.acl
IQN3=iqn.2024-01.io.poold:vm.chap
CHAP_USER=chapuser CHAP_SECRET=chap-secret-0123
ALLOWED=iqn.2024-01.io.poold:allowed
BYPATH=/dev/disk/by-path
tgt() { tgtadm --lld iscsi "$@"; }
vm_cleanup() {
    iscsiadm -m node -u >/dev/null 2>&1
    tgt --op delete --mode target --tid 1 --force 2>/dev/null
    tgt --op delete --mode target --tid 2 --force 2>/dev/null
    tgt --op delete --mode target --tid 3 --force 2>/dev/null
    tgt --op delete --mode system 2>/dev/null
    cleanup
}
trap vm_cleanup EXIT
sessions() { iscsiadm -m session 2>/dev/null | grep -c "$1"; }

# --- the target: two LUNs on target 1, one on target 2 for initiator $ALLOWED only, one on
# target 3 behind CHAP ---
mkdir -p /etc/iscsi /run/lock/iscsi
echo "InitiatorName=iqn.2024-01.io.poold:vm-default" >/etc/iscsi/initiatorname.iscsi
mkfs.ext4 -q /dev/vda && mkdir -p /scratch && mount /dev/vda /scratch || exit 1
truncate -s 64M /scratch/lun1.img && truncate -s 32M /scratch/lun2.img &&
    truncate -s 16M /scratch/lun3.img && truncate -s 8M /scratch/lun4.img
tgtd || exit 1
for _ in $(seq 50); do tgt --op show --mode target >/dev/null 2>&1 && break; sleep 0.1; done
tgt --op new --mode target --tid 1 -T $IQN1 &&
    tgt --op new --mode logicalunit --tid 1 --lun 1 -b /scratch/lun1.img &&
    tgt --op new --mode logicalunit --tid 1 --lun 2 -b /scratch/lun2.img &&
    tgt --op bind --mode target --tid 1 -I ALL &&
    tgt --op new --mode target --tid 2 -T $IQN2 &&
    tgt --op new --mode logicalunit --tid 2 --lun 1 -b /scratch/lun3.img &&
    tgt --op bind --mode target --tid 2 -Q $ALLOWED &&
    tgt --op new --mode target --tid 3 -T $IQN3 &&
    tgt --op new --mode logicalunit --tid 3 --lun 1 -b /scratch/lun4.img &&
    tgt --op bind --mode target --tid 3 -I ALL &&
    tgt --op new --mode account --user $CHAP_USER --password $CHAP_SECRET &&
    tgt --op bind --mode account --tid 3 --user $CHAP_USER || exit 1
iscsid || exit 1
start_poold
echo "# ${SECONDS}s: target ready"

# --- start logs in; the LUNs are the volumes ---
check "pool-define-as" "Pool isp defined" \
    "$(pc pool-define-as isp iscsi --source-host 127.0.0.1 --source-dev $IQN1 --target $BYPATH)"
check "pool-start" "Pool isp started" "$(pc pool-start isp)"
check "the kernel has one session to the target" "1" "$(sessions $IQN1)"
check "the LUNs are the volumes (tgt's LUN 0 is a controller)" "unit:0:0:1 unit:0:0:2" \
    "$(vol_names isp)"
check "capacity of LUN 1" "Capacity:       67108864 bytes" \
    "$(pc vol-info unit:0:0:1 --pool isp --bytes | grep Capacity)"
check "capacity of LUN 2" "Capacity:       33554432 bytes" \
    "$(pc vol-info unit:0:0:2 --pool isp --bytes | grep Capacity)"
check "pool capacity = sum of the LUNs" "100663296" \
    "$(pc pool-info isp --bytes | awk '/^Capacity:/ {print $2}')"
path1=$(pc vol-path unit:0:0:1 --pool isp)
check "volume path is the by-path link" "$BYPATH/ip-127.0.0.1:3260-iscsi-$IQN1-lun-1" "$path1"
key1=$(pc vol-key unit:0:0:1 --pool isp)
wwid=$(cat "/sys/block/$(basename "$(readlink -f "$path1")")/device/wwid")
check "volume key is the LUN's WWN (scsi_id form)" "3${wwid#naa.}" "$key1"
[ "$(pc vol-key unit:0:0:2 --pool isp)" != "$key1" ] && ok "keys differ per LUN" ||
    not_ok "keys differ per LUN"

# --- I/O on the devices ---
head -c 1048576 /dev/urandom >"$E2E_DIR/in.bin"
run_ok "vol-upload" pc vol-upload unit:0:0:2 "$E2E_DIR/in.bin" --pool isp --offset 4096
cmp -s "$E2E_DIR/in.bin" <(dd if=/scratch/lun2.img bs=4096 skip=1 count=256 status=none) &&
    ok "uploaded bytes are on the target's backing file" ||
    not_ok "uploaded bytes are on the target's backing file"
run_ok "vol-download" pc vol-download unit:0:0:2 "$E2E_DIR/out.bin" --pool isp --offset 4096 \
    --length 1048576
cmp -s "$E2E_DIR/in.bin" "$E2E_DIR/out.bin" && ok "downloaded = uploaded" ||
    not_ok "downloaded = uploaded"
check "vol-wipe" "Vol unit:0:0:2 wiped" "$(pc vol-wipe unit:0:0:2 --pool isp)"
sync
[ "$(tr -d '\0' </scratch/lun2.img | wc -c)" = 0 ] && ok "the wiped LUN holds zeroes" ||
    not_ok "the wiped LUN holds zeroes"
run_fails "vol-create is refused" "pool 'isp': pool type 'iscsi' does not support volume creation" \
    pc vol-create-as isp new 1M
run_fails "vol-delete is refused" "pool 'isp': pool type 'iscsi' does not support volume deletion" \
    pc vol-delete unit:0:0:1 --pool isp
echo "# ${SECONDS}s: volumes done"

# --- poold restarted keeps the session; stop logs out ---
restart_check isp KILL
check "one session after the restart" "1" "$(sessions $IQN1)"
run_ok "pool-refresh" pc pool-refresh isp
check "pool-destroy" "Pool isp destroyed" "$(pc pool-destroy isp)"
check "stop logged out" "0" "$(sessions $IQN1)"
check "no node record left (CHAP settings included)" "0" \
    "$(iscsiadm -m node 2>/dev/null | grep -c $IQN1)"
[ -e "$path1" ] && not_ok "the LUN's device is gone" || ok "the LUN's device is gone"
run_ok "pool-undefine" pc pool-undefine isp
echo "# ${SECONDS}s: restart and stop done"

# --- bad input: nothing stays logged in ---
run_ok "define a pool on a target the portal does not offer" \
    pc pool-define-as nosuch iscsi --source-host 127.0.0.1 --source-dev iqn.2024-01.io.poold:nope \
    --target $BYPATH
run_fails "start with a wrong target IQN" \
    "pool 'nosuch': portal 127.0.0.1:3260 does not offer target iqn.2024-01.io.poold:nope \(offered: .*$IQN1" \
    pc pool-start nosuch
run_ok "pool-undefine" pc pool-undefine nosuch
run_ok "define a pool with an initiator the ACL refuses" \
    pc pool-define-as acl iscsi --source-host 127.0.0.1 --source-dev $IQN2 \
    --source-initiator iqn.2024-01.io.poold:refused --target $BYPATH
run_fails "start with a refused initiator IQN" "pool 'acl': .*$IQN2" pc pool-start acl
run_ok "pool-undefine" pc pool-undefine acl
run_ok "define a pool with the allowed initiator" \
    pc pool-define-as acl2 iscsi --source-host 127.0.0.1 --source-dev $IQN2 \
    --source-initiator $ALLOWED --target $BYPATH
run_ok "start with the allowed initiator IQN" pc pool-start acl2
check "its LUN" "Capacity:       16777216 bytes" \
    "$(pc vol-info unit:0:0:1 --pool acl2 --bytes | grep Capacity)"
check "the session carries the pool's initiator" "$ALLOWED" \
    "$(cat /sys/class/iscsi_session/session*/initiatorname 2>/dev/null | sort -u | xargs)"
run_ok "pool-destroy" pc pool-destroy acl2
run_ok "pool-undefine" pc pool-undefine acl2
cat >"$E2E_DIR/noport.xml" <<EOF
<pool type='iscsi'>
  <name>noport</name>
  <source><host name='127.0.0.1' port='3999'/><device path='$IQN1'/></source>
  <target><path>$BYPATH</path></target>
</pool>
EOF
run_ok "define a pool on a portal nobody listens on" pc pool-define "$E2E_DIR/noport.xml"
run_fails "start with nobody listening" "pool 'noport': cannot list the targets of portal" \
    pc pool-start noport

# CHAP: the daemon has no secret store yet, so the backend runs directly with the secret set
# as the daemon would set it (tests/pools/iscsi-chap-vm.c)
if "$POOL_ISCSI_CHAP_VM" 127.0.0.1 $IQN3 $CHAP_USER $CHAP_SECRET >"$E2E_DIR/chap.out" 2>&1; then
    ok "CHAP: right secret logs in, wrong secret and wrong user refused, nothing left"
else
    not_ok "CHAP: right secret logs in, wrong secret and wrong user refused, nothing left"
fi
sed 's/^/#   /' "$E2E_DIR/chap.out"

# CHAP through poold: the secret from its store (secret-define, secret-set-value)
cat >"$E2E_DIR/secret.xml" <<EOF
<secret ephemeral='no' private='yes'><usage type='iscsi'><target>vmchap</target></usage></secret>
EOF
printf %s "$CHAP_SECRET" >"$E2E_DIR/plain"
printf %s "not-the-secret" >"$E2E_DIR/wrong"
run_ok "secret-define" pc secret-define "$E2E_DIR/secret.xml"
run_ok "secret-set-value" pc secret-set-value vmchap --file "$E2E_DIR/plain" --plain
run_ok "define a CHAP pool" pc pool-define-as chp iscsi --source-host 127.0.0.1 \
    --source-dev $IQN3 --auth-type chap --auth-username $CHAP_USER --secret-usage vmchap \
    --target $BYPATH
check "pool-start with the daemon's CHAP secret" "Pool chp started" "$(pc pool-start chp)"
check "the LUN behind CHAP" "unit:0:0:1" "$(vol_names chp)"
run_ok "pool-destroy" pc pool-destroy chp
run_ok "a wrong secret value" pc secret-set-value vmchap --file "$E2E_DIR/wrong" --plain
run_fails "pool-start with a wrong CHAP secret" \
    "pool 'chp': cannot log in to target $IQN3 at 127.0.0.1:3260: CHAP authentication failed" \
    pc pool-start chp
run_ok "pool-undefine" pc pool-undefine chp
grep -q -e "$CHAP_SECRET" -e "not-the-secret" "$E2E_DIR/poold.log" &&
    not_ok "no CHAP secret in poold's log" || ok "no CHAP secret in poold's log"
check "nothing logged in" "" "$(iscsiadm -m session 2>/dev/null)"
check "no node records left" "" "$(iscsiadm -m node 2>/dev/null)"
echo "# ${SECONDS}s: bad input done"
finish
