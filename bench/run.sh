#!/bin/bash
# poolimg vs qemu-img, side by side, on the same inputs, in one run. See bench/README.md.
#
# Usage: bench/run.sh [--quick|--tiny] [--dir DIR] [--reps N] [--cache cold|warm]
#                     [--rows LIST] [--poolimg PATH] [--no-build] [--keep] [--no-sync]
#                     [--nice N] [--rev REV] [--gen PATH]
#
# Exit status: 0 when every row ran and every output verified (whether or not the targets were
# met: this is a measurement, not a test), 1 when a tool failed or an output was wrong, 2 on
# bad usage or too little space, 77 without qemu-img or GNU time.
set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)

mode=full
dir=${POOLD_BENCH_DIR:-/var/tmp/poold-bench}
reps=
cache=
rows=convert-qcow2,convert-raw,convert-raw-existing,convert-compressed,create-prealloc,check,snapshot,convert-vmdk,convert-vhdx,convert-vdi
poolimg=
build=1
keep=0
do_sync=1
nice_level=
rev=
gen_opt=
build_dir=${POOLD_BENCH_BUILD:-$src/build-bench}

usage()
{
    sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
    --quick) mode=quick ;;
    --tiny) mode=tiny ;;
    --dir) dir=$2; shift ;;
    --reps) reps=$2; shift ;;
    --cache) cache=$2; shift ;;
    --rows) rows=$2; shift ;;
    --poolimg) poolimg=$2; build=0; shift ;;
    --no-build) build=0 ;;
    --keep) keep=1 ;;
    --no-sync) do_sync=0 ;;
    --nice) nice_level=$2; shift ;;
    --rev) rev=$2; shift ;;
    --gen) gen_opt=$2; shift ;;
    -h | --help) usage ;;
    *) echo "run.sh: unknown option '$1'" >&2; usage ;;
    esac
    shift
done

# Sizes per mode. check_clusters clusters of check_cluster_size bytes, all allocated.
case $mode in
full)
    img_size=$((4 << 30)); create_size=100G
    check_clusters=1000000; check_cluster_size=4096; : "${reps:=5}" ;;
quick)
    img_size=$((256 << 20)); create_size=10G
    check_clusters=100000; check_cluster_size=4096; : "${reps:=3}" ;;
tiny)
    img_size=$((8 << 20)); create_size=1G
    check_clusters=2000; check_cluster_size=4096; : "${reps:=1}" ;;
esac
case $reps in '' | *[!0-9]* | 0) echo "run.sh: --reps needs a positive number" >&2; exit 2 ;; esac

# Page cache: cold (sync + drop_caches before every timed run) needs root; warm otherwise.
if [ -z "$cache" ]; then
    if [ -w /proc/sys/vm/drop_caches ]; then cache=cold; else cache=warm; fi
fi
case $cache in
cold) [ -w /proc/sys/vm/drop_caches ] || { echo "run.sh: --cache cold needs root" >&2; exit 2; } ;;
warm) ;;
*) echo "run.sh: --cache is cold or warm" >&2; exit 2 ;;
esac

# 77: this machine cannot run the benchmark (meson's "skipped")
qemu_img=$(command -v qemu-img) || { echo "run.sh: qemu-img is not installed" >&2; exit 77; }
[ -x /usr/bin/time ] || { echo "run.sh: GNU time (/usr/bin/time) is not installed" >&2; exit 77; }
# --nice N: each timed command runs in a session of its own (setsid), so in a scheduler
# autogroup of its own, whose nice is set to N, and at nice N itself. With autogroups
# (kernel.sched_autogroup_enabled=1) a plain nice only ranks threads inside one session; the
# CPU is shared between sessions first. On a machine shared with other sessions' builds and
# tests this is what shields the measured command from them, the same way for both tools.
prio=()
if [ -n "$nice_level" ]; then
    case $nice_level in -[0-9]* | [0-9]*) ;; *) echo "run.sh: --nice needs a number" >&2; exit 2 ;; esac
    prio=(setsid -w bash -c 'echo "$0" >/proc/self/autogroup 2>/dev/null; exec nice -n "$0" "$@"' "$nice_level")
fi

# ---------------------------------------------------------------- build
gen=
if [ -n "$rev" ] && [ $build -eq 1 ]; then
    # a committed revision, exported clean (no uncommitted edits of the work tree), built in
    # the scratch directory
    sha=$(git -C "$src" rev-parse --short "$rev^{commit}") || { echo "run.sh: no revision $rev" >&2; exit 2; }
    mkdir -p "$dir/src-$sha" || exit 2
    if [ ! -f "$dir/src-$sha/meson.build" ]; then
        git -C "$src" archive "$sha" | tar -x -C "$dir/src-$sha" || exit 2
    fi
    src_built=$dir/src-$sha
    build_dir=$dir/build-$sha
else
    src_built=$src
fi
if [ $build -eq 1 ]; then
    if [ ! -f "$build_dir/build.ninja" ]; then
        meson setup "$build_dir" "$src_built" --buildtype=release >"$build_dir.setup.log" 2>&1 || {
            cat "$build_dir.setup.log" >&2; echo "run.sh: meson setup failed" >&2; exit 2; }
        rm -f "$build_dir.setup.log"
    fi
    meson compile -C "$build_dir" poolimg pd-bench-gen >/dev/null || {
        echo "run.sh: build failed (meson compile -C $build_dir poolimg)" >&2; exit 2; }
    poolimg=$build_dir/client/poolimg
    gen=$build_dir/bench/pd-bench-gen
fi
[ -n "$gen_opt" ] && gen=$gen_opt
[ -n "$poolimg" ] || poolimg=$build_dir/client/poolimg
[ -x "$poolimg" ] || { echo "run.sh: no poolimg at $poolimg" >&2; exit 2; }
if [ -z "$gen" ] || [ ! -x "$gen" ]; then
    gen=$build_dir/bench/pd-bench-gen
    if [ ! -x "$gen" ]; then
        # --no-build / --poolimg: build the generator alone, it has no dependency
        mkdir -p "$dir"
        gen=$dir/pd-bench-gen
        cc -O2 -o "$gen" "$here/gen-image.c" || exit 2
    fi
fi

# ---------------------------------------------------------------- scratch space
mkdir -p "$dir" || exit 2
dir=$(cd "$dir" && pwd)
# peak: input (half of img_size allocated) + reference qcow2 + two outputs, plus margin
need_kb=$(((img_size / 2 * 4 + (1 << 30)) / 1024))
avail_kb=$(df -Pk "$dir" | awk 'NR == 2 { print $4 }')
if [ "$avail_kb" -lt "$need_kb" ]; then
    echo "run.sh: $dir has $((avail_kb / 1024)) MiB free, the $mode run needs $((need_kb / 1024)) MiB" >&2
    exit 2
fi
log=$dir/bench.log
: >"$log"

cleanup()
{
    rm -f "$dir"/out.* "$dir"/work.*
    if [ $keep -eq 0 ]; then
        rm -f "$dir"/input.* "$dir"/ref.* "$dir"/check.* "$dir"/pd-bench-gen
        rm -rf "$dir"/src-* "$dir"/build-*
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "$@" | tee -a "$log" >&2; }

# ---------------------------------------------------------------- inputs (deterministic)
input_raw=$dir/input.raw
ref_qcow2=$dir/ref.qcow2
check_img=$dir/check.qcow2
check_size=$((check_clusters * check_cluster_size))
stamp="$mode $img_size $check_clusters $check_cluster_size $(sha1sum <"$here/gen-image.c" | cut -c1-12) $("$qemu_img" --version | head -1)"

if [ "$(cat "$dir/input.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -f "$input_raw" ] ||
    [ ! -f "$ref_qcow2" ] || [ ! -f "$check_img" ]; then
    say "preparing inputs in $dir ($mode)"
    rm -f "$dir"/input.* "$dir"/ref.* "$dir"/check.*
    "$gen" "$input_raw" "$img_size" 42 >>"$log" || exit 2
    # the qcow2 input of the qcow2->raw row, written by the reference tool
    "$qemu_img" convert -f raw -O qcow2 "$input_raw" "$ref_qcow2" || exit 2
    # check/snapshot input: every guest cluster allocated (metadata preallocation: L2 entries
    # point at data clusters, the data itself is sparse; check never reads data)
    "$qemu_img" create -q -f qcow2 -o cluster_size=$check_cluster_size,preallocation=metadata \
        "$check_img" "$check_size" || exit 2
    alloc=$("$qemu_img" check --output=json "$check_img" | sed -n 's/.*"allocated-clusters": \([0-9]*\).*/\1/p')
    [ "$alloc" = "$check_clusters" ] || {
        say "check input has $alloc allocated clusters, wanted $check_clusters"; exit 2; }
    echo "$stamp" >"$dir/input.stamp"
    sync
fi

# ---------------------------------------------------------------- measurement
# Runs "$@" once, timed, after putting the page cache into the row's state.
# Sets t_wall (command and, unless --no-sync, the sync after it) and t_cmd, t_cpu (seconds).
# Returns the command's exit status; its stdout is in $dir/work.stdout.
timed()
{
    local t0 t1 t2 rc
    if [ "$cache" = cold ]; then
        sync
        echo 3 >/proc/sys/vm/drop_caches
    fi
    t0=$EPOCHREALTIME
    "${prio[@]}" /usr/bin/time -f '%U %S' -o "$dir/work.time" "$@" >"$dir/work.stdout" 2>"$dir/work.stderr"
    rc=$?
    t1=$EPOCHREALTIME
    [ $do_sync -eq 1 ] && sync
    t2=$EPOCHREALTIME
    t_cmd=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    t_wall=$(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%.3f", b - a }')
    t_cpu=$(awk '{ s = $1 + $2 } END { printf "%.2f", s }' "$dir/work.time" 2>/dev/null)
    echo "  rc=$rc wall=$t_wall cmd=$t_cmd cpu=$t_cpu: $*" >>"$log"
    if [ $rc -ne 0 ]; then
        sed 's/^/    stderr: /' "$dir/work.stderr" | head -5 >>"$log"
    fi
    return $rc
}

median()
{
    tr ' ' '\n' | grep -v '^$' | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
              else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

qcheck_json() # FILE KEY: a number from qemu-img check --output=json
{
    "$qemu_img" check --output=json "$1" 2>/dev/null | sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p"
}

# Per-row hooks: prep_ROW TOOL (untimed, before each run), cmd_ROW TOOL (prints argv, one per
# line), verify_ROW TOOL (untimed; 0 = output correct, else prints why).
out=$dir/out.img

prep_convert() { rm -f "$out"; }
verify_same_as_input() # FORMAT
{
    "$qemu_img" compare -q -f raw -F "$1" "$input_raw" "$out" ||
        { echo "qemu-img compare: output differs from the input"; return 1; }
    if [ "$1" = qcow2 ]; then
        "$qemu_img" check -q "$out" || { echo "qemu-img check: exit $?"; return 1; }
    fi
}

prep_convert-qcow2() { prep_convert; }
cmd_convert-qcow2() { printf '%s\n' convert -f raw -O qcow2 "$input_raw" "$out"; }
verify_convert-qcow2() { verify_same_as_input qcow2; }

prep_convert-raw() { prep_convert; }
cmd_convert-raw() { printf '%s\n' convert -f qcow2 -O raw "$ref_qcow2" "$out"; }
verify_convert-raw() { verify_same_as_input raw; }

# onto an existing target: the output of an earlier qcow2->raw convert (written once, untimed,
# by qemu-img; each run leaves the same file for the next). Both tools write it in place.
prep_convert-raw-existing()
{
    [ -f "$out.existing" ] || "$qemu_img" convert -f qcow2 -O raw "$ref_qcow2" "$out.existing"
    [ -f "$out" ] && [ "$(stat -c %i "$out")" = "$(stat -c %i "$out.existing")" ] ||
        { rm -f "$out"; ln "$out.existing" "$out"; }
}
cmd_convert-raw-existing() { printf '%s\n' convert -f qcow2 -O raw "$ref_qcow2" "$out"; }
verify_convert-raw-existing()
{
    verify_same_as_input raw || return 1
    [ "$(stat -c %i "$out")" = "$(stat -c %i "$out.existing")" ] ||
        { echo "the existing target was replaced, not written in place"; return 1; }
}

prep_convert-compressed() { prep_convert; }
cmd_convert-compressed() { printf '%s\n' convert -c -f raw -O qcow2 "$input_raw" "$out"; }
verify_convert-compressed()
{
    verify_same_as_input qcow2 || return 1
    local n
    n=$(qcheck_json "$out" compressed-clusters)
    [ "${n:-0}" -gt 0 ] || { echo "no compressed clusters in the output"; return 1; }
}

prep_create-prealloc() { rm -f "$out"; }
cmd_create-prealloc() { printf '%s\n' create -f qcow2 -o preallocation=metadata "$out" "$create_size"; }
verify_create-prealloc()
{
    "$qemu_img" check -q "$out" || { echo "qemu-img check: exit $?"; return 1; }
    local total alloc
    total=$(qcheck_json "$out" total-clusters)
    alloc=$(qcheck_json "$out" allocated-clusters)
    [ -n "$total" ] && [ "$total" = "$alloc" ] ||
        { echo "allocated clusters $alloc of $total: not preallocated"; return 1; }
}

prep_check() { :; }
cmd_check() { printf '%s\n' check "$check_img"; }
verify_check()
{
    # the report must be qemu-img's, word for word
    "$qemu_img" check "$check_img" >"$dir/work.expected" 2>&1
    diff -u "$dir/work.expected" "$dir/work.stdout" >"$dir/work.diff" ||
        { echo "check output differs from qemu-img's: $(head -c 300 "$dir/work.diff" | tr '\n' '|')"; return 1; }
}

prep_snapshot() { rm -f "$out"; cp --sparse=always "$check_img" "$out"; }
cmd_snapshot() { printf '%s\n' snapshot -c bench1 "$out"; }
verify_snapshot()
{
    "$qemu_img" check -q "$out" || { echo "qemu-img check after snapshot: exit $?"; return 1; }
    "$qemu_img" snapshot -l "$out" | grep -q ' bench1 ' || { echo "snapshot not listed"; return 1; }
}

# The foreign formats (read-only in poolimg): inputs written once by qemu-img from input.raw,
# untimed, when a row first needs them (kept with --keep like the other inputs).
foreign_input() # FORMAT OPTIONS: prints the path of input.raw in that format
{
    local f=$dir/ref.$1
    [ -f "$f" ] || "$qemu_img" convert -f raw -O "$1" ${2:+-o "$2"} "$input_raw" "$f" || return 1
    echo "$f"
}
prep_convert-vmdk() { prep_convert; foreign_input vmdk subformat=streamOptimized >/dev/null; }
cmd_convert-vmdk() { printf '%s\n' convert -f vmdk -O qcow2 "$dir/ref.vmdk" "$out"; }
verify_convert-vmdk() { verify_same_as_input qcow2; }
prep_convert-vhdx() { prep_convert; foreign_input vhdx >/dev/null; }
cmd_convert-vhdx() { printf '%s\n' convert -f vhdx -O raw "$dir/ref.vhdx" "$out"; }
verify_convert-vhdx() { verify_same_as_input raw; }
prep_convert-vdi() { prep_convert; foreign_input vdi >/dev/null; }
cmd_convert-vdi() { printf '%s\n' convert -f vdi -O qcow2 "$dir/ref.vdi" "$out"; }
verify_convert-vdi() { verify_same_as_input qcow2; }

# Per row: label and target ratio.
declare -A label=(
    [convert-qcow2]="convert raw->qcow2"
    [convert-raw]="convert qcow2->raw"
    [convert-raw-existing]="convert qcow2->raw, existing target"
    [convert-compressed]="convert -c raw->qcow2"
    [create-prealloc]="create $create_size prealloc=metadata"
    [check]="check ($check_clusters clusters)"
    [snapshot]="snapshot -c ($check_clusters clusters)"
    [convert-vmdk]="convert vmdk streamOptimized->qcow2"
    [convert-vhdx]="convert vhdx->raw"
    [convert-vdi]="convert vdi->qcow2"
)
row_target()
{
    case $1 in
    convert-compressed) echo 0.6 ;;
    convert-vmdk | convert-vhdx | convert-vdi) echo 0.7 ;;
    *) echo 1.0 ;;
    esac
}

declare -A res_wall res_min res_cmd res_cpu res_size res_state
status=0

run_row() # ROW
{
    local row=$1 tool r order bin argv reason
    local -A walls cmds cpus sizes
    say "== $row"
    for r in $(seq 1 "$reps"); do
        # alternate who goes first, so drift (thermal, other load) does not favour one tool
        if [ $((r % 2)) -eq 1 ]; then order="qemu-img poolimg"; else order="poolimg qemu-img"; fi
        for tool in $order; do
            [ "${res_state[$row,$tool]:-}" = "" ] || continue
            if [ "$tool" = qemu-img ]; then bin=$qemu_img; else bin=$poolimg; fi
            mapfile -t argv < <("cmd_$row" "$tool")
            "prep_$row" "$tool"
            if [ "$cache" = warm ] && [ "$r" -eq 1 ]; then
                # warm-up run, not counted: brings inputs (and the binary) into the page cache
                timed "$bin" "${argv[@]}"
                "prep_$row" "$tool"
            fi
            if ! timed "$bin" "${argv[@]}"; then
                res_state[$row,$tool]="ERR: $(head -1 "$dir/work.stderr" | cut -c1-100)"
                say "  $tool failed: ${res_state[$row,$tool]}"
                status=1
                continue
            fi
            # verify the first run of each tool and every poolimg run: a fast wrong answer
            # does not count
            if [ "$tool" = poolimg ] || [ "$r" -eq 1 ]; then
                if ! reason=$("verify_$row" "$tool"); then
                    res_state[$row,$tool]="WRONG: $reason"
                    say "  $tool output is wrong: $reason"
                    status=1
                    continue
                fi
            fi
            walls[$tool]+=" $t_wall"
            cmds[$tool]+=" $t_cmd"
            cpus[$tool]+=" $t_cpu"
            [ -f "$out" ] && sizes[$tool]=$(du -k "$out" | cut -f1)
            say "  $tool run $r: ${t_wall}s (command ${t_cmd}s, cpu ${t_cpu}s)"
        done
    done
    for tool in qemu-img poolimg; do
        res_wall[$row,$tool]=$(echo "${walls[$tool]:-}" | median)
        res_min[$row,$tool]=$(echo "${walls[$tool]:-}" | tr ' ' '\n' | grep -v '^$' | sort -g | head -1)
        : "${res_min[$row,$tool]:=-}"
        res_cmd[$row,$tool]=$(echo "${cmds[$tool]:-}" | median)
        res_cpu[$row,$tool]=$(echo "${cpus[$tool]:-}" | median)
        res_size[$row,$tool]=${sizes[$tool]:--}
    done
    rm -f "$out"
}

ratio() { awk -v p="$1" -v q="$2" 'BEGIN { if (p == "-" || q == "-" || q <= 0) print "-"; else printf "%.2f", p / q }'; }

# ---------------------------------------------------------------- run
say "poold bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r)"
if [ -n "$rev" ]; then what="revision $sha, clean export"; else what="work tree at $(git -C "$src" rev-parse --short HEAD 2>/dev/null)$(git -C "$src" diff --quiet HEAD -- formats client common 2>/dev/null || echo ' + uncommitted changes')"; fi
say "  poolimg: $what ($poolimg); $("$qemu_img" --version | head -1)"
say "  mode $mode, $reps reps, page cache $cache, times include sync: $([ $do_sync -eq 1 ] && echo yes || echo no), nice ${nice_level:-0}"
say "  load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
say "  input: $((img_size >> 20)) MiB raw, $(du -k "$input_raw" | awk '{ printf "%d MiB", $1 / 1024 }') allocated; check/snapshot: $check_clusters clusters of $check_cluster_size B"

# Untimed warm-up of the machine (not of the cache: cold runs drop it again): the first run
# after boot or after inputs were written pays for the VM's first touch of memory (measured:
# the same qemu-img convert took 3.5 s first, 2.0 s after), so neither tool gets that run.
"$qemu_img" convert -f raw -O qcow2 "$input_raw" "$out" && "$qemu_img" convert -O raw "$out" "$out.raw"
rm -f "$out" "$out.raw" "$out.existing"

IFS=, read -r -a row_list <<<"$rows"
for row in "${row_list[@]}"; do
    declare -F "cmd_$row" >/dev/null || { say "unknown row '$row'"; exit 2; }
    run_row "$row"
done

# ---------------------------------------------------------------- report
{
    echo
    printf '%-32s %10s %10s %7s %7s  %s\n' "operation" "qemu-img" "poolimg" "ratio" "target" "verdict"
    for row in "${row_list[@]}"; do
        q=${res_wall[$row,qemu-img]}; p=${res_wall[$row,poolimg]}
        rt=$(ratio "$p" "$q"); tg=$(row_target "$row")
        if [ -n "${res_state[$row,poolimg]:-}" ]; then verdict="poolimg ${res_state[$row,poolimg]}"
        elif [ -n "${res_state[$row,qemu-img]:-}" ]; then verdict="qemu-img ${res_state[$row,qemu-img]}"
        elif awk -v r="$rt" -v t="$tg" 'BEGIN { exit !(r <= t) }'; then verdict=met
        else verdict=MISSED; fi
        printf '%-32s %9ss %9ss %7s %7s  %s\n' "${label[$row]}" "$q" "$p" "$rt" "<=$tg" "$verdict"
    done
    echo
    echo "median of $reps; seconds from start to end of the command$([ $do_sync -eq 1 ] && echo ' plus the sync after it')"
    echo "details (medians unless said): best run (min, same timing as above), command alone"
    echo "(no sync), CPU (user+sys of all threads), output size (KiB allocated)"
    printf '%-32s %7s %7s %5s %7s %7s %5s %7s %7s %9s %9s\n' "operation" "q min" "p min" "ratio" \
        "q cmd" "p cmd" "ratio" "q cpu" "p cpu" "q KiB" "p KiB"
    for row in "${row_list[@]}"; do
        printf '%-32s %7s %7s %5s %7s %7s %5s %7s %7s %9s %9s\n' "${label[$row]}" \
            "${res_min[$row,qemu-img]}" "${res_min[$row,poolimg]}" \
            "$(ratio "${res_min[$row,poolimg]}" "${res_min[$row,qemu-img]}")" \
            "${res_cmd[$row,qemu-img]}" "${res_cmd[$row,poolimg]}" \
            "$(ratio "${res_cmd[$row,poolimg]}" "${res_cmd[$row,qemu-img]}")" \
            "${res_cpu[$row,qemu-img]}" "${res_cpu[$row,poolimg]}" \
            "${res_size[$row,qemu-img]}" "${res_size[$row,poolimg]}"
    done
} | tee -a "$log"
say "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "log: $log" >&2
exit $status
