#!/bin/bash
# poold loads its modules only when a call needs them (common/module.h): libvirt's library
# (poold-libvirt.so, daemon/libvirt/module.h) is not mapped in a poold that has not needed it,
# is after a domblklist (against libvirt's built-in test driver, test:///default: no
# libvirtd); libnfs and libiscsi (poold-nfs.so, poold-iscsi.so, pools/backend-module.h) are
# mapped once a userspace netfs pool starts and an iscsi-direct find-sources runs (against
# nothing: the errors come from the libraries). A module that cannot be loaded is a clear
# error naming it, with the daemon still serving.
. "$(dirname "$0")/lib.sh"

maps_libvirt() { grep -c '/libvirt\.so' "/proc/$POOLD_PID/maps"; }
maps_lib() { grep -c "/$1\\.so" "/proc/$POOLD_PID/maps"; }
INITIATOR=iqn.2026-01.org.example:modules
# poold opens only the libvirt URIs of its configuration (docs/security.md)
printf '[libvirt]\nallowed_uris = test:///default\n' >"$E2E_DIR/poold.conf"
POOLD_ARGS="--config $E2E_DIR/poold.conf"

start_poold
check "libvirt not mapped at start" 0 "$(maps_libvirt)"
check "libnfs and libiscsi not mapped at start" "0 0" "$(maps_lib libnfs) $(maps_lib libiscsi)"
pc -q pool-define-as mp dir - - - - "$E2E_DIR/mp" >/dev/null && pc -q pool-build mp >/dev/null &&
    pc -q pool-start mp >/dev/null && pc -q vol-create-as mp v1 1M >/dev/null &&
    pc -q vol-list mp >/dev/null || { echo "Bail out! pool mp"; exit 1; }
check "nor after pool and volume calls" 0 "$(maps_libvirt)"
out=$(pc -C test:///default domblklist test 2>&1)
case $out in
*"vda      /guest/diskimage1"*) ok "domblklist through the module" ;;
*) not_ok "domblklist through the module"; printf '%s\n' "$out" | sed 's/^/#   /' ;;
esac
if [ "$(maps_libvirt)" -gt 0 ]; then ok "libvirt mapped once needed"; else not_ok "libvirt mapped once needed"; fi
run_ok "a userspace netfs pool defined" \
    pc pool-define-as un netfs 127.0.0.1 /none - - /mnt/un --netfs-mode userspace --netfs-timeout 1
check "defining it loads nothing" 0 "$(maps_lib libnfs)"
run_fails "starting it: libnfs answers (nothing listens)" "NFS server '127.0.0.1': cannot mount export" \
    pc pool-start un
if [ "$(maps_lib libnfs)" -gt 0 ]; then ok "libnfs mapped once needed"; else not_ok "libnfs mapped once needed"; fi
check "libiscsi still not mapped" 0 "$(maps_lib libiscsi)"
run_fails "iscsi-direct find-sources: libiscsi answers" "cannot reach iSCSI portal 127.0.0.1:9" \
    pc find-storage-pool-sources-as iscsi-direct 127.0.0.1 9 --initiator "$INITIATOR"
if [ "$(maps_lib libiscsi)" -gt 0 ]; then ok "libiscsi mapped once needed"; else not_ok "libiscsi mapped once needed"; fi
stop_poold

mkdir -p "$E2E_DIR/empty" "$E2E_DIR/bad"
POOLD_MODULE_DIR=$E2E_DIR/empty start_poold
run_fails "no module: the error names it and where poold looked" \
    "cannot load poold's libvirt module poold-libvirt.so: not found in $E2E_DIR/empty" \
    pc -C test:///default domblklist test
run_fails "no module: attach-disk fails the same way" "cannot load poold's libvirt module" \
    pc -C test:///default attach-disk test "$E2E_DIR/mp/v1" vdb
run_fails "no module: a userspace netfs pool does not start" \
    "cannot load poold's netfs \\(userspace NFS\\) module poold-nfs.so: not found in $E2E_DIR/empty" \
    pc pool-start un
run_fails "no module: iscsi-direct find-sources" \
    "cannot load poold's iscsi-direct module poold-iscsi.so: not found in $E2E_DIR/empty" \
    pc find-storage-pool-sources-as iscsi-direct 127.0.0.1 9 --initiator "$INITIATOR"
check "no module: poold still serves" "v1" "$(pc vol-list mp | awk 'NR > 2 {print $1}')"
stop_poold

echo 'not a module' >"$E2E_DIR/bad/poold-libvirt.so"
POOLD_MODULE_DIR=$E2E_DIR/bad start_poold
run_fails "a broken module: the error has the path and dlerror's reason" \
    "cannot load poold's libvirt module $E2E_DIR/bad/poold-libvirt.so: $E2E_DIR/bad/poold-libvirt.so: file too short" \
    pc -C test:///default domblklist test
cp "$E2E_DIR/bad/poold-libvirt.so" "$E2E_DIR/bad/poold-nfs.so"
run_fails "a broken backend module: the same" \
    "cannot load poold's netfs \\(userspace NFS\\) module $E2E_DIR/bad/poold-nfs.so: .*file too short" \
    pc pool-start un
stop_poold
finish
