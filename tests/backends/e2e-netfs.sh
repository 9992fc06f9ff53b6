#!/bin/bash
# End to end, netfs in userspace mode: a real poold and poolctl against the nfs-ganesha of
# nfs-server.sh (run inside it: NFS_SERVER, NFS_EXPORT, NFS_GANESHA_PID). The dir pool's
# scenario over NFS, every file judged by qemu-img on the server side; find-storage-pool-
# sources-as; poold restarted (TERM and kill -9) finds every pool and volume again; and a
# frozen server (SIGSTOP): netfs calls fail within the pool's timeout, naming pool and server,
# while a dir pool keeps answering at once.
if [ -z "${NFS_EXPORT:-}" ]; then
    echo "1..0 # SKIP needs the NFS server of tests/backends/nfs-server.sh"
    exit 0
fi
. "$(dirname "$0")/../e2e/lib.sh"
command -v qemu-img >/dev/null || { echo "1..0 # SKIP qemu-img (the oracle) is missing"; exit 0; }
EXP=$NFS_EXPORT
KEY_BASE=nfs://$NFS_SERVER$EXP

now_ms() { echo $(($(date +%s%N) / 1000000)); }
start_poold

# ---- define, build, start ----
check "pool-define-as --netfs-mode userspace" "Pool n1 defined" \
    "$(pc pool-define-as n1 netfs "$NFS_SERVER" "$EXP" - - /mnt/n1 --netfs-mode userspace --netfs-timeout 2)"
pc pool-dumpxml n1 | grep -q "<poold:netfs mode='userspace' timeout='2'/>" &&
    ok "pool-dumpxml keeps the netfs mode" || not_ok "pool-dumpxml keeps the netfs mode"
check "pool-build" "Pool n1 built" "$(pc pool-build n1)"
check "pool-start" "Pool n1 started" "$(pc pool-start n1)"
run_ok "pool-autostart" pc pool-autostart n1
pc pool-info n1 --bytes | grep -qE '^Capacity: +[1-9][0-9]*$' && ok "pool-info: capacity from statvfs" ||
    { not_ok "pool-info: capacity from statvfs"; pc pool-info n1 --bytes | sed 's/^/#   /'; }
sources=$(pc find-storage-pool-sources-as netfs "$NFS_SERVER")
check "find-storage-pool-sources-as netfs" "<sources>
  <source>
    <host name='$NFS_SERVER'/>
    <dir path='$EXP'/>
    <format type='nfs'/>
  </source>
</sources>" "$sources"

# ---- the dir pool's scenario over NFS ----
check "vol-create-as raw" "Vol disk1 created" "$(pc vol-create-as n1 disk1 64M)"
check "vol-create-as qcow2" "Vol disk2 created" "$(pc vol-create-as n1 disk2 64M --format qcow2)"
[ "$(stat -c %s "$EXP/disk1")" = 67108864 ] && ok "raw file on the server" || not_ok "raw file on the server"
qemu-img check -q "$EXP/disk2" && ok "qemu-img check disk2" || not_ok "qemu-img check disk2"
check "vol-key" "$KEY_BASE/disk2" "$(pc vol-key disk2 --pool n1)"
check "vol-path of a network volume: its URL" "$KEY_BASE/disk2" "$(pc vol-path disk2 --pool n1)"
check "vol-name by URL" "disk2" "$(pc vol-name "$KEY_BASE/disk2")"
check "vol-info type" "Type:           network" "$(pc vol-info disk2 --pool n1 | sed -n 2p)"
check "vol-clone" "Vol disk3 cloned from disk2" "$(pc vol-clone disk2 disk3 --pool n1)"
qemu-img compare -q -f qcow2 -F qcow2 "$EXP/disk2" "$EXP/disk3" && ok "clone equals its source" ||
    not_ok "clone equals its source"
check "vol-resize" "Size of volume 'disk3' successfully changed to 128M" \
    "$(pc vol-resize disk3 128M --pool n1)"
qemu-img info "$EXP/disk3" | grep -q "virtual size: 128 MiB" && ok "qemu-img sees the new size" ||
    not_ok "qemu-img sees the new size"
check "vol-snapshot-create" "Snapshot s1 of vol disk3 created" \
    "$(pc vol-snapshot-create disk3 s1 --pool n1)"
qemu-img snapshot -l "$EXP/disk3" | grep -q " s1 " && ok "qemu-img lists the snapshot" ||
    not_ok "qemu-img lists the snapshot"
head -c 3145728 /dev/urandom >"$E2E_DIR/up"
run_ok "vol-upload" pc vol-upload disk1 "$E2E_DIR/up" --pool n1 --offset 1048576
cmp -s -i 0:1048576 -n 3145728 "$E2E_DIR/up" "$EXP/disk1" && ok "upload reached the server" ||
    not_ok "upload reached the server"
run_ok "vol-download" pc vol-download disk1 "$E2E_DIR/down" --pool n1 --offset 1048576 --length 3145728
cmp -s "$E2E_DIR/up" "$E2E_DIR/down" && ok "download equals upload" || not_ok "download equals upload"
run_ok "vol-wipe" pc vol-wipe disk1 --pool n1
cmp -s -n 67108864 "$EXP/disk1" /dev/zero && ok "wiped file is zeroes" || not_ok "wiped file is zeroes"
check "vol-create-as with a backing volume" "Vol ov created" \
    "$(pc vol-create-as n1 ov 64M --format qcow2 --backing-vol disk2 --backing-vol-format qcow2)"
qemu-img info "$EXP/ov" | grep -q "^backing file: disk2 " && ok "... recorded by name" ||
    { not_ok "... recorded by name"; qemu-img info "$EXP/ov" | sed 's/^/#   /'; }
run_fails "the backing volume cannot be deleted first" "is the backing file of volume 'ov'" \
    pc vol-delete disk2 --pool n1
check "the overlay goes" "Vol ov deleted" "$(pc vol-delete ov --pool n1)"
qemu-img create -q -f qcow2 "$EXP/outside.qcow2" 5M
check "pool-refresh" "Pool n1 refreshed" "$(pc pool-refresh n1)"
check "vol-list after refresh" "disk1 disk2 disk3 outside.qcow2" \
    "$(pc vol-list n1 | awk 'NR > 2 {print $1}' | xargs)"
check "a file made behind poold's back is probed" "qcow2" \
    "$(pc --json vol-list n1 | python3 -c 'import json,sys; print([v["format"] for v in json.load(sys.stdin) if v["name"] == "outside.qcow2"][0])')"

# ---- restarts ----
expect_vols=$(pc vol-list n1 --details)
stop_poold TERM
start_poold
check "after restart: pool active" " n1     active   yes" "$(pc pool-list --all | tail -n +3)"
check "after restart: vol-list" "$expect_vols" "$(pc vol-list n1 --details)"
stop_poold KILL
start_poold
check "after kill -9: vol-list" "$expect_vols" "$(pc vol-list n1 --details)"
check "after kill -9: snapshot kept" "1" \
    "$(pc --json vol-snapshot-list disk3 --pool n1 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"

# ---- a frozen server ----
pc pool-define-as d1 dir - - - - "$E2E_DIR/d1" >/dev/null && pc pool-build d1 >/dev/null &&
    pc pool-start d1 >/dev/null && pc vol-create-as d1 local 1M >/dev/null
# a second pool on the same export (the default mode: userspace where the kernel has no NFS)
if grep -qw nfs /proc/filesystems; then mode=userspace; else mode=auto; fi
run_ok "a second netfs pool (mode $mode)" pc pool-define-as n2 netfs "$NFS_SERVER" "$EXP" - - /mnt/n2 \
    --netfs-mode $mode --netfs-timeout 2
run_ok "... starts" pc pool-start n2
kill -STOP "$NFS_GANESHA_PID"
t0=$(now_ms)
pc pool-refresh n1 >"$E2E_DIR/frozen.out" 2>&1 &
bg=$!
sleep 0.3 # the refresh is waiting for the server now
t1=$(now_ms)
list=$(pc vol-list d1 | awk 'NR > 2 {print $1}')
t2=$(now_ms)
check "dir pool answers while NFS hangs" "local" "$list"
[ $((t2 - t1)) -lt 1000 ] && ok "... at once ($((t2 - t1)) ms)" || not_ok "... at once ($((t2 - t1)) ms)"
wait $bg
rc=$?
t3=$(now_ms)
[ $rc -ne 0 ] && ok "pool-refresh of the frozen pool fails" || not_ok "pool-refresh of the frozen pool fails"
grep -q "pool 'n1'" "$E2E_DIR/frozen.out" && grep -q "timed out" "$E2E_DIR/frozen.out" &&
    grep -q "$NFS_SERVER" "$E2E_DIR/frozen.out" && ok "... naming pool, server and timeout" ||
    { not_ok "... naming pool, server and timeout"; sed 's/^/#   /' "$E2E_DIR/frozen.out"; }
[ $((t3 - t0)) -lt 6000 ] && ok "... within the timeout ($((t3 - t0)) ms for 2 s)" ||
    not_ok "... within the timeout ($((t3 - t0)) ms for 2 s)"
t0=$(now_ms)
run_fails "vol-create-as on the frozen server" "pool 'n1'.*timed out" pc vol-create-as n1 frozen 8M
t1=$(now_ms)
[ $((t1 - t0)) -lt 6000 ] && ok "... within the timeout ($((t1 - t0)) ms)" ||
    not_ok "... within the timeout ($((t1 - t0)) ms)"
check "daemon-info answers meanwhile" "0" "$(pc daemon-info >/dev/null; echo $?)"
# poold restarted while the server is frozen: start-up waits for one timeout (the pools start
# together), the netfs pools stay inactive with the reason logged, the dir pool runs
stop_poold TERM
t0=$(now_ms)
start_poold
t1=$(now_ms)
[ $((t1 - t0)) -lt 3800 ] && ok "start-up with a frozen server: $((t1 - t0)) ms (two pools, 2 s timeout)" ||
    not_ok "start-up with a frozen server: $((t1 - t0)) ms (two pools, 2 s timeout)"
check "... the dir pool runs, the netfs pools wait" " d1     active     no
 n1     inactive   yes
 n2     inactive   no" "$(pc pool-list --all | tail -n +3)"
grep -q "pool 'n2' could not be started: pool 'n2': NFS server '$NFS_SERVER'.*timed out" "$E2E_DIR/poold.log" &&
    ok "... the reason is logged" || not_ok "... the reason is logged"
kill -CONT "$NFS_GANESHA_PID"
check "pool-start after the server is back" "Pool n1 started" "$(pc pool-start n1)"
check "pool-refresh after the server is back" "Pool n1 refreshed" "$(pc pool-refresh n1)"
run_ok "the second pool starts again" pc pool-start n2
check "... and sees the same volumes" "$(pc vol-list n1)" "$(pc vol-list n2)"
run_ok "... and goes" bash -c "'$POOLCTL' -c '$SOCK' pool-destroy n2 && '$POOLCTL' -c '$SOCK' pool-undefine n2"
leftovers=$(find "$EXP" -maxdepth 1 -name '*partial*' | wc -l)
[ ! -e "$EXP/frozen" ] && [ "$leftovers" = 0 ] && ok "the failed create left nothing" ||
    { not_ok "the failed create left nothing"; ls -la "$EXP" | sed 's/^/#   /'; }

# ---- a redefinition changes the mode, and with it the backend ----
run_ok "define n3 in mount mode" pc pool-define-as n3 netfs "$NFS_SERVER" "$EXP" - - "$E2E_DIR/m3" \
    --netfs-mode mount
if ! grep -qw nfs /proc/filesystems; then
    run_ok "pool-build n3" pc pool-build n3
    run_fails "mount mode mounts (the kernel here has no NFS)" "pool 'n3': cannot mount NFS export" \
        pc pool-start n3
fi
pc pool-dumpxml n3 | sed "s/mode='mount'/mode='userspace'/" >"$E2E_DIR/n3.xml"
check "pool-define: userspace mode" "Pool n3 defined from $E2E_DIR/n3.xml" "$(pc pool-define "$E2E_DIR/n3.xml")"
check "... starts through libnfs" "Pool n3 started" "$(pc pool-start n3)"
check "... same volumes" "$(pc vol-list n1 | awk 'NR > 2 {print $1}')" "$(pc vol-list n3 | awk 'NR > 2 {print $1}')"
run_ok "... and goes" bash -c "'$POOLCTL' -c '$SOCK' pool-destroy n3 && '$POOLCTL' -c '$SOCK' pool-undefine n3"

# ---- delete ----
check "vol-delete" "Vol disk3 deleted" "$(pc vol-delete disk3 --pool n1)"
[ ! -e "$EXP/disk3" ] && ok "vol-delete removed the file" || not_ok "vol-delete removed the file"
for v in disk1 disk2 outside.qcow2; do pc vol-delete "$v" --pool n1 >/dev/null; done
check "pool-destroy" "Pool n1 destroyed" "$(pc pool-destroy n1)"
check "pool-delete" "Pool n1 deleted" "$(pc pool-delete n1)"
check "pool-undefine" "Pool n1 has been undefined" "$(pc pool-undefine n1)"
run_fails "a wrong export fails to start, naming pool and server" "pool 'bad'.*$NFS_SERVER.*/no/such" \
    bash -c "'$POOLCTL' -c '$SOCK' pool-define-as bad netfs '$NFS_SERVER' /no/such - - /mnt/b --netfs-mode userspace >/dev/null && '$POOLCTL' -c '$SOCK' pool-start bad"
finish
