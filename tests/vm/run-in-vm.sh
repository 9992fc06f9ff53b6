#!/bin/bash
# Run a test script as root inside a throw-away VM: Debian's kernel under TCG, the host's / as
# the guest's root (9p, read-only, under a tmpfs overlay), a blank scratch disk, loop and
# device-mapper loaded, udevd running. See tests/vm/README.md.
#
# usage: tests/vm/run-in-vm.sh [-d DISK_SIZE] [-m MEM_MB] [-c CPUS] [-t TIMEOUT_S]
#                              [-k MODULE]... [-p PATH]... SCRIPT [ARGS...]
#   -d  size of the blank scratch disk, /dev/vda (qemu-img size, default 1G, sparse)
#   -m  guest memory in MiB (default 768)     -c  guest CPUs (default 2)
#   -t  seconds before the VM is killed (default 240)
#   -k  a kernel module to load before SCRIPT runs, besides loop and dm_mod (repeatable)
#   -p  a host directory SCRIPT needs at the same path (repeatable). The project's source
#       directory, SCRIPT's directory, the current directory, $MESON_BUILD_ROOT and the
#       directories of $POOLD, $POOLCTL and $POOLIMG are added by themselves. Paths under /tmp
#       and /run (hidden by the guest's own tmpfs) are shared read-only at the same path.
# Environment passed into the guest: variables named POOL*, VM_*, MESON_*, *SAN_OPTIONS.
# Also: POOLD_VM_CACHE (kernel + initramfs cache, see fetch-kernel.sh), VM_KEEP=1 (keep the
# run directory with the scratch disk), VM_NO_UDEV=1.
# SCRIPT's stdout and stderr (and the kernel's warnings) appear on this script's stdout.
# Exit: SCRIPT's status; 77 when qemu, busybox or the kernel are not available; 125 when the VM
# gave no result (did not boot, crashed, or was killed by the timeout).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source_root=$(cd "$here/../.." && pwd)
disk_size=1G mem=768 cpus=2 timeout_s=240
modules=() paths=()
while getopts d:m:c:t:k:p: opt; do
    case $opt in
    d) disk_size=$OPTARG ;;
    m) mem=$OPTARG ;;
    c) cpus=$OPTARG ;;
    t) timeout_s=$OPTARG ;;
    k) modules+=("$OPTARG") ;;
    p) paths+=("$OPTARG") ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n '6,7p' "$0" >&2; exit 2; }
script=$(realpath "$1")
shift
[ -r "$script" ] || { echo "run-in-vm: no script $script" >&2; exit 2; }

skip() {
    echo "run-in-vm: SKIP: $*"
    exit 77
}

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
busybox=$(command -v busybox) || skip "busybox (busybox-static) not installed"
for tool in cpio gzip modprobe; do
    command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || skip "$tool not installed"
done
PATH=$PATH:/usr/sbin:/sbin

# --- the kernel and the initramfs (both cached) ---
kernel_info=$("$here/fetch-kernel.sh") || {
    rc=$?
    [ $rc -eq 77 ] && skip "no guest kernel (fetch-kernel.sh)"
    exit 125
}
kernel=$(sed -n 's/^KERNEL=//p' <<<"$kernel_info")
modules_dir=$(sed -n 's/^MODULES=//p' <<<"$kernel_info")
kver=$(sed -n 's/^KVER=//p' <<<"$kernel_info")
kernel_root=${modules_dir%/lib/modules/*}
cache=$(dirname "$kernel_root")

# build_initramfs OUT: busybox, the modules that reach the host root over 9p and the overlay,
# and guest-init.sh as /init.
build_initramfs() {
    local out=$1 tree ko
    tree=$(mktemp -d "$(dirname "$out")/.initramfs.XXXXXX")
    mkdir -p "$tree/bin" "$tree/proc" "$tree/sys" "$tree/dev"
    cp "$busybox" "$tree/bin/busybox"
    cp "$here/guest-init.sh" "$tree/init"
    chmod 755 "$tree/init"
    # --show-depends lists each module's chain in load order as "insmod KERNEL_ROOT/lib/...";
    # built-in modules show as "builtin NAME" and need nothing.
    for m in virtio_pci virtio_blk 9pnet_virtio 9p overlay; do
        modprobe -d "$kernel_root" -S "$kver" --show-depends "$m" |
            awk -v root="$kernel_root" '$1 == "insmod" { print substr($2, length(root) + 1) }'
    done | awk '!seen[$0]++' >"$tree/modules.list"
    while read -r ko; do
        mkdir -p "$tree$(dirname "$ko")"
        cp "$kernel_root$ko" "$tree$ko" || return 1
    done <"$tree/modules.list"
    [ -s "$tree/modules.list" ] || return 1
    (cd "$tree" && find . | cpio -o -H newc --quiet -R 0:0) | gzip -1 >"$tree.cpio.gz"
    mv "$tree.cpio.gz" "$out"
    rm -rf "$tree"
}

init_sum=$(cat "$here/guest-init.sh" "$busybox" | md5sum | cut -c1-12)
initramfs=$cache/initramfs-$kver-$init_sum.cpio.gz
[ -e "$initramfs" ] || build_initramfs "$initramfs" || exit 125

# --- the run directory: /harness in the guest ---
run=$(mktemp -d "${TMPDIR:-/tmp}/poold-vm.XXXXXX")
qemu_pid='' watchdog=''
cleanup() {
    [ -n "$qemu_pid" ] && kill -9 "$qemu_pid" 2>/dev/null
    [ -n "$watchdog" ] && kill "$watchdog" 2>/dev/null
    if [ -n "${VM_KEEP:-}" ]; then echo "run-in-vm: kept $run"; else rm -rf "$run"; fi
}
trap cleanup EXIT
trap 'exit 125' TERM INT
mkdir "$run/harness"
qemu-img create -q -f raw "$run/scratch.img" "$disk_size" || exit 125

# Directories the guest must see at their host paths: those under /tmp or /run get their own
# 9p share (nested ones are covered by their parent); the rest come with the root.
wanted=("$source_root" "$(dirname "$script")" "$(pwd)" "$modules_dir" "${paths[@]}")
[ -n "${MESON_BUILD_ROOT:-}" ] && wanted+=("$MESON_BUILD_ROOT")
for var in POOLD POOLCTL POOLIMG; do
    [ -n "${!var:-}" ] && wanted+=("$(dirname "${!var}")")
done
share_args=() shares="" chosen=()
while read -r path; do
    case $path in /tmp | /tmp/* | /run | /run/*) ;; *) continue ;; esac
    for c in "${chosen[@]}"; do
        case $path/ in "$c"/*) continue 2 ;; esac
    done
    chosen+=("$path")
    tag=share${#chosen[@]}
    share_args+=(-virtfs "local,path=$path,mount_tag=$tag,security_model=none,readonly=on")
    shares="$shares $tag=$path"
done < <(for p in "${wanted[@]}"; do realpath -m "$p"; done | sort -u)

{
    echo "VM_KVER=$kver"
    printf 'VM_MODULES=%q\n' "$(realpath "$modules_dir")"
    printf 'VM_SHARES=%q\n' "$shares"
    printf 'VM_LOAD_MODULES=%q\n' "${modules[*]}"
    printf 'VM_NO_UDEV=%q\n' "${VM_NO_UDEV:-}"
} >"$run/harness/vm.env"

# run.sh: the test's environment and working directory, then SCRIPT ARGS
{
    echo "#!/bin/bash"
    env | grep -E '^(POOL[A-Z0-9_]*|VM_[A-Z0-9_]*|MESON_[A-Z0-9_]*|[A-Z]*SAN_OPTIONS)=' |
        while IFS='=' read -r name value; do printf 'export %s=%q\n' "$name" "$value"; done
    printf 'cd %q || exit 125\n' "$(pwd)"
    if [ -x "$script" ]; then printf 'exec %q' "$script"; else printf 'exec bash %q' "$script"; fi
    [ $# -gt 0 ] && printf ' %q' "$@"
    echo
} >"$run/harness/run.sh"

# --- boot ---
# qemu runs in the background so that a TERM (meson's timeout) reaches the trap at once; a
# watchdog kills it after the timeout. Neither may keep this script's stdout open.
start=$(date +%s.%N)
qemu-system-x86_64 \
    -machine q35 -accel tcg,thread=multi,tb-size=256 -cpu max -m "$mem" -smp "$cpus" \
    -nographic -no-reboot -nic none \
    -kernel "$kernel" -initrd "$initramfs" \
    -append "console=ttyS0 panic=-1 loglevel=4 mitigations=off edd=off" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$run/harness,mount_tag=harness,security_model=none" \
    "${share_args[@]}" \
    -drive "file=$run/scratch.img,format=raw,if=none,id=scratch,cache=unsafe" \
    -device virtio-blk-pci,drive=scratch,serial=scratch \
    </dev/null > >(stdbuf -oL tr -d '\r') 2>&1 &
qemu_pid=$!
(
    sleep "$timeout_s" &
    trap 'kill $!; exit 0' TERM
    wait $!
    touch "$run/timed-out"
    kill "$qemu_pid"
    sleep 5
    kill -9 "$qemu_pid"
) </dev/null >/dev/null 2>&1 &
watchdog=$!
wait "$qemu_pid"
qemu_pid=
kill "$watchdog" 2>/dev/null
watchdog=
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
# CPU time of qemu (and every other child): on a loaded machine the wall time says little
times >"$run/times" # not in $(...): a subshell has no children of its own
cpu=$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, "m"); s += t[1] * 60 + t[2] }
                               printf "%.0f", s }' "$run/times")
if [ ! -s "$run/harness/rc" ]; then
    [ -e "$run/timed-out" ] && echo "run-in-vm: the VM was killed after ${timeout_s}s"
    echo "run-in-vm: no result from the VM (${elapsed}s, ${cpu}s of CPU)"
    exit 125
fi
rc=$(cat "$run/harness/rc")
echo "run-in-vm: $(basename "$script") exited with $rc after ${elapsed}s in the VM (${cpu}s of CPU)"
exit "$rc"
