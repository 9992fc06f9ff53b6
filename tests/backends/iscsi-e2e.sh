#!/bin/bash
# iscsi-direct end to end through poold and poolctl against a real tgtd on loopback (TAP):
# secrets (define, set-value, list, dumpxml, get-value refused), pools with and without CHAP,
# vol-list/vol-info of the LUNs, upload/download and wipe checked in the LUN files, create and
# delete refused, wrong and missing secrets, find-storage-pool-sources-as, poold restarted
# finds pools and volumes again, the secret never in any output or log, the state database
# 0600. Exit 77 without tgtd.
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
FIXTURE=${TGT_FIXTURE:-$(dirname "$0")/tgt-fixture.sh}
IQN_PLAIN=iqn.2026-11.io.poold.test:plain
IQN_CHAP=iqn.2026-11.io.poold.test:chap
INIT=iqn.2026-11.io.poold.test:e2e
SECRET=Chap-Secret-4711
OUT=$E2E_DIR/outputs.log # everything poolctl printed, searched for the secret at the end

TGT_DIR=$(mktemp -d "${POOLD_TEST_TMPDIR:-/dev/shm}/pd-tgt.XXXXXX")
stop_all() {
    bash "$FIXTURE" stop "$TGT_DIR" >/dev/null 2>&1
    rm -rf "$TGT_DIR"
    cleanup
}
trap stop_all EXIT
started=$(TGT_OWNER_PID=$$ bash "$FIXTURE" start "$TGT_DIR")
rc=$?
if [ $rc -eq 77 ]; then echo "1..0 # SKIP $started"; exit 0; fi
[ $rc -eq 0 ] || { echo "Bail out! tgt fixture: $started"; exit 1; }
PORT=${started%% *}

# p: poolctl, its output (stdout and stderr) kept for the secret check
p() {
    local rc
    pc "$@" 2>"$E2E_DIR/stderr" | tee -a "$OUT"
    rc=${PIPESTATUS[0]}
    tee -a "$OUT" <"$E2E_DIR/stderr" >&2
    return "$rc"
}
# lun_bytes FILE OFFSET LEN: bytes of a LUN's backing file
lun_bytes() { dd if="$TGT_DIR/$1" bs=1 skip="$2" count="$3" status=none; }

pool_xml() { # NAME IQN [SECRET_USAGE]
    local auth=""
    [ -n "${3:-}" ] && auth="<auth type='chap' username='pooldtest'><secret usage='$3'/></auth>"
    cat <<EOF
<pool type='iscsi-direct'>
  <name>$1</name>
  <source>
    <host name='127.0.0.1' port='$PORT'/>
    <device path='$2'/>
    <initiator><iqn name='$INIT'/></initiator>
    $auth
  </source>
</pool>
EOF
}

export POOLD_ARGS=--verbose # every call logged: the secret must still not appear
start_poold

# ---- secrets ----
cat >"$E2E_DIR/secret.xml" <<EOF
<secret ephemeral='no' private='yes'>
  <description>CHAP of the test target</description>
  <usage type='iscsi'>
    <target>tgtchap</target>
  </usage>
</secret>
EOF
out=$(p secret-define "$E2E_DIR/secret.xml")
if [[ $out =~ ^Secret\ ([0-9a-f-]{36})\ created$ ]]; then ok "secret-define"; UUID=${BASH_REMATCH[1]}; else
    not_ok "secret-define: $out"; UUID=none; fi
check_exact "secret-list" " UUID                                   Usage
$(dashes 55)
 $UUID   iscsi tgtchap

" p secret-list
check_exact "secret-dumpxml" "<secret ephemeral='no' private='yes'>
  <uuid>$UUID</uuid>
  <description>CHAP of the test target</description>
  <usage type='iscsi'>
    <target>tgtchap</target>
  </usage>
</secret>

" p secret-dumpxml tgtchap
pool_xml pc "$IQN_CHAP" tgtchap >"$E2E_DIR/pc.xml"
run_ok "pool-define with CHAP" p pool-define "$E2E_DIR/pc.xml"
run_fails "pool-start before the value is set" "pool 'pc'.*has no value.*secret-set-value" \
    p pool-start pc
B64=$(printf %s "$SECRET" | base64)
check_exact "secret-set-value (positional base64)" "Secret value set

" p secret-set-value "$UUID" "$B64"
printf %s "$SECRET" >"$E2E_DIR/plain"
check_exact "secret-set-value --file --plain" "Secret value set

" p secret-set-value tgtchap --file "$E2E_DIR/plain" --plain
run_fails "secret-set-value on the read-only socket" "PermissionDenied|read-only|not allowed" \
    pc_ro secret-set-value tgtchap "$B64"
run_fails "secret-set-value refuses what is not base64" "base64" p secret-set-value tgtchap 'a*b'
run_fails "secret-get-value refused" "write-only" p secret-get-value tgtchap
run_fails "a second secret for the same usage" "already defined for use with iscsi tgtchap" \
    p secret-define <(sed "s/<description>/<uuid>0b8e7c1a-0000-4000-8000-000000000001<\/uuid><description>/" "$E2E_DIR/secret.xml")

# ---- pools ----
check_exact "pool-start with CHAP" "Pool pc started

" p pool-start pc
check_exact "vol-list of the CHAP pool" " Name         Path
$(dashes 77)
 unit:0:0:1   ip-127.0.0.1:$PORT-iscsi-$IQN_CHAP-lun-1

" p vol-list pc
pool_xml p1 "$IQN_PLAIN" >"$E2E_DIR/p1.xml"
run_ok "pool-define p1" p pool-define "$E2E_DIR/p1.xml"
run_ok "pool-start p1" p pool-start p1
names=$(p vol-list p1 | awk 'NR > 2 && NF { print $1 }' | tr '\n' ' ')
check "vol-list p1: the disk LUNs, not the controller" "unit:0:0:1 unit:0:0:2 unit:0:0:3 unit:0:0:4 " "$names"
check "vol-info capacity (4 KiB-sector LUN)" "Capacity:       32.00 MiB" \
    "$(p vol-info unit:0:0:3 --pool p1 | grep Capacity)"
check "vol-info --bytes" "Capacity:       134217728 bytes" \
    "$(p vol-info unit:0:0:2 --pool p1 --bytes | grep Capacity)"
check "pool-info capacity: the LUNs' sum" "Capacity:       240.00 MiB" \
    "$(p pool-info p1 | grep Capacity)"

# ---- upload, download, wipe ----
head -c 3000000 /dev/urandom >"$E2E_DIR/up"
run_ok "vol-upload at an offset" p vol-upload unit:0:0:1 "$E2E_DIR/up" --pool p1 --offset 4097
if cmp -s "$E2E_DIR/up" <(lun_bytes plain1.img 4097 3000000); then ok "the upload is in the LUN"; else
    not_ok "the upload is in the LUN"; fi
run_ok "vol-download" p vol-download unit:0:0:1 "$E2E_DIR/down" --pool p1
if cmp -s "$E2E_DIR/down" "$TGT_DIR/plain1.img"; then ok "the download is the LUN"; else
    not_ok "the download is the LUN"; fi
check_exact "vol-dumpxml of a LUN" "<volume type='network'>
  <name>unit:0:0:1</name>
  <key>360000000000000000e00000000010001</key>
  <capacity unit='bytes'>67108864</capacity>
  <allocation unit='bytes'>67108864</allocation>
  <physical unit='bytes'>67108864</physical>
  <target>
    <path>ip-127.0.0.1:$PORT-iscsi-$IQN_PLAIN-lun-1</path>
  </target>
</volume>

" p vol-dumpxml unit:0:0:1 --pool p1
# a LUN copied into a dir pool as qcow2 through the engine (parallel reads: several sessions)
mkdir "$E2E_DIR/dirpool"
run_ok "pool-create-as dir" p pool-create-as d dir --target "$E2E_DIR/dirpool"
echo "<volume><name>copy.qcow2</name><capacity>0</capacity><target><format type='qcow2'/></target></volume>" >"$E2E_DIR/copy.xml"
run_ok "vol-create-from a LUN into a dir pool" p vol-create-from d "$E2E_DIR/copy.xml" unit:0:0:1 --inputpool p1
if command -v qemu-img >/dev/null; then
    run_ok "the copy is the LUN (qemu-img compare)" \
        qemu-img compare -q -f qcow2 "$E2E_DIR/dirpool/copy.qcow2" -F raw "$TGT_DIR/plain1.img"
fi
dd if=/dev/urandom of="$TGT_DIR/plain2.img" bs=1M count=8 conv=notrunc status=none
run_ok "vol-wipe" p vol-wipe unit:0:0:2 --pool p1
if cmp -s "$TGT_DIR/plain2.img" <(head -c $((128 << 20)) /dev/zero); then ok "the LUN reads zero after wipe"
else not_ok "the LUN reads zero after wipe"; fi
run_fails "vol-wipe on a read-only LUN" "pool 'p1'.*unit:0:0:4.*read-only" \
    p vol-wipe unit:0:0:4 --pool p1
run_fails "vol-create-as refused" "pool 'p1'.*cannot be created.*create the LUN on the target" \
    p vol-create-as p1 newvol 1M
run_fails "vol-delete refused" "pool 'p1'.*cannot be deleted" p vol-delete unit:0:0:1 --pool p1

# ---- bad secrets ----
cat >"$E2E_DIR/wrong.xml" <<EOF
<secret ephemeral='no' private='yes'><usage type='iscsi'><target>wrongchap</target></usage></secret>
EOF
run_ok "define a second secret" p secret-define "$E2E_DIR/wrong.xml"
run_ok "set a wrong value" p secret-set-value wrongchap "$(printf 'not-it' | base64)"
pool_xml pw "$IQN_CHAP" wrongchap >"$E2E_DIR/pw.xml"
run_ok "pool-define with the wrong secret" p pool-define "$E2E_DIR/pw.xml"
run_fails "wrong CHAP secret: a clear error" "pool 'pw'.*authentication failure" p pool-start pw
pool_xml pm "$IQN_CHAP" nosuch >"$E2E_DIR/pm.xml"
run_ok "pool-define with a missing secret" p pool-define "$E2E_DIR/pm.xml"
run_fails "missing secret: a clear error" "pool 'pm'.*usage 'nosuch'.*not defined" p pool-start pm
pool_xml pn iqn.2026-11.io.poold.test:nosuch >"$E2E_DIR/pn.xml"
run_ok "pool-define with a wrong IQN" p pool-define "$E2E_DIR/pn.xml"
run_fails "wrong IQN: a clear error" "pool 'pn'.*iqn.2026-11.io.poold.test:nosuch.*not found" \
    p pool-start pn

# ---- discovery ----
found=$(p find-storage-pool-sources-as iscsi-direct 127.0.0.1 "$PORT")
for iqn in "$IQN_PLAIN" "$IQN_CHAP" iqn.2026-11.io.poold.test:other; do
    if grep -q "<device path='$iqn'/>" <<<"$found"; then ok "find-storage-pool-sources-as: $iqn"
    else not_ok "find-storage-pool-sources-as: $iqn"; printf "#   %s\n" "$found"; fi
done
check "find-storage-pool-sources-as: host and port" 3 "$(grep -c "<host name='127.0.0.1' port='$PORT'/>" <<<"$found")"

# ---- restart ----
stop_poold TERM
start_poold
check "after a restart: both pools active" "p1 active pc active" \
    "$(p pool-list --all | awk 'NR > 2 && NF && ($1 == "pc" || $1 == "p1") { printf "%s%s %s", s, $1, $2; s = " " }')"
check "after a restart: the volumes" "unit:0:0:1 unit:0:0:2 unit:0:0:3 unit:0:0:4 " \
    "$(p vol-list p1 | awk 'NR > 2 && NF { print $1 }' | tr '\n' ' ')"
run_ok "after a restart: the CHAP pool reads" p vol-download unit:0:0:1 "$E2E_DIR/chapdown" --pool pc --length 4096
run_ok "pool-destroy" p pool-destroy pc
run_ok "pool-start again" p pool-start pc

# ---- the secret stays secret ----
mode_db=$(stat -c %a "$STATE_DIR/poold.db"); mode_dir=$(stat -c %a "$STATE_DIR")
check "state database mode" 600 "$mode_db"
check "state directory mode" 700 "$mode_dir"
leaks=$(grep -l -e "$SECRET" -e "$B64" "$OUT" "$E2E_DIR/poold.log" 2>/dev/null)
check "the secret is in no output and no log" "" "$leaks"
run_ok "secret-undefine" p secret-undefine wrongchap
finish
