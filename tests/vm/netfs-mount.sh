#!/bin/bash
# netfs pools in mount mode on a real kernel (suite vm, runs inside the guest): the kernel's NFS
# server (rpcbind, rpc.mountd, nfsd, exportfs) exports an ext4 filesystem on 127.0.0.1, and a
# real poold mounts it with the kernel's client. The default mode (auto) picks mount here; start
# mounts (checked in /proc/mounts, soft with the pool's timeout), the dir pool's volume scenario
# on the export, poold restarted finds everything, stop unmounts, a mount that vanished behind
# poold's back; bad input: a wrong export path, an unreachable host, a server that does not
# answer (mountd stopped) fails within the pool's timeout, and nothing stays mounted.
. "$POOL_SOURCE_DIR/tests/e2e/lib.sh"
. "$POOL_SOURCE_DIR/tests/vm/pool-scenario.sh"

T=/mnt/nfsp
EXPORT=/srv/export
MOUNTD_PID=
vm_cleanup() {
    [ -n "$MOUNTD_PID" ] && kill -CONT "$MOUNTD_PID" 2>/dev/null
    umount $T /mnt/slow 2>/dev/null
    cleanup
}
trap vm_cleanup EXIT
mounted() { grep -q "^$1 $2 nfs" /proc/mounts; }

# --- the NFS server, as nfs-kernel-server starts it ---
mkfs.ext4 -q /dev/vda && mkdir -p $EXPORT && mount /dev/vda $EXPORT || exit 1
mkdir -p /run/rpcbind /var/lib/nfs/rpc_pipefs /var/lib/nfs/v4recovery
rpcbind -w && mount -t nfsd nfsd /proc/fs/nfsd &&
    mount -t rpc_pipefs sunrpc /var/lib/nfs/rpc_pipefs || exit 1
exportfs -o rw,no_root_squash,insecure,no_subtree_check 127.0.0.1:$EXPORT || exit 1
rpc.mountd && rpc.nfsd 2 && rpc.statd || exit 1
MOUNTD_PID=$(pidof rpc.mountd)
start_poold

# --- the default mode mounts where the kernel has NFS ---
check "pool-define-as (no mode: auto)" "Pool nfsp defined" \
    "$(pc pool-define-as nfsp netfs --source-host 127.0.0.1 --source-path $EXPORT \
        --source-format nfs --source-protocol-ver 3 --target $T)"
check "pool-build makes the target" "Pool nfsp built" "$(pc pool-build nfsp)"
check "pool-start" "Pool nfsp started" "$(pc pool-start nfsp)"
mounted 127.0.0.1:$EXPORT $T && ok "export mounted at the target (/proc/mounts)" ||
    not_ok "export mounted at the target (/proc/mounts)"
opts=$(awk -v t=$T '$2 == t {print $4}' /proc/mounts)
case ",$opts," in *,soft,*vers=3,*) ok "soft NFSv3 mount ($opts)" ;;
*) not_ok "soft NFSv3 mount ($opts)" ;; esac
echo "# ${SECONDS}s: server and start done"
volume_scenario nfsp $EXPORT
[ -f $T/raw1 ] && [ -f $T/qcow1 ] && ok "the volumes are seen through the mount" ||
    not_ok "the volumes are seen through the mount"
echo "# ${SECONDS}s: volume scenario done"
restart_check nfsp KILL
mounted 127.0.0.1:$EXPORT $T && ok "still mounted after the restarts" ||
    not_ok "still mounted after the restarts"

# --- stop unmounts, start mounts again ---
check "pool-destroy" "Pool nfsp destroyed" "$(pc pool-destroy nfsp)"
mounted 127.0.0.1:$EXPORT $T && not_ok "stopped pool is unmounted" || ok "stopped pool is unmounted"
run_ok "pool-start again" pc pool-start nfsp
check "volumes back" "clone1 extern.img qcow1 raw1" "$(vol_names nfsp)"
umount $T
run_fails "refresh of a mount gone behind poold's back" \
    "pool 'nfsp': NFS export 127.0.0.1:$EXPORT is no longer mounted at '$T'" pc pool-refresh nfsp
run_ok "pool-destroy of a pool found unmounted" pc pool-destroy nfsp
run_ok "pool-start" pc pool-start nfsp
for v in raw1 qcow1 clone1 extern.img; do pc vol-delete $v --pool nfsp >/dev/null; done
[ -z "$(ls -A $EXPORT | grep -v lost+found)" ] && ok "deleted volumes are gone from the export" ||
    not_ok "deleted volumes are gone from the export"
run_ok "pool-destroy" pc pool-destroy nfsp
check "pool-delete" "Pool nfsp deleted" "$(pc pool-delete nfsp)"
run_ok "pool-undefine" pc pool-undefine nfsp
echo "# ${SECONDS}s: stop/start/delete done"

# --- bad input ---
mkdir -p /mnt/badpath /mnt/unreach /mnt/slow
run_ok "define a pool on a wrong export path" \
    pc pool-define-as badpath netfs --source-host 127.0.0.1 --source-path /srv/nope \
    --source-protocol-ver 3 --target /mnt/badpath --netfs-mode mount
run_fails "start with a wrong export path" \
    "pool 'badpath': cannot mount NFS export 127.0.0.1:/srv/nope at '/mnt/badpath': .*(denied|No such)" \
    pc pool-start badpath
run_ok "define a pool on an unreachable host" \
    pc pool-define-as unreach netfs --source-host 192.0.2.1 --source-path $EXPORT \
    --source-protocol-ver 3 --target /mnt/unreach --netfs-mode mount --netfs-timeout 5
t0=$SECONDS
run_fails "start with an unreachable host" \
    "pool 'unreach': cannot mount NFS export 192.0.2.1:$EXPORT at '/mnt/unreach': " \
    pc pool-start unreach
[ $((SECONDS - t0)) -le 12 ] && ok "unreachable host fails within the timeout ($((SECONDS - t0)) s)" ||
    not_ok "unreachable host fails within the timeout ($((SECONDS - t0)) s)"

# a server that does not answer: mountd frozen, the MNT call hangs until the deadline
run_ok "define a pool with a 4 s timeout" \
    pc pool-define-as slow netfs --source-host 127.0.0.1 --source-path $EXPORT \
    --source-protocol-ver 3 --target /mnt/slow --netfs-mode mount --netfs-timeout 4
run_ok "a dir pool beside it" pc pool-create-as other dir --target "$E2E_DIR/other" --build
kill -STOP "$MOUNTD_PID"
t0=$SECONDS
pc pool-start slow >"$E2E_DIR/slow.out" 2>&1 &
slow_pid=$!
sleep 1
run_ok "other pools answer while a mount hangs" pc vol-create-as other v1 1M
wait $slow_pid
slow_rc=$?
took=$((SECONDS - t0))
kill -CONT "$MOUNTD_PID"
[ $slow_rc -eq 1 ] && grep -q "pool 'slow': cannot mount NFS export 127.0.0.1:$EXPORT at '/mnt/slow': mount did not finish within 4 s" "$E2E_DIR/slow.out" &&
    ok "frozen server: start fails with the deadline named" ||
    { not_ok "frozen server: start fails with the deadline named (rc $slow_rc)"; sed 's/^/#   /' "$E2E_DIR/slow.out"; }
[ $took -le 12 ] && ok "frozen server: failed within the timeout ($took s)" ||
    not_ok "frozen server: failed within the timeout ($took s)"
awk '$3 == "nfs" || $3 == "nfs4"' /proc/mounts | grep -q . && not_ok "nothing left mounted" ||
    ok "nothing left mounted"
echo "# ${SECONDS}s: bad input done"
exportfs -ua
rpc.nfsd 0
finish
