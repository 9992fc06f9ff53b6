#!/bin/bash
# poold's resident memory along the sequence of bench/daemon-bench.sh, without timing anything
# and without libvirtd or root: start poold from a build directory on a scratch directory,
# define/build/start a dir pool, 1,000 vol-create-as qcow2 in one poolctl session, fill the
# pool to 10,000 files, pool-refresh, 3x vol-list, 3x pool-refresh. After each step it prints
# poold's VmRSS, VmHWM, RssFile and RssAnon (kB, from /proc/PID/status).
#
# Usage: bench/rss-check.sh [--build DIR] [--dir DIR] [--volumes N] [--creates N] [--truncate]
#                           [--keep] [--smaps]
#
#   --build DIR   build directory holding daemon/poold and client/poolctl (default build-rel;
#                 set it up with: meson setup build-rel --buildtype=release; the script runs
#                 ninja for those two targets)
#   --dir DIR     scratch directory (default a new one under ${TMPDIR:-/tmp}); removed at the
#                 end unless --keep
#   --volumes N   volumes in the full pool (default 10000)
#   --creates N   of which created by vol-create-as in one session (default 1000)
#   --truncate    fill with empty 1 GiB raw files (truncate -s 1G) instead of copies of a 1 GiB
#                 qcow2 (the bench copies a qcow2 made by qemu-img; here poolimg makes it)
#   --smaps       also print /proc/PID/smaps_rollup at the start and at the end
#
# Exit status: 0 when every step ran, 1 when one failed, 2 on bad usage.
set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)

build_dir=$src/build-rel
dir=
n_pool=10000
n_create=1000
fill_mode=qcow2
keep=0
smaps=0

usage()
{
    sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
    --build) build_dir=$2; shift ;;
    --dir) dir=$2; shift ;;
    --volumes) n_pool=$2; shift ;;
    --creates) n_create=$2; shift ;;
    --truncate) fill_mode=raw ;;
    --keep) keep=1 ;;
    --smaps) smaps=1 ;;
    -h | --help) usage ;;
    *) echo "rss-check.sh: unknown option '$1'" >&2; usage ;;
    esac
    shift
done
for n in "$n_pool" "$n_create"; do
    case $n in '' | *[!0-9]*) echo "rss-check.sh: not a number: '$n'" >&2; exit 2 ;; esac
done
[ "$n_create" -le "$n_pool" ] || { echo "rss-check.sh: --creates above --volumes" >&2; exit 2; }

[ -f "$build_dir/build.ninja" ] || {
    echo "rss-check.sh: no build in $build_dir (meson setup $build_dir --buildtype=release)" >&2
    exit 2
}
ninja -C "$build_dir" daemon/poold client/poolctl client/poolimg >/dev/null || exit 1
poold_bin=$build_dir/daemon/poold
poolctl_bin=$build_dir/client/poolctl
poolimg_bin=$build_dir/client/poolimg

if [ -z "$dir" ]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/poold-rss.XXXXXX") || exit 1
else
    mkdir -p "$dir" || exit 1
    [ -z "$(ls -A "$dir")" ] || { echo "rss-check.sh: $dir is not empty" >&2; exit 2; }
fi
dir=$(cd "$dir" && pwd)
pool=$dir/pool
poold_pid=

cleanup()
{
    if [ -n "$poold_pid" ]; then
        kill "$poold_pid" 2>/dev/null
        wait "$poold_pid" 2>/dev/null
    fi
    if [ "$keep" = 0 ]; then rm -rf "$dir"; else echo "== kept $dir"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

die()
{
    echo "rss-check.sh: $*" >&2
    exit 1
}

"$poold_bin" --runtime-dir "$dir/run" --state-dir "$dir/state" >"$dir/poold.log" 2>&1 &
poold_pid=$!
for _ in $(seq 1 200); do [ -S "$dir/run/poold-sock" ] && break; sleep 0.05; done
[ -S "$dir/run/poold-sock" ] || die "poold did not start (see $dir/poold.log)"
poolctl_() { "$poolctl_bin" -q -c "$dir/run/poold-sock" "$@"; }

status() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$poold_pid/status"; }
printf '%-34s %9s %9s %9s %9s\n' "step (kB)" VmRSS VmHWM RssFile RssAnon
row()
{
    kill -0 "$poold_pid" 2>/dev/null || die "poold is gone after: $1 (see $dir/poold.log)"
    printf '%-34s %9s %9s %9s %9s\n' "$1" "$(status VmRSS)" "$(status VmHWM)" \
        "$(status RssFile)" "$(status RssAnon)"
}
rollup()
{
    [ "$smaps" = 1 ] || return 0
    echo "-- smaps_rollup ($1)"
    sed 1d "/proc/$poold_pid/smaps_rollup"
}

row "start"
rollup start
poolctl_ pool-define-as P dir - - - - "$pool" >/dev/null &&
    poolctl_ pool-build P >/dev/null && poolctl_ pool-start P >/dev/null ||
    die "could not define/build/start the pool"
row "pool started"

for i in $(seq -f '%06g' 1 "$n_create"); do
    echo "vol-create-as P vol-$i 1G --format qcow2"
done >"$dir/create.cmds"
poolctl_ <"$dir/create.cmds" >/dev/null 2>"$dir/create.err" || die "vol-create-as session: $(head -1 "$dir/create.err")"
row "$n_create x vol-create-as"

n_fill=$((n_pool - n_create))
if [ "$fill_mode" = qcow2 ]; then
    "$poolimg_bin" create -q -f qcow2 "$dir/template.qcow2" 1G >/dev/null || die "poolimg create"
fi
fill_batch()
{
    if [ "$fill_mode" = qcow2 ]; then
        tee "$@" <"$dir/template.qcow2" >/dev/null
    else
        truncate -s 1G "$@"
    fi
}
batch=()
for i in $(seq -f '%06g' 1 "$n_fill"); do
    batch+=("$pool/fill-$i")
    if [ "${#batch[@]}" -ge 500 ]; then
        fill_batch "${batch[@]}" || die "fill"
        batch=()
    fi
done
[ "${#batch[@]}" -eq 0 ] || fill_batch "${batch[@]}" || die "fill"

poolctl_ pool-refresh P >/dev/null || die "pool-refresh"
row "pool-refresh ($n_pool files)"
for r in 1 2 3; do
    poolctl_ vol-list P >"$dir/list.out" || die "vol-list"
    got=$(grep -c -- " $pool/" "$dir/list.out")
    [ "$got" = "$n_pool" ] || die "vol-list lists $got volumes, expected $n_pool"
    row "vol-list $r"
done
for r in 1 2 3; do
    poolctl_ pool-refresh P >/dev/null || die "pool-refresh"
    row "pool-refresh $r"
done
rollup end
exit 0
