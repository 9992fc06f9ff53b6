#!/bin/bash
# Install what poold needs to build and test on Debian 12. Idempotent; quiet when nothing
# is missing. Usage: scripts/install-deps.sh [build|test]   (default: build)
set -eu
build_pkgs="gcc clang meson ninja-build pkg-config clang-format
  libglib2.0-dev libjson-glib-dev libxml2-dev libsqlite3-dev zlib1g-dev libzstd-dev"
# qemu-utils is the test oracle (qemu-img), never a runtime dependency.
test_pkgs="qemu-utils libclang-rt-14-dev llvm python3 libvirt-clients libxml2-utils xfsprogs systemd time"
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
