#!/bin/bash
# The VM harness checks itself (suite vm, runs inside the guest): a real kernel with
# device-mapper, root, a blank scratch disk, the project's directories at their host paths, a
# fresh /tmp, a writable /harness, udev. TAP-style lines, exit status = number of failures.
fails=0 n=0
check() {
    local name=$1; shift
    n=$((n + 1))
    if "$@" >/dev/null 2>&1; then echo "ok $n - $name"; else
        echo "not ok $n - $name"
        fails=$((fails + 1))
    fi
}
blank() { [ "$(head -c 1048576 /dev/vda | tr -d '\0' | wc -c)" = 0 ]; }
mapper_works() { dmsetup create vmcheck --table "0 8 zero" && dmsetup remove vmcheck; }

check "runs as root" test "$(id -u)" = 0
check "kernel is the fetched one" test -d "/lib/modules/$(uname -r)/kernel"
check "device-mapper is loaded" test -c /dev/mapper/control
check "device-mapper maps" mapper_works
check "scratch disk of ${VM_EXPECT_DISK:-1073741824} bytes" \
    test "$(blockdev --getsize64 /dev/vda)" = "${VM_EXPECT_DISK:-1073741824}"
check "scratch disk is blank" blank
check "udev names the scratch disk" test -e /dev/disk/by-id/virtio-scratch
check "loop devices" losetup -f
check "source directory at its host path" test -f "$POOL_SOURCE_DIR/tests/vm/run-in-vm.sh"
check "build directory at its host path" test -f "$POOL_BUILD_DIR/build.ninja"
check "/tmp is the guest's own" test -z "$(ls -A /tmp)"
check "root is writable (overlay)" touch /etc/vm-check
check "/harness is writable" touch /harness/check
echo "1..$n"
exit $fails
