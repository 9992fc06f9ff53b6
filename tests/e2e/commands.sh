#!/bin/bash
# The rest of poolctl's commands end to end: XML files in and out (pool-define, pool-create,
# vol-create, vol-create-from, dumpxml round trips), upload/download, wipe, snapshots, pool
# delete/undefine, capabilities, --json and the interactive shell.
. "$(dirname "$0")/lib.sh"
start_poold
D=$E2E_DIR
# ps, pgrep and systemd show the process name: poold, also after it executed itself again
# (main.c, gslice_use_malloc)
check "process name" "poold" "$(cat "/proc/$POOLD_PID/comm")"

cat >"$D/pool.xml" <<XML
<pool type='dir'>
  <name>xp</name>
  <target>
    <path>$D/xp</path>
  </target>
</pool>
XML
check "pool-define FILE" "Pool xp defined from $D/pool.xml" "$(pc pool-define "$D/pool.xml")"
run_ok "pool-build" pc pool-build xp
run_ok "pool-start" pc pool-start xp
pc pool-dumpxml xp >"$D/dump.xml"
grep -q "<path>$D/xp</path>" "$D/dump.xml" && ok "pool-dumpxml has the target" ||
    not_ok "pool-dumpxml has the target"
uuid=$(pc pool-uuid xp)
grep -q "<uuid>$uuid</uuid>" "$D/dump.xml" && ok "pool-dumpxml has the uuid" ||
    not_ok "pool-dumpxml has the uuid"
run_ok "pool-define of its own dumpxml (redefine while running)" pc pool-define "$D/dump.xml"
pc pool-capabilities | grep -q "<pool type='dir' supported='yes'>" && ok "pool-capabilities" ||
    not_ok "pool-capabilities"

# volumes from XML files
cat >"$D/vol.xml" <<XML
<volume>
  <name>xv</name>
  <capacity unit='M'>8</capacity>
  <target>
    <format type='qcow2'/>
  </target>
</volume>
XML
check "vol-create FILE" "Vol xv created from $D/vol.xml" "$(pc vol-create xp "$D/vol.xml")"
pc vol-dumpxml xv --pool xp | sed 's/<name>xv</<name>xv2</' >"$D/vol2.xml"
check "vol-create-from" "Vol xv2 created from input vol xv" \
    "$(pc vol-create-from xp "$D/vol2.xml" xv)"
check "vol-info of the copy" "Capacity:       8.00 MiB" "$(pc vol-info xv2 --pool xp | grep Capacity)"
check "vol-key" "$D/xp/xv" "$(pc vol-key xv --pool xp)"

# upload and download pass descriptors; the bytes come back
run_ok "vol-create-as raw" pc vol-create-as xp data 1M --format raw
head -c 1048576 /dev/urandom >"$D/in.bin"
run_ok "vol-upload" pc vol-upload data "$D/in.bin" --pool xp
run_ok "vol-download" pc vol-download data "$D/out.bin" --pool xp
cmp -s "$D/in.bin" "$D/out.bin" && ok "download equals upload" || not_ok "download equals upload"
# a download the read-only socket refuses leaves no file behind (virsh makes none either)
run_fails "vol-download on the read-only socket" "access denied" pc_ro vol-download data "$D/ro.bin" --pool xp
[ ! -e "$D/ro.bin" ] && ok "refused download made no file" || not_ok "refused download made no file"
pc_ro vol-download data "$D/ro.bin" --pool xp 2>&1 | grep -q "answers metadata only" &&
    ok "read-only refusal says what the socket answers" ||
    not_ok "read-only refusal says what the socket answers"
run_ok "vol-download --offset --length" pc vol-download data "$D/part.bin" --pool xp \
    --offset 4096 --length 8192
check "partial download size" "8192" "$(stat -c %s "$D/part.bin")"
cmp -s <(tail -c +4097 "$D/in.bin" | head -c 8192) "$D/part.bin" && ok "partial bytes" ||
    not_ok "partial bytes"
if out=$(python3 "$(dirname "$0")/varlink-raw.py" "$SOCK" fds 2>&1); then
    ok "raw varlink: descriptors of pipelined calls"
else
    not_ok "raw varlink: descriptors of pipelined calls"; printf '%s\n' "$out" | sed 's/^/#   /'
fi
check "vol-wipe" "Vol data wiped" "$(pc vol-wipe data --pool xp)"
run_ok "vol-download after wipe" pc vol-download data "$D/wiped.bin" --pool xp
cmp -s <(head -c 1048576 /dev/zero) "$D/wiped.bin" && ok "wiped to zeroes" || not_ok "wiped"
run_fails "unknown wipe algorithm" "algorithm" pc vol-wipe data --pool xp --algorithm nope

# a shrink that would cut data is refused; one that cuts only zeroes works
run_ok "vol-create-as 2M" pc vol-create-as xp cut 2M --format raw
run_ok "data in the second MiB" pc vol-upload cut "$D/in.bin" --pool xp --offset 1M
run_fails "shrink cutting data" "." pc vol-resize cut 1M --pool xp --shrink
check "capacity unchanged" "Capacity:       2.00 MiB" "$(pc vol-info cut --pool xp | grep Capacity)"
run_ok "grow" pc vol-resize cut 3M --pool xp
run_ok "shrink over zeroes" pc vol-resize cut -1M --pool xp --shrink
check "capacity after shrink" "Capacity:       2.00 MiB" "$(pc vol-info cut --pool xp | grep Capacity)"
run_ok "vol-delete cut" pc vol-delete cut --pool xp

# snapshots: revert brings the data back
run_ok "vol-create-as qcow2" pc vol-create-as xp snap 1M --format qcow2
run_ok "vol-snapshot-create" pc vol-snapshot-create snap s1 --pool xp
run_fails "duplicate snapshot" "already" pc vol-snapshot-create snap s1 --pool xp
run_ok "vol-resize grows" pc vol-resize snap 2M --pool xp
check "vol-snapshot-revert" "Vol snap reverted to snapshot s1" \
    "$(pc vol-snapshot-revert snap s1 --pool xp)"
check "vol-snapshot-delete" "Snapshot s1 of vol snap deleted" \
    "$(pc vol-snapshot-delete snap s1 --pool xp)"
check "no snapshots left" "[]" "$(pc --json vol-snapshot-list snap --pool xp | tr -d ' \n')"
run_fails "snapshot of a raw volume" "." pc vol-snapshot-create data s --pool xp

# metrics
m=$(pc metrics)
printf '%s\n' "$m" | grep -q '^poold_pool_active{pool="xp"} 1$' && ok "metrics: pool" || not_ok "metrics: pool"
printf '%s\n' "$m" | grep -q '^poold_volume_capacity_bytes{pool="xp",volume="xv"} 8388608$' &&
    ok "metrics: volume" || not_ok "metrics: volume"
printf '%s\n' "$m" | grep -qE '^poold_jobs_total\{kind="vol-create",state="done"\} [1-9]' &&
    ok "metrics: jobs" || not_ok "metrics: jobs"
printf '%s\n' "$m" | grep -qE '^poold_rpc_calls_total\{method="io.poold.Pool.List"\}' ||
    printf '%s\n' "$m" | grep -qE '^poold_rpc_calls_total\{method="io.poold.Pool.Info"\} [1-9]' &&
    ok "metrics: calls" || not_ok "metrics: calls"

# --json and the shell
pc --json pool-info xp | python3 -c 'import json,sys; p=json.load(sys.stdin); assert p["name"]=="xp" and p["active"]' &&
    ok "pool-info --json" || not_ok "pool-info --json"
pc --json vol-info xv --pool xp | python3 -c 'import json,sys; v=json.load(sys.stdin); assert v["format"]=="qcow2" and v["capacity"]==8388608' &&
    ok "vol-info --json" || not_ok "vol-info --json"
out=$(printf 'pool-list --name\nvol-path xv --pool xp\nquit\n' | pc)
printf '%s\n' "$out" | grep -q "^$D/xp/xv$" && ok "interactive shell" || not_ok "interactive shell"

# a file whose name is not UTF-8 (made behind poold's back) cannot be a volume: names travel
# as JSON strings; it is left out, and the rest of the pool still lists
weird="$D/xp/$(printf 'bad\xffname')"
touch "$weird"
run_ok "pool-refresh with a non-UTF-8 file name" pc pool-refresh xp
check "vol-list leaves the non-UTF-8 name out" "0" "$(pc vol-list xp | grep -c bad)"
pc vol-list xp | grep -q " xv " && ok "vol-list still lists the pool" || not_ok "vol-list still lists the pool"
rm -f "$weird"
run_ok "pool-refresh after it went" pc pool-refresh xp

# pool-create (transient): gone after pool-destroy
cat >"$D/tp.xml" <<XML
<pool type='dir'><name>tp</name><target><path>$D/tp</path></target></pool>
XML
check "pool-create --build" "Pool tp created from $D/tp.xml" "$(pc pool-create "$D/tp.xml" --build)"
check "transient pool listed" " tp     active   no" "$(pc pool-list --transient | tail -n +3)"
run_fails "no autostart for transient pools" "transient" pc pool-autostart tp
run_ok "pool-destroy transient" pc pool-destroy tp
run_fails "transient pool gone" "failed to get pool 'tp'" pc pool-info tp

# pool-delete refuses a pool holding volumes, then works once empty
# a qcow2 with an internal snapshot: the snapshot goes with the file (--delete-snapshots is
# accepted for it as for volumes with external snapshots)
run_ok "vol-snapshot-create before delete" pc vol-snapshot-create snap s2 --pool xp
check "vol-delete --delete-snapshots" "Vol snap deleted" "$(pc vol-delete snap --pool xp --delete-snapshots)"
for v in xv xv2 data; do pc vol-delete $v --pool xp >/dev/null; done
run_ok "pool-destroy" pc pool-destroy xp
check "pool-delete" "Pool xp deleted" "$(pc pool-delete xp)"
[ ! -e "$D/xp" ] && ok "pool-delete removed the directory" || not_ok "pool-delete removed it"
check "pool-undefine" "Pool xp has been undefined" "$(pc pool-undefine xp)"
check "no pools left" "" "$(pc pool-list --all --name | xargs)"
finish
