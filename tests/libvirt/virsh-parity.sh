#!/bin/bash
# poolctl beside virsh (issue 15): the same command lines, run by virsh against the private
# libvirtd's own storage driver and by poolctl against poold, print the same text and exit
# the same. The expected text is what virsh prints in the same run, never a copy. Both sides
# get pools of the same names in directories of the same length ($D/lv/..., $D/pd/...);
# paths are compared as /X/... and UUIDs as UUID.
. "$(dirname "$0")/libvirtd-fixture.sh"
start_poold
D=$E2E_DIR
mkdir -p "$D/lv" "$D/pd"

# run_both LINE: runs LINE (shell words; @DIR@ stands for the side's directory) with virsh
# and with poolctl. Outputs in $D/{v,p}.{out,err,rc}, normalised.
run_both() {
    local side dir line=$1
    for side in v p; do
        if [ $side = v ]; then dir=$D/lv; else dir=$D/pd; fi
        eval "set -- ${line//@DIR@/$dir}"
        if [ $side = v ]; then
            timeout 30 virsh -c "$LIBVIRT_URI" "$@" >"$D/v.out" 2>"$D/v.err" </dev/null
        else
            timeout 30 "$POOLCTL" -c "$SOCK" "$@" >"$D/p.out" 2>"$D/p.err" </dev/null
        fi
        echo $? >"$D/$side.rc"
        sed -i "s#$dir#/X#g; s/[0-9a-f]\{8\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{12\}/UUID/g; s/[0-9-]\{10\} [0-9:]\{8\}\.[0-9]\{3\}+0000/TIME/g" \
            "$D/$side.out" "$D/$side.err"
    done
}

# show: both sides' outputs as TAP comments (after a failure)
show() {
    local side
    for side in v p; do
        echo "# --- $([ $side = v ] && echo virsh || echo poolctl): rc $(cat "$D/$side.rc")"
        sed 's/^/#   out| /' "$D/$side.out"
        sed 's/^/#   err| /' "$D/$side.err"
    done
}

# same NAME LINE: stdout, stderr and the status are virsh's
same() {
    run_both "$2"
    if cmp -s "$D/v.out" "$D/p.out" && cmp -s "$D/v.err" "$D/p.err" &&
        cmp -s "$D/v.rc" "$D/p.rc"; then
        ok "$1"
    else
        not_ok "$1"
        show
    fi
}

# same_start NAME LINE: stdout and the status are virsh's; each of virsh's error lines starts
# poolctl's line at the same place (poold's hint may follow virsh's words)
same_start() {
    run_both "$2"
    local good=1 i=0 vline pline
    cmp -s "$D/v.out" "$D/p.out" && cmp -s "$D/v.rc" "$D/p.rc" || good=0
    [ "$(wc -l <"$D/v.err")" = "$(wc -l <"$D/p.err")" ] || good=0
    while IFS= read -r vline; do
        i=$((i + 1))
        pline=$(sed -n "${i}p" "$D/p.err")
        [ "${pline#"$vline"}" != "$pline" ] || good=0
    done <"$D/v.err"
    if [ $good = 1 ]; then ok "$1"; else not_ok "$1"; show; fi
}

# same_first NAME LINE: the status, stdout and the first error line are virsh's
same_first() {
    run_both "$2"
    if cmp -s "$D/v.out" "$D/p.out" && cmp -s "$D/v.rc" "$D/p.rc" &&
        [ "$(head -n 1 "$D/v.err")" = "$(head -n 1 "$D/p.err")" ]; then
        ok "$1"
    else
        not_ok "$1"
        show
    fi
}

# --- setup, the same on both sides
for line in "pool-define-as mypool dir --target @DIR@/mypool" "pool-build mypool" \
    "pool-start mypool" "vol-create-as mypool v1 1M" "vol-create-as mypool sp 2M --allocation 0" \
    "pool-define-as off dir --target @DIR@/off" "pool-build off"; do
    same "setup: $line" "$line"
done

# --- item 10: pool-name looks a pool up by its UUID only
same "pool-name of an unknown UUID" "pool-name 00000000-0000-0000-0000-000000000000"
same "pool-name of a name" "pool-name mypool"
same "pool-name of no UUID" "pool-name nosuch"

# --- item 11: virsh's first lines
same "vol-create-as: unknown unit" "vol-create-as mypool bad 12Q"
same "vol-create-as: negative size" "vol-create-as mypool bad -5G"
same "vol-create-as: not a number" "vol-create-as mypool bad abc"
same "vol-create-as: a fraction" "vol-create-as mypool bad 1.5G"
same "vol-create-as: too large" "vol-create-as mypool bad 99999999999999E"
same "vol-create-as: allocation" "vol-create-as mypool bad 1G --allocation 12Q"
same "vol-resize: unknown unit" "vol-resize v1 12Q --pool mypool"
same_first "vol-create-as: unknown format" "vol-create-as mypool bad 1G --format vmdkx"
same_first "vol-create-as: bad name" "vol-create-as mypool a/b 1G"
same_first "vol-create-as: exists" "vol-create-as mypool v1 1M"
same_start "vol-list of an inactive pool" "vol-list off"
same_start "vol-create-as in an inactive pool" "vol-create-as off x 1G"
same_start "pool-define-as of a pool that exists" "pool-define-as mypool dir --target @DIR@/mypool"
same_start "pool-create-as of a pool that exists" "pool-create-as mypool dir --target @DIR@/mypool"
same_start "pool-build of an active pool" "pool-build mypool"

# --- item 3: an active pool is not undefined (persistent or transient)
same_start "pool-undefine of an active persistent pool" "pool-undefine mypool"
same "a transient pool" "pool-create-as tr dir --target @DIR@/tr --build"
same_start "pool-undefine of an active transient pool" "pool-undefine tr"
same "the transient pool is still there" "pool-list --transient --name"
same "pool-destroy tr" "pool-destroy tr"

# --- item 4: no shrink below the allocation, even with --shrink (v1 is fully allocated)
same_start "vol-resize below the allocation" "vol-resize v1 512K --pool mypool"
same_start "vol-resize --shrink below the allocation" "vol-resize v1 512K --pool mypool --shrink"
same "v1 unchanged" "vol-info v1 --pool mypool --bytes"

# --- item 7: --overwrite formats a device, and a dir pool has none
same "a pool to build" "pool-define-as ow dir --target @DIR@/ow"
same_start "pool-build --overwrite of a dir pool" "pool-build ow --overwrite"
same "pool-undefine ow" "pool-undefine ow"

# --- item 2: Available is the filesystem's free space (f_bfree): Capacity = Allocation +
# Available, and the same figure as libvirt's for pools on the same filesystem
run_both "pool-info mypool --bytes"
sizes() { awk '/^Capacity:/ {c=$2} /^Allocation:/ {a=$2} /^Available:/ {v=$2} END {print c, a, v}' "$1"; }
read -r pc_cap pc_alloc pc_avail <<<"$(sizes "$D/p.out")"
read -r lv_cap lv_alloc lv_avail <<<"$(sizes "$D/v.out")"
check "pool-info: Capacity = Allocation + Available" "$pc_cap" "$((pc_alloc + pc_avail))"
drift=$(((pc_avail > lv_avail ? pc_avail - lv_avail : lv_avail - pc_avail) * 100 / lv_cap))
check "pool-info: Available as libvirt's (within 1% of the capacity)" 0 "$drift"

# --- item 12: a bad command line prints nothing on stdout
same "no argument" "pool-info"
same "unknown option" "pool-list --bogus"
same "unknown command" "nosuchcmd"
same "a missing option value" "vol-info v1 --pool"
run_ok "--json of an unknown pool prints nothing" test -z "$(pc --json pool-info nosuch 2>/dev/null)"
run_ok "--json of a bad line prints nothing" test -z "$(pc --json pool-info 2>/dev/null)"
for line in "pool-list --all" "pool-info mypool" "vol-list mypool" "pool-start off" \
    "pool-destroy off" "vol-create-as mypool j1 1M" "vol-delete j1 --pool mypool" \
    "pool-refresh mypool" "vol-resize sp 3M --pool mypool"; do
    # shellcheck disable=SC2086
    pc --json $line >"$D/json.out" 2>/dev/null
    if python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$D/json.out" 2>/dev/null; then
        ok "--json $line: one JSON document"
    else
        not_ok "--json $line: one JSON document"
        sed 's/^/#   /' "$D/json.out"
    fi
done

# --- item 13: --print-xml prints the arguments as given (no random UUID)
same "pool-define-as --print-xml" "pool-define-as p2 dir --target @DIR@/p2 --print-xml"
same "pool-create-as --print-xml" "pool-create-as p3 dir --target @DIR@/p3 --print-xml"
same "netfs --print-xml" "pool-define-as n1 netfs --source-host h.example --source-path /exp --target @DIR@/n1 --print-xml"
same "positional --print-xml" "pool-define-as n2 netfs h.example /exp - - @DIR@/n2 --print-xml"
same "iscsi --print-xml" "pool-create-as i1 iscsi --source-host h.example --source-dev iqn.2026-01.x:t --target /dev/disk/by-path --print-xml"
same "vol-create-as --print-xml" "vol-create-as mypool px 1G --print-xml"
same "vol-create-as --format --allocation --print-xml" "vol-create-as mypool px 1G --format qcow2 --allocation 0 --print-xml"
same "vol-create-as --backing-vol --print-xml" "vol-create-as mypool q 1G --format qcow2 --backing-vol sp --backing-vol-format raw --print-xml"
a=$(pc pool-define-as p2 dir --target "$D/pd/p2" --print-xml)
b=$(pc pool-define-as p2 dir --target "$D/pd/p2" --print-xml)
check "--print-xml twice: the same text" "$a" "$b"

# --- item 14: "--" ends the options
same "-- then a negative size, without --shrink" "vol-resize sp --pool mypool -- -1M"
same "-- then a negative size" "vol-resize sp --pool mypool --shrink -- -1M"
same "--delta" "vol-resize sp 1M --pool mypool --delta"

# --- item 15: -q, help
same "-q pool-list" "-q pool-list"
same "-q vol-list" "-q vol-list mypool"
same "-q vol-create-as" "-q vol-create-as mypool q1 1M"
same "-q vol-delete" "-q vol-delete q1 --pool mypool"
same "-q pool-start" "-q pool-start off"
same "-q pool-destroy" "-q pool-destroy off"
same "-q pool-info" "-q pool-info off"
same "help nosuchcmd" "help nosuchcmd"
# help CMD: virsh's layout; the DESCRIPTION is in poolctl's words
run_both "help pool-info"
sed -i '/^  DESCRIPTION$/{n;s/.*/    TEXT/}' "$D/v.out" "$D/p.out"
cmp -s "$D/v.out" "$D/p.out" && ok "help pool-info: virsh's layout" || { not_ok "help pool-info"; show; }
# the SYNOPSIS of the *-as commands: virsh's options in virsh's order (poold's own options may
# follow), and each of virsh's option lines (name and type) in OPTIONS
for cmd in vol-create-as pool-define-as pool-create-as vol-resize vol-info vol-list pool-list; do
    run_both "help $cmd"
    vsyn=$(sed -n '/SYNOPSIS/{n;p}' "$D/v.out" | tr -s ' ' '\n' | grep -v '^$')
    psyn=$(sed -n '/SYNOPSIS/{n;p}' "$D/p.out" | tr -s ' ' '\n' | grep -v '^$')
    missing=$(python3 - "$vsyn" "$psyn" <<'PY'
import sys
v, p = sys.argv[1].split("\n"), sys.argv[2].split("\n")
# virsh's words must appear in poolctl's synopsis in the same order
i = 0
for w in p:
    if i < len(v) and w == v[i]:
        i += 1
print(" ".join(v[i:]))
PY
)
    check "help $cmd: virsh's synopsis in order" "" "$missing"
    vopts=$(sed -n '/OPTIONS/,$p' "$D/v.out" | awk 'NR > 1 && NF {print $1, $2}' | grep -- '--' | sed 's/ [a-z].*//')
    bad=
    while IFS= read -r o; do
        [ -n "$o" ] || continue
        grep -qF -- "    $o" "$D/p.out" || bad="$bad [$o]"
    done <<<"$vopts"
    check "help $cmd: virsh's option lines" "" "$bad"
    grep -q '^  DESCRIPTION$' "$D/p.out" && ok "help $cmd: DESCRIPTION" || not_ok "help $cmd: DESCRIPTION"
done
for group in pool volume; do
    run_both "help $group"
    check "help $group: virsh's heading" "$(head -n 1 "$D/v.out")" "$(head -n 1 "$D/p.out")"
    # poolctl's commands of the group are virsh's, but for poolctl's vol-snapshot-*
    notvirsh=
    for c in $(awk 'NR > 1 && NF {print $1}' "$D/p.out" | grep -v '^vol-snapshot-'); do
        awk 'NR > 1 {print $1}' "$D/v.out" | grep -qx -- "$c" || notvirsh="$notvirsh $c"
    done
    check "help $group: virsh's commands" "" "$notvirsh"
done

# --- item 16: events
same "pool-event --list" "pool-event --list"
same "pool-event without --event" "pool-event --timeout 1"
same "pool-event of an unknown type" "pool-event --event bogus --timeout 1"
same "pool-event times out" "pool-event --event lifecycle --timeout 1"
same "pool-event --pool --timestamp times out" "pool-event --event refresh --pool mypool --timeout 1 --timestamp"
run_ok "event --timeout ends with virsh's words" sh -c \
    "'$POOLCTL' -c '$SOCK' event --timeout 1 | grep -qx 'event loop timed out'"
# lifecycle and refresh events as they come, both sides the same sequence
for kind in lifecycle refresh; do
    virsh -c "$LIBVIRT_URI" pool-event --event $kind --loop --timeout 6 >"$D/ev.v" 2>&1 </dev/null &
    vpid=$!
    pc pool-event --event $kind --loop --timeout 6 >"$D/ev.p" 2>&1 </dev/null &
    ppid=$!
    sleep 1
    for line in "pool-define-as e1 dir --target @DIR@/e1" "pool-build e1" "pool-start e1" \
        "pool-refresh e1" "pool-destroy e1" "pool-delete e1" "pool-undefine e1"; do
        run_both "$line"
    done
    wait $vpid $ppid
    check "pool-event --event $kind --loop: virsh's lines" "$(cat "$D/ev.v")" "$(cat "$D/ev.p")"
done

# --- item 19: the shell's own commands, and several commands in one argument
same "echo" "echo hello 'a b' '<x>'"
same "echo --shell" "echo --shell hello 'a b'"
same "echo --xml" "echo --xml '<x>'"
same "pwd" "pwd"
same "two commands in one argument" "'pool-list --all ; vol-list mypool'"
run_ok "cd in the shell" sh -c "printf 'cd /tmp\npwd\n' | '$POOLCTL' -c '$SOCK' | grep -qx /tmp"

# --- item 20: the first line names the pool type
same_first "find-storage-pool-sources-as netfs of a host without NFS" \
    "find-storage-pool-sources-as netfs 127.0.0.1"
grep -q "no NFS server answers at '127.0.0.1'" "$D/p.err" && ok "find-sources: no NFS server answers" ||
    { not_ok "find-sources: no NFS server answers"; show; }

lv_finish
