#!/bin/bash
# Fetch Debian's kernel for the VM harness, without installing it: the versioned package that
# linux-image-amd64 depends on is fetched with `apt-get download` and unpacked with dpkg-deb
# into a cache directory, and reused from there on the next call.
#
# usage: tests/vm/fetch-kernel.sh [CACHE_DIR]
#   CACHE_DIR defaults to $POOLD_VM_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/poold/vm.
#   It must not lie under /tmp when the kernel is to be used by tests/vm/run-in-vm.sh (the
#   guest mounts its own tmpfs over /tmp).
#
# Prints (stable interface, one KEY=VALUE per line):
#   KERNEL=/path/vmlinux            uncompressed ELF kernel, for qemu's PVH boot (fast under TCG)
#   VMLINUZ=/path/vmlinuz           the bzImage as packaged
#   MODULES=/path/lib/modules/KVER  its modules, with modules.dep (depmod run on the copy)
#   KVER=KVER                       the kernel release (uname -r inside the guest)
# Exit: 0 ok; 77 when the kernel cannot be had (apt-get download fails: offline, no apt, ...)
# with the reason on stderr; 1 on other errors.
set -euo pipefail

cache=${1:-${POOLD_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/poold/vm}}

skip() {
    echo "fetch-kernel: $*" >&2
    exit 77
}

# The versioned package linux-image-amd64 depends on (linux-image-6.1.0-NN-amd64), from the
# local apt lists: works offline, prints nothing when apt does not know the metapackage.
kernel_package() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

# print_paths DIR KVER: the interface lines for an unpacked kernel in DIR.
print_paths() {
    echo "KERNEL=$1/vmlinux"
    echo "VMLINUZ=$1/boot/vmlinuz-$2"
    echo "MODULES=$1/lib/modules/$2"
    echo "KVER=$2"
}

# The newest complete unpacked kernel in the cache (for offline reuse), as "DIR KVER".
newest_cached() {
    local d
    for d in "$cache"/linux-image-*; do
        [ -e "$d/complete" ] && echo "$d $(cat "$d/complete")"
    done | sort -V | tail -n 1
}

# extract_vmlinux BZIMAGE OUT: the bzImage's payload is a compressed ELF image (xz on Debian);
# find the first compressed stream that decompresses to an ELF file.
extract_vmlinux() {
    local img=$1 out=$2 magic tool off
    for pair in 'xz:\3757zXZ\000' 'zstd:\050\265\057\375' 'gzip:\037\213\010'; do
        tool=${pair%%:*}
        # shellcheck disable=SC2059  # the format is the escaped magic
        magic=$(printf "${pair#*:}" | tr -d '\0')
        for off in $(LC_ALL=C grep -abo "$magic" "$img" 2>/dev/null | cut -d: -f1 | head -n 4); do
            tail -c "+$((off + 1))" "$img" | "$tool" -dc >"$out" 2>/dev/null || true
            if [ "$(head -c 4 "$out" | od -An -c | tr -d ' ')" = '177ELF' ]; then
                return 0
            fi
        done
    done
    rm -f "$out"
    return 1
}

# unpack PKG DIR: download PKG into a temporary directory beside DIR, unpack, make the modules
# usable by modprobe (depmod) and the kernel bootable by PVH, then move it to DIR in one rename.
unpack() {
    local pkg=$1 dir=$2 tmp kver
    tmp=$(mktemp -d "$cache/.unpack.XXXXXX")
    # shellcheck disable=SC2064  # expand $tmp now
    trap "rm -rf '$tmp'" EXIT
    # apt-get download writes into the current directory; as root it warns that _apt cannot
    # write there: harmless.
    if ! (cd "$tmp" && apt-get download -q "$pkg") >"$tmp/apt.log" 2>&1; then
        sed 's/^/  /' "$tmp/apt.log" >&2
        skip "apt-get download $pkg failed (offline?)"
    fi
    dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/root"
    rm -f "$tmp"/"$pkg"_*.deb
    kver=$(find "$tmp/root/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | head -n 1)
    if [ -z "$kver" ] || [ ! -e "$tmp/root/boot/vmlinuz-$kver" ]; then
        echo "fetch-kernel: $pkg holds no kernel image" >&2
        exit 1
    fi
    depmod -b "$tmp/root" "$kver"
    extract_vmlinux "$tmp/root/boot/vmlinuz-$kver" "$tmp/root/vmlinux" || {
        echo "fetch-kernel: cannot extract vmlinux from $pkg's vmlinuz" >&2
        exit 1
    }
    echo "$kver" >"$tmp/root/complete"
    mv "$tmp/root" "$dir"
    rm -rf "$tmp"
    trap - EXIT
}

for tool in apt-get apt-cache dpkg-deb; do
    command -v $tool >/dev/null || skip "no $tool"
done
command -v depmod >/dev/null || command -v /sbin/depmod >/dev/null || skip "no depmod (kmod)"
PATH=$PATH:/usr/sbin:/sbin
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# One fetch at a time per cache: the vm suite and the libvirt tests may call this together.
exec 9>"$cache/.lock"
flock 9

pkg=$(kernel_package)
if [ -z "$pkg" ]; then
    read -r dir kver <<<"$(newest_cached)" || true
    [ -n "${dir:-}" ] || skip "apt does not know linux-image-amd64 and nothing is cached in $cache"
    print_paths "$dir" "$kver"
    exit 0
fi
dir=$cache/$pkg
[ -e "$dir/complete" ] || unpack "$pkg" "$dir"
print_paths "$dir" "$(cat "$dir/complete")"
