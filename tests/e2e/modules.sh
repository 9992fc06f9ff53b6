#!/bin/bash
# poold loads its libvirt module (poold-libvirt.so, daemon/libvirt-module.h) only when a call
# needs libvirt: libvirt's library is not mapped in a poold that has not needed it, is after a
# domblklist (against libvirt's built-in test driver, test:///default: no libvirtd), and a
# module that cannot be loaded is a clear error naming it, with the daemon still serving.
. "$(dirname "$0")/lib.sh"

maps_libvirt() { grep -c '/libvirt\.so' "/proc/$POOLD_PID/maps"; }

start_poold
check "libvirt not mapped at start" 0 "$(maps_libvirt)"
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
stop_poold

mkdir -p "$E2E_DIR/empty" "$E2E_DIR/bad"
POOLD_MODULE_DIR=$E2E_DIR/empty start_poold
run_fails "no module: the error names it and where poold looked" \
    "cannot load poold's libvirt module poold-libvirt.so: not found in $E2E_DIR/empty" \
    pc -C test:///default domblklist test
run_fails "no module: attach-disk fails the same way" "cannot load poold's libvirt module" \
    pc -C test:///default attach-disk test "$E2E_DIR/mp/v1" vdb
check "no module: poold still serves" "v1" "$(pc vol-list mp | awk 'NR > 2 {print $1}')"
stop_poold

echo 'not a module' >"$E2E_DIR/bad/poold-libvirt.so"
POOLD_MODULE_DIR=$E2E_DIR/bad start_poold
run_fails "a broken module: the error has the path and dlerror's reason" \
    "cannot load poold's libvirt module $E2E_DIR/bad/poold-libvirt.so: $E2E_DIR/bad/poold-libvirt.so: file too short" \
    pc -C test:///default domblklist test
stop_poold
finish
