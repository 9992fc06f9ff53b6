#!/bin/bash
# poold/poolctl against libvirtd's own storage driver/virsh, side by side, in one run, on two
# dir pools in the same scratch directory (same filesystem). See bench/DAEMON.md.
#
# Usage: bench/daemon-bench.sh [--quick] [--dir DIR] [--reps N] [--no-build] [--keep]
#                              [--perf DIR] [--strace DIR]
#
#   --quick       50 creates / a pool of 500 / 50 deletes (full: 1,000 / 10,000 / 1,000)
#   --dir DIR     scratch directory (default /var/tmp/poold-dbench or $POOLD_DBENCH_DIR);
#                 removed at the end unless --keep
#   --reps N      runs of vol-list and pool-refresh per tool (median shown; default 3)
#   --no-build    use build-dbench/ as it is
#   --perf DIR    perf record (cpu-clock, -g) of poold during each of its timed rows, into DIR
#   --strace DIR  strace -c -f of poold during each of its timed rows, into DIR (slows poold:
#                 the times of that run are not figures)
#
# Exit status: 0 when every row ran and every result verified (a missed target is a result,
# not a failure), 1 when a tool failed or a count was wrong, 2 on bad usage.
set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)

mode=full
dir=${POOLD_DBENCH_DIR:-/var/tmp/poold-dbench}
reps=3
build=1
keep=0
perf_dir=
strace_dir=
build_dir=${POOLD_DBENCH_BUILD:-$src/build-dbench}

usage()
{
    sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
    --quick) mode=quick ;;
    --dir) dir=$2; shift ;;
    --reps) reps=$2; shift ;;
    --no-build) build=0 ;;
    --keep) keep=1 ;;
    --perf) perf_dir=$2; shift ;;
    --strace) strace_dir=$2; shift ;;
    -h | --help) usage ;;
    *) echo "daemon-bench.sh: unknown option '$1'" >&2; usage ;;
    esac
    shift
done
case $reps in '' | *[!0-9]* | 0) echo "daemon-bench.sh: --reps needs a positive number" >&2; exit 2 ;; esac

case $mode in
full) n_create=1000; n_pool=10000; n_delete=1000 ;;
quick) n_create=50; n_pool=500; n_delete=50 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
    echo "daemon-bench.sh: needs root (libvirtd runs as a system daemon in a private mount namespace)" >&2
    exit 2
fi

# --- what it needs -----------------------------------------------------------------------
# libvirtd + virtlogd (libvirt-daemon-system), virsh (libvirt-clients), qemu-img (libvirt
# creates qcow2 volumes with it). Installed only when missing; nothing is added to
# scripts/install-deps.sh.
lv_conn_dir=/usr/lib/x86_64-linux-gnu/libvirt/connection-driver
missing=
for c in libvirtd virtlogd virsh qemu-img unshare; do
    command -v "$c" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin command -v "$c" >/dev/null 2>&1 || missing=1
done
[ -e "$lv_conn_dir/libvirt_driver_storage.so" ] || missing=1
if [ -n "$missing" ]; then
    echo "== installing libvirt-daemon-system libvirt-clients qemu-utils (missing)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends \
        libvirt-daemon-system libvirt-clients qemu-utils >/dev/null || {
        echo "daemon-bench.sh: apt-get install failed" >&2
        exit 1
    }
fi
libvirtd_bin=$(PATH=$PATH:/usr/sbin command -v libvirtd)
virtlogd_bin=$(PATH=$PATH:/usr/sbin command -v virtlogd)

# --- build -------------------------------------------------------------------------------
if [ "$build" = 1 ]; then
    if [ ! -f "$build_dir/build.ninja" ]; then
        meson setup "$build_dir" "$src" --buildtype=release >/dev/null || exit 1
    fi
    ninja -C "$build_dir" daemon/poold client/poolctl >/dev/null || exit 1
fi
poold_bin=$build_dir/daemon/poold
poolctl_bin=$build_dir/client/poolctl
[ -x "$poold_bin" ] && [ -x "$poolctl_bin" ] || { echo "daemon-bench.sh: no poold/poolctl in $build_dir" >&2; exit 1; }

# --- scratch -----------------------------------------------------------------------------
if [ -e "$dir" ]; then
    if [ -e "$dir/.poold-dbench" ]; then
        rm -rf "$dir"
    elif [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
        echo "daemon-bench.sh: $dir exists and is not a previous bench scratch directory" >&2
        exit 2
    fi
fi
mkdir -p "$dir" && touch "$dir/.poold-dbench" || exit 1
dir=$(cd "$dir" && pwd)
lv=$dir/libvirt         # libvirtd's private /run, /etc/libvirt, /var/{lib,log,cache}
pd=$dir/poold           # poold's runtime and state directories
lvpool=$dir/lv-pool     # the libvirt pool's target
pdpool=$dir/pd-pool     # poold's pool's target (poolctl pool-build makes it)
log=$dir/bench.log
mkdir -p "$lv" "$pd" "$lvpool"
[ -n "$perf_dir" ] && mkdir -p "$perf_dir"
[ -n "$strace_dir" ] && mkdir -p "$strace_dir"

poold_pid=
libvirtd_pid=
virtlogd_pid=

# Wait until PID is gone (or a zombie), up to ~10 s, then SIGKILL.
stop_pid()
{
    local pid=$1 i state
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    for i in $(seq 1 200); do
        state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
        [ -z "$state" ] || [ "$state" = Z ] && return 0
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null
}

cleanup()
{
    stop_pid "$poold_pid"
    [ -n "$poold_pid" ] && wait "$poold_pid" 2>/dev/null
    stop_pid "$libvirtd_pid"
    stop_pid "$virtlogd_pid"
    if [ "$keep" = 0 ]; then
        rm -rf "$dir"
    else
        echo "== kept $dir"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

now() { echo "$EPOCHREALTIME"; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }
die() { echo "daemon-bench.sh: $*" >&2; exit 1; }

# --- libvirtd, private --------------------------------------------------------------------
# As the lab recipe (shared/lab/libvirt/libvirtd-start.sh): a private mount namespace in which
# /run, /etc/libvirt, /var/lib, /var/log and /var/cache are directories under $lv, so nothing
# of the host is read or written. Only the storage driver is loaded (LIBVIRT_DRIVER_DIR holds
# a link to it alone): without libvirt-daemon-system the qemu driver fails its start-up (no
# user libvirt-qemu) and takes libvirtd down with it; it plays no part in storage anyway.
mkdir -p "$lv/run" "$lv/etc" "$lv/varlib/libvirt" "$lv/varlog/libvirt" "$lv/varcache/libvirt" "$lv/drivers"
if [ -d /etc/libvirt ]; then cp -a /etc/libvirt "$lv/etc/"; else mkdir -p "$lv/etc/libvirt"; fi
rm -rf "$lv/etc/libvirt/storage" "$lv/etc/libvirt/qemu"
ln -s "$lv_conn_dir/libvirt_driver_storage.so" "$lv/drivers/"
[ -d /etc/libvirt ] || die "no /etc/libvirt to mount over"
LIBVIRT_DRIVER_DIR=$lv/drivers unshare -m --propagation private sh -c "
  set -e
  mount --bind '$lv/run' /run
  mount --bind '$lv/etc/libvirt' /etc/libvirt
  mount --bind '$lv/varlib' /var/lib
  mount --bind '$lv/varlog' /var/log
  mount --bind '$lv/varcache' /var/cache
  '$virtlogd_bin' --daemon
  '$libvirtd_bin' --daemon
" >>"$log" 2>&1 || die "libvirtd did not start (see $log)"
uri="storage:///system?socket=$lv/run/libvirt/libvirt-sock"
for _ in $(seq 1 200); do
    [ -S "$lv/run/libvirt/libvirt-sock" ] && [ -s "$lv/run/libvirtd.pid" ] && break
    sleep 0.05
done
virtlogd_pid=$(cat "$lv/run/virtlogd.pid" 2>/dev/null)
libvirtd_pid=$(cat "$lv/run/libvirtd.pid" 2>/dev/null)
[ -n "$libvirtd_pid" ] || die "libvirtd did not start (see $lv/varlog/libvirt/libvirtd.log)"
virsh_() { virsh -q -c "$uri" "$@"; }
for _ in $(seq 1 100); do virsh_ pool-list --all >/dev/null 2>&1 && break; sleep 0.1; done

# --- poold ---------------------------------------------------------------------------------
"$poold_bin" --runtime-dir "$pd/run" --state-dir "$pd/state" >>"$pd/poold.log" 2>&1 &
poold_pid=$!
for _ in $(seq 1 200); do [ -S "$pd/run/poold-sock" ] && break; sleep 0.05; done
[ -S "$pd/run/poold-sock" ] || die "poold did not start (see $pd/poold.log)"
poolctl_() { "$poolctl_bin" -c "$pd/run/poold-sock" "$@"; }

rss() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }   # kB
rss_start=$(rss "$poold_pid" VmRSS)

# --- pools ---------------------------------------------------------------------------------
{
    virsh_ pool-define-as lvbench dir - - - - "$lvpool" && virsh_ pool-start lvbench
} >>"$log" 2>&1 || die "virsh could not define/start the pool (see $log)"
{
    poolctl_ pool-define-as pdbench dir - - - - "$pdpool" && poolctl_ pool-build pdbench &&
        poolctl_ pool-start pdbench
} >>"$log" 2>&1 || die "poolctl could not define/build/start the pool (see $log)"

echo "== poold/poolctl vs libvirtd/virsh ($("$libvirtd_bin" --version | awk '{print $NF}')), $mode mode:" \
    "$n_create creates, pool of $n_pool, $n_delete deletes; scratch $dir"
echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "poold $(git -C "$src" rev-parse --short HEAD 2>/dev/null)$(git -C "$src" diff --quiet HEAD -- daemon client pools formats xml common 2>/dev/null || echo '+dirty')"

# Profilers attached to poold around one of its timed rows (only with --perf / --strace).
prof_pid=
prof_start()
{
    if [ -n "$perf_dir" ]; then
        perf record -q -e cpu-clock -g -p "$poold_pid" -o "$perf_dir/$1.perf.data" >/dev/null 2>&1 &
        prof_pid=$!
        sleep 0.5
    elif [ -n "$strace_dir" ]; then
        strace -c -f -p "$poold_pid" -o "$strace_dir/$1.strace" 2>/dev/null &
        prof_pid=$!
        sleep 0.5
    fi
}
prof_stop()
{
    [ -n "$prof_pid" ] || return 0
    kill -INT "$prof_pid" 2>/dev/null
    wait "$prof_pid" 2>/dev/null
    prof_pid=
}

# Volume count as listed by a tool (the rows of vol-list whose path is in the pool).
count_listed() { grep -c -- " $2/" "$1"; }
count_files() { find "$1" -maxdepth 1 -type f -name "$2" | wc -l; }

fail=0
bad() { echo "WRONG: $*"; fail=1; }

# Results: name -> ms
declare -A T

# One client session reading commands from a file: "tool row cmdfile".
session()
{
    local tool=$1 row=$2 cmds=$3 t0 t1 t2 rc
    sync
    if [ "$tool" = virsh ]; then
        t0=$(now)
        virsh -q -c "$uri" <"$cmds" >"$dir/$row.virsh.out" 2>"$dir/$row.virsh.err"
        rc=$?
        t1=$(now)
    else
        prof_start "$row"
        t0=$(now)
        "$poolctl_bin" -q -c "$pd/run/poold-sock" <"$cmds" >"$dir/$row.poolctl.out" 2>"$dir/$row.poolctl.err"
        rc=$?
        t1=$(now)
        prof_stop
    fi
    sync
    t2=$(now)
    T[$row.$tool]=$(ms "$t0" "$t1")
    T[$row.$tool.sync]=$(ms "$t0" "$t2")
    # virsh's shell mode exits 0 even when a command failed: its errors are counted instead.
    if [ "$rc" != 0 ] || grep -q '^error' "$dir/$row.$tool.err"; then
        bad "$tool $row: $(grep -m1 . "$dir/$row.$tool.err")"
    fi
}

# One command, --reps times, alternating which tool goes first; T gets the median.
repeated()
{
    local row=$1; shift
    local r tool t0 t1 rc i
    declare -A all=()
    for r in $(seq 1 "$reps"); do
        local order="virsh poolctl"
        [ $((r % 2)) = 0 ] && order="poolctl virsh"
        for tool in $order; do
            sync
            [ "$tool" = poolctl ] && [ "$r" = 1 ] && prof_start "$row"
            t0=$(now)
            if [ "$tool" = virsh ]; then
                virsh -q -c "$uri" "$@" lvbench >"$dir/$row.virsh.out" 2>"$dir/$row.virsh.err"
            else
                "$poolctl_bin" -c "$pd/run/poold-sock" "$@" pdbench >"$dir/$row.poolctl.out" 2>"$dir/$row.poolctl.err"
            fi
            rc=$?
            t1=$(now)
            [ "$tool" = poolctl ] && [ "$r" = 1 ] && prof_stop
            [ "$rc" = 0 ] || bad "$tool $* failed: $(grep -m1 . "$dir/$row.$tool.err")"
            all[$tool]="${all[$tool]:-} $(ms "$t0" "$t1")"
            [ "$1" = vol-list ] && check_listed "$row" "$tool" "$n_pool"
        done
    done
    for tool in virsh poolctl; do
        # shellcheck disable=SC2086
        T[$row.$tool]=$(printf '%s\n' ${all[$tool]} | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
        T[$row.$tool.all]=${all[$tool]}
    done
}

check_listed()
{
    local row=$1 tool=$2 want=$3 got path=$lvpool
    [ "$tool" = poolctl ] && path=$pdpool
    got=$(count_listed "$dir/$row.$tool.out" "$path")
    [ "$got" = "$want" ] || bad "$tool $row lists $got volumes, expected $want"
}

# Fresh vol-list of both pools, checked against the expected count.
verify_lists()
{
    local want=$1 what=$2
    virsh_ vol-list lvbench >"$dir/check.virsh.out" 2>&1 || bad "virsh vol-list ($what)"
    poolctl_ vol-list pdbench >"$dir/check.poolctl.out" 2>&1 || bad "poolctl vol-list ($what)"
    check_listed check virsh "$want"
    check_listed check poolctl "$want"
}

# Every file matching GLOB in both pools is qcow2 (magic QFI\xfb), and the first and the last
# pass qemu-img check with a virtual size of 1 GiB.
verify_qcow2()
{
    local glob=$1 f m p files LC_ALL=C
    for p in "$lvpool" "$pdpool"; do
        # shellcheck disable=SC2206
        files=("$p"/$glob)
        for f in "${files[@]}"; do
            [ -f "$f" ] || { bad "$f: no such volume file"; return; }
            m=
            read -r -N 4 m <"$f" || true
            [ "$m" = $'QFI\xfb' ] || { bad "$f is not qcow2"; return; }
        done
        for f in "${files[0]}" "${files[-1]}"; do
            qemu-img check -q "$f" || bad "qemu-img check $f"
            [ "$(qemu-img info --output=json "$f" | awk -F'[:,]' '/"virtual-size"/ {gsub(/ /, "", $2); print $2}')" = 1073741824 ] ||
                bad "$f: virtual size is not 1 GiB"
        done
    done
}

# --- row 1: vol-create-as, one session each ------------------------------------------------
for i in $(seq -f '%06g' 1 "$n_create"); do
    echo "vol-create-as lvbench vol-$i 1G --format qcow2"
done >"$dir/create.virsh.cmds"
sed 's/ lvbench / pdbench /' "$dir/create.virsh.cmds" >"$dir/create.poolctl.cmds"
session virsh create "$dir/create.virsh.cmds"
session poolctl create "$dir/create.poolctl.cmds"
[ "$(count_files "$lvpool" 'vol-*')" = "$n_create" ] || bad "libvirt pool holds $(count_files "$lvpool" 'vol-*') vol-* files, expected $n_create"
[ "$(count_files "$pdpool" 'vol-*')" = "$n_create" ] || bad "poold pool holds $(count_files "$pdpool" 'vol-*') vol-* files, expected $n_create"
verify_lists "$n_create" "after create"
verify_qcow2 'vol-*'

# --- fill both pools to n_pool with copies of one qcow2 (1 GiB, qemu-img), untimed ----------
qemu-img create -q -f qcow2 "$dir/template.qcow2" 1G || die "qemu-img create"
n_fill=$((n_pool - n_create))
fill()
{
    local p=$1 i batch=()
    for i in $(seq -f '%06g' 1 "$n_fill"); do
        batch+=("$p/fill-$i")
        if [ "${#batch[@]}" -ge 500 ]; then
            tee "${batch[@]}" <"$dir/template.qcow2" >/dev/null || die "fill $p"
            batch=()
        fi
    done
    [ "${#batch[@]}" -gt 0 ] && { tee "${batch[@]}" <"$dir/template.qcow2" >/dev/null || die "fill $p"; }
    return 0
}
t0=$(now)
fill "$lvpool"
fill "$pdpool"
sync
echo "== filled both pools to $n_pool volumes in $(ms "$t0" "$(now)") ms (untimed)"

# First refresh after the fill (it discovers $n_fill new files): shown, not a target row.
sync
t0=$(now); virsh_ pool-refresh lvbench >>"$log" 2>&1 || bad "virsh pool-refresh"; t1=$(now)
T[refresh1.virsh]=$(ms "$t0" "$t1")
t0=$(now); poolctl_ pool-refresh pdbench >>"$log" 2>&1 || bad "poolctl pool-refresh"; t1=$(now)
T[refresh1.poolctl]=$(ms "$t0" "$t1")
verify_lists "$n_pool" "after the first refresh"

# --- rows 2 and 3: vol-list and pool-refresh of the full pool ------------------------------
repeated list vol-list
repeated refresh pool-refresh
verify_lists "$n_pool" "after the refreshes"
rss_full=$(rss "$poold_pid" VmRSS)
hwm_full=$(rss "$poold_pid" VmHWM)
lv_rss_full=$(rss "$libvirtd_pid" VmRSS)

# --- row 4: vol-delete, one session each ---------------------------------------------------
for i in $(seq -f '%06g' 1 "$n_delete"); do
    echo "vol-delete vol-$i --pool lvbench"
done >"$dir/delete.virsh.cmds"
sed 's/ --pool lvbench/ --pool pdbench/' "$dir/delete.virsh.cmds" >"$dir/delete.poolctl.cmds"
session virsh delete "$dir/delete.virsh.cmds"
session poolctl delete "$dir/delete.poolctl.cmds"
want=$((n_pool - n_delete))
for p in "$lvpool" "$pdpool"; do
    got=$(($(count_files "$p" 'vol-*') + $(count_files "$p" 'fill-*')))
    [ "$got" = "$want" ] || bad "$p holds $got volumes after the deletes, expected $want"
    [ "$(count_files "$p" 'vol-*')" = $((n_create - n_delete)) ] || bad "$p: deleted volumes are still there"
done
verify_lists "$want" "after the deletes"
rss_end=$(rss "$poold_pid" VmRSS)

# --- report --------------------------------------------------------------------------------
ratio() { awk -v p="$1" -v v="$2" 'BEGIN { if (v > 0) printf "%.3f", p / v; else print "-" }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { if (r == "-") print "-"; else print (r <= t ? "ok" : "MISS") }'; }
echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '%-40s %12s %12s %8s %6s\n' "row (ms, wall clock)" virsh poolctl ratio "<=0.2"
row()
{
    local label=$1 key=$2 r
    r=$(ratio "${T[$key.poolctl]}" "${T[$key.virsh]}")
    printf '%-40s %12s %12s %8s %6s\n' "$label" "${T[$key.virsh]}" "${T[$key.poolctl]}" "$r" "$(verdict "$r" 0.2)"
}
row "$n_create x vol-create-as qcow2 1G (1 session)" create
row "vol-list, pool of $n_pool (median of $reps)" list
row "pool-refresh, pool of $n_pool (median of $reps)" refresh
row "$n_delete x vol-delete (1 session)" delete
echo
echo "not target rows:"
printf '%-40s %12s %12s %8s\n' "create, session + sync" "${T[create.virsh.sync]}" "${T[create.poolctl.sync]}" "$(ratio "${T[create.poolctl.sync]}" "${T[create.virsh.sync]}")"
printf '%-40s %12s %12s %8s\n' "delete, session + sync" "${T[delete.virsh.sync]}" "${T[delete.poolctl.sync]}" "$(ratio "${T[delete.poolctl.sync]}" "${T[delete.virsh.sync]}")"
printf '%-40s %12s %12s %8s\n' "first refresh ($n_fill new files)" "${T[refresh1.virsh]}" "${T[refresh1.poolctl]}" "$(ratio "${T[refresh1.poolctl]}" "${T[refresh1.virsh]}")"
echo "all runs, vol-list:     virsh${T[list.virsh.all]} / poolctl${T[list.poolctl.all]}"
echo "all runs, pool-refresh: virsh${T[refresh.virsh.all]} / poolctl${T[refresh.poolctl.all]}"
echo
rss_mb=$(awk -v k="$rss_full" 'BEGIN { printf "%.1f", k / 1024 }')
echo "poold VmRSS with $n_pool volumes: $rss_mb MB (target <= 40 MB: $(awk -v k="$rss_full" 'BEGIN { print (k <= 40 * 1024 ? "ok" : "MISS") }'));" \
    "VmHWM $(awk -v k="$hwm_full" 'BEGIN { printf "%.1f", k / 1024 }') MB; at start $(awk -v k="$rss_start" 'BEGIN { printf "%.1f", k / 1024 }') MB;" \
    "after the deletes $(awk -v k="$rss_end" 'BEGIN { printf "%.1f", k / 1024 }') MB"
echo "libvirtd VmRSS with $n_pool volumes: $(awk -v k="$lv_rss_full" 'BEGIN { printf "%.1f", k / 1024 }') MB (for comparison)"
[ -n "$perf_dir" ] && echo "perf data of poold's rows: $perf_dir/*.perf.data (perf report -i FILE --no-children --stdio)"
[ -n "$strace_dir" ] && echo "strace -c of poold's rows: $strace_dir/*.strace"
if [ "$fail" = 0 ]; then
    echo "verified: volume counts (files and vol-list of both tools) after every step; qcow2 magic of every created file; qemu-img check of samples"
else
    echo "SOME RESULTS ARE WRONG (see WRONG lines above); scratch kept in $dir"
    keep=1
fi
exit "$fail"
