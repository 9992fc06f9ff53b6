#!/bin/bash
# fs pools on a real kernel (suite vm, runs inside the guest): a real poold and poolctl on a loop
# device backed by a file on the scratch disk. pool-build's overwrite semantics both ways (and
# nothing made when it refuses), start mounts (checked in /proc/mounts), the dir pool's volume
# scenario on the mounted filesystem, poold restarted finds everything, a busy mount point keeps
# the pool running, stop unmounts, the data survives a stop/start, delete; bad input: a missing
# device, a device mounted elsewhere, a filesystem of another type.
. "$POOL_SOURCE_DIR/tests/e2e/lib.sh"
. "$POOL_SOURCE_DIR/tests/vm/pool-scenario.sh"

mkfs.ext4 -q /dev/vda && mkdir -p /scratch && mount /dev/vda /scratch || exit 1
truncate -s 256M /scratch/disk1.img /scratch/disk2.img
LOOP=$(losetup -f --show /scratch/disk1.img)
LOOP2=$(losetup -f --show /scratch/disk2.img)
T=/mnt/fsp
SLEEPER=
vm_cleanup() {
    [ -n "$SLEEPER" ] && kill "$SLEEPER" 2>/dev/null
    umount $T /mnt/other 2>/dev/null
    losetup -d "$LOOP" "$LOOP2" 2>/dev/null
    cleanup
}
trap vm_cleanup EXIT
mounted() { grep -q "^$1 $2 " /proc/mounts; }
start_poold

# --- build: overwrite semantics, nothing made when refused ---
mkswap -q "$LOOP" >/dev/null
check "pool-define-as" "Pool fsp defined" \
    "$(pc pool-define-as fsp fs --source-dev "$LOOP" --source-format ext4 --target $T)"
run_fails "build refuses a device holding another signature" \
    "pool 'fsp': source device '$LOOP' holds a swap, not a ext4 filesystem; pool-build --overwrite" \
    pc pool-build fsp
[ ! -e $T ] && ok "refused build made no target directory" ||
    not_ok "refused build made no target directory"
run_fails "--no-overwrite refuses it too" "already holds a swap \(--no-overwrite\)" \
    pc pool-build fsp --no-overwrite
check "pool-build --overwrite" "Pool fsp built" "$(pc pool-build fsp --overwrite)"
check "the device holds ext4" "ext4" "$(blkid -p -o value -s TYPE "$LOOP")"
[ -d $T ] && ok "build made the target directory" || not_ok "build made the target directory"
check "a second build keeps the ext4" "Pool fsp built" "$(pc pool-build fsp)"
run_fails "--no-overwrite refuses an existing ext4" "already holds a ext4" \
    pc pool-build fsp --no-overwrite

# --- start mounts, the volumes live on the device ---
check "pool-start" "Pool fsp started" "$(pc pool-start fsp)"
run_fails "a raw volume larger than the free space" \
    "Not enough space in pool 'fsp' for volume 'huge'" pc vol-create-as fsp huge 1G --allocation 1G
[ ! -e $T/huge ] && ok "nothing left of the refused volume" || not_ok "nothing left of the refused volume"
mounted "$LOOP" $T && ok "started pool is mounted ($LOOP on $T, /proc/mounts)" ||
    not_ok "started pool is mounted"
capacity=$(pc pool-info fsp --bytes | awk '/^Capacity:/ {print $2}')
[ "$capacity" -gt 200000000 ] && [ "$capacity" -le 268435456 ] &&
    ok "pool capacity is the filesystem's ($capacity)" || not_ok "pool capacity ($capacity)"
echo "# ${SECONDS}s: build and start done"
volume_scenario fsp $T
echo "# ${SECONDS}s: volume scenario done"
restart_check fsp
echo "# ${SECONDS}s: restarts done"
mounted "$LOOP" $T && ok "still mounted after the restarts" || not_ok "still mounted after restarts"

# --- a busy mount point: stop fails, the pool keeps running ---
(cd $T && exec sleep 60) &
SLEEPER=$!
sleep 0.2
run_fails "pool-destroy of a busy mount" "pool 'fsp': cannot unmount '$T': .*busy" \
    pc pool-destroy fsp
mounted "$LOOP" $T && ok "busy pool still mounted" || not_ok "busy pool still mounted"
check "busy pool still active" "1" "$(pc pool-list | grep -c ' fsp .*active')"
kill "$SLEEPER"; wait "$SLEEPER" 2>/dev/null; SLEEPER=

# --- stop unmounts; the data is on the device ---
check "pool-destroy" "Pool fsp destroyed" "$(pc pool-destroy fsp)"
mounted "$LOOP" $T && not_ok "stopped pool is unmounted" || ok "stopped pool is unmounted"
[ -z "$(ls -A $T)" ] && ok "target directory empty once unmounted" ||
    not_ok "target directory empty once unmounted"
run_ok "pool-start again" pc pool-start fsp
check "volumes back after stop/start" "clone1 extern.img qcow1 raw1" "$(vol_names fsp)"
run_ok "vol-download after restart" pc vol-download raw1 "$E2E_DIR/again.bin" --pool fsp \
    --length 3145728
cmp -s "$E2E_DIR/in.bin" "$E2E_DIR/again.bin" && ok "data survived stop/start" ||
    not_ok "data survived stop/start"
for v in raw1 qcow1 clone1 extern.img; do pc vol-delete $v --pool fsp >/dev/null; done
run_ok "pool-destroy" pc pool-destroy fsp
check "pool-delete" "Pool fsp deleted" "$(pc pool-delete fsp)"
[ ! -e $T ] && ok "pool-delete removed the target" || not_ok "pool-delete removed the target"
run_ok "pool-undefine" pc pool-undefine fsp

echo "# ${SECONDS}s: stop/start/delete done"
# --- bad input ---
run_ok "define a pool on a missing device" \
    pc pool-define-as nodev fs --source-dev /dev/nope --source-format ext4 --target /mnt/nodev
mkdir -p /mnt/nodev
run_fails "start on a missing device" "pool 'nodev': source device '/dev/nope'" \
    pc pool-start nodev
run_fails "build on a missing device" "pool 'nodev': source device '/dev/nope'" \
    pc pool-build nodev

mkfs.ext4 -q "$LOOP2" && mkdir -p /mnt/other && mount "$LOOP2" /mnt/other
run_ok "define a pool on a mounted device" \
    pc pool-define-as inuse fs --source-dev "$LOOP2" --source-format ext4 --target /mnt/inuse
run_fails "build refuses a mounted device" \
    "pool 'inuse': source device '$LOOP2' is mounted at '/mnt/other'" \
    pc pool-build inuse --overwrite
check "the mounted filesystem is untouched" "ext4" "$(blkid -p -o value -s TYPE "$LOOP2")"
umount /mnt/other
run_ok "pool-undefine inuse (one pool per device)" pc pool-undefine inuse

run_ok "define an xfs pool on an ext4 device" \
    pc pool-define-as wrongfs fs --source-dev "$LOOP2" --source-format xfs --target /mnt/wrongfs
mkdir -p /mnt/wrongfs
run_fails "start with the wrong filesystem type" "pool 'wrongfs': cannot mount '$LOOP2' at '/mnt/wrongfs': " \
    pc pool-start wrongfs
mounted "$LOOP2" /mnt/wrongfs && not_ok "nothing mounted after the failed start" ||
    ok "nothing mounted after the failed start"
check "pool stays inactive" "1" "$(pc pool-list --all | grep -c ' wrongfs .*inactive')"
echo "# ${SECONDS}s: bad input done"
finish
