#!/bin/bash
# Install what poold needs to build and test on Debian 12. Idempotent; quiet when nothing
# is missing. Usage: scripts/install-deps.sh [build|test]   (default: build)
set -eu
build_pkgs="gcc clang meson ninja-build pkg-config clang-format
  libglib2.0-dev libjson-glib-dev libxml2-dev libsqlite3-dev zlib1g-dev libzstd-dev
  libiscsi-dev libnfs-dev libvirt-dev libreadline-dev"
# qemu-utils is the test oracle (qemu-img), never a runtime dependency.
test_pkgs="qemu-utils libclang-rt-14-dev llvm python3 jq libvirt-clients libxml2-utils xfsprogs systemd time
  libiscsi-bin tgt nfs-ganesha nfs-ganesha-vfs rpcbind iproute2
  qemu-system-x86 qemu-block-extra libvirt-daemon-system libvirt-daemon-driver-storage-iscsi-direct
  busybox-static cpio xz-utils kmod
  lvm2 thin-provisioning-tools udev e2fsprogs nfs-kernel-server nfs-common open-iscsi"
# The guest kernel of the VM harness and the libvirt tests (tests/vm/) is not installed: the
# harness fetches linux-image-amd64's package with apt-get download and unpacks it.
want=$build_pkgs
[ "${1:-build}" = test ] && want="$build_pkgs $test_pkgs"

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
